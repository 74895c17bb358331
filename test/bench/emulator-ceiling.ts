// The Kinesis emulator's own ceiling: a bare PutRecords loop, with the sink's batch sizes and
// calls in flight, into a stream like the benchmark's sink. An end-to-end figure above the
// Little's-law bound's reach may be the emulator's limit, not the processor's.
import { PutRecordsCommand } from "@aws-sdk/client-kinesis";
import type { KinesisEmulator } from "../../demo/kinesis-emulator.ts";

let runs = 0;

export async function emulatorPutCeiling(
  emulator: KinesisEmulator,
  batchRecords: number,
  inFlight: number,
  windowMs: number,
  warmupMs: number,
): Promise<number> {
  runs++;
  const stream = `ceiling-${runs}`;
  await emulator.createStream(stream, 4);
  // Outputs of the demo endpoint's size, each with its own partition key, as the sink writes.
  const data = Buffer.from(
    JSON.stringify({ id: 1, customer: "c-1", score: 0.123456, enrichedBy: "demo-endpoint" }),
  );
  const measureFrom = performance.now() + warmupMs;
  const stopAt = measureFrom + windowMs;
  // Every call that ends after the warm-up counts, including the last ones running past the
  // window, over the time to the last end: with calls of seconds each, a window alone would
  // leave out whole calls.
  let written = 0;
  let lastEnd = measureFrom;
  let sequence = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < stopAt) {
      const response = await emulator.client.send(
        new PutRecordsCommand({
          StreamName: stream,
          Records: Array.from({ length: batchRecords }, () => ({
            Data: data,
            PartitionKey: `k-${sequence++}`,
          })),
        }),
      );
      const at = performance.now();
      if (at >= measureFrom) {
        written += batchRecords - (response.FailedRecordCount ?? 0);
        lastEnd = Math.max(lastEnd, at);
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return written / ((lastEnd - measureFrom) / 1000);
}
