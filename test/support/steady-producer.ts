// Writes a steady stream of numbered JSON records ({ id, key }, ids from 0) to a Kinesis stream,
// a batch every 250 ms, so tests can say which records must have arrived by when.
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import { produceRecords } from "../../demo/stream-tools.ts";

export interface SteadyProducer {
  /** Records written so far: ids 0 to produced - 1. */
  readonly produced: number;
  stop(): Promise<void>;
}

export function startSteadyProducer(
  client: KinesisClient,
  stream: string,
  options: { perSecond: number; keys: number },
): SteadyProducer {
  const batch = Math.max(1, Math.round(options.perSecond / 4));
  let produced = 0;
  const state = { running: true };
  const loop = (async () => {
    while (state.running) {
      const from = produced;
      await produceRecords(
        client,
        stream,
        Array.from({ length: batch }, (_, index) => {
          const key = `k${String((from + index) % options.keys)}`;
          return {
            data: Buffer.from(JSON.stringify({ id: from + index, key })),
            partitionKey: key,
          };
        }),
      );
      produced += batch;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  return {
    get produced() {
      return produced;
    },
    async stop() {
      state.running = false;
      await loop;
    },
  };
}
