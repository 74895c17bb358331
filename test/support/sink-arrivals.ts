// Which of the numbered records ({ id }) reached the sink or the dead-letter stream, and how many
// arrived more than once: "lost" and "duplicates" as docs/reliability.md counts them.
import { readAllRecords } from "../../demo/stream-tools.ts";
import type { KinesisEmulator } from "../../demo/kinesis-emulator.ts";
import type { Streams } from "./test-bed.ts";
import { waitFor } from "./wait-for.ts";

const idOf = (data: Uint8Array): number =>
  (JSON.parse(Buffer.from(data).toString()) as { id: number }).id;

export async function outputIds(emulator: KinesisEmulator, streams: Streams): Promise<number[]> {
  const records = [
    ...(await readAllRecords(emulator.client, streams.sink)),
    ...(await readAllRecords(emulator.client, streams.deadLetter)),
  ];
  return records.map((record) => idOf(record.data));
}

/** Waits until every record below `upTo` is in the sink or dead letter; counts duplicates. */
export async function waitForArrivals(
  emulator: KinesisEmulator,
  streams: Streams,
  upTo: number,
  timeoutMs = 90_000,
): Promise<{ duplicates: number }> {
  return waitFor(
    async () => {
      const ids = await outputIds(emulator, streams);
      const distinct = new Set(ids);
      const missing = Array.from({ length: upTo }, (_, id) => id).filter((id) => !distinct.has(id));
      return {
        missing: missing.length,
        firstMissing: missing.slice(0, 5),
        duplicates: ids.length - distinct.size,
      };
    },
    (found) => found.missing === 0,
    { timeoutMs, what: `all of the first ${String(upTo)} records in the sink`, intervalMs: 1_000 },
  );
}
