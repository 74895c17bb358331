// The benchmark report's section on aggregation on write: PutRecords entries, bytes and PUT
// payload units per 10,000 small output records, off against on (and on without a shard map),
// then the run with aggregation repeated on the Kinesis emulator and read back.
import { startKinesisEmulator } from "../../demo/kinesis-emulator.ts";
import { markdownTable } from "./report.ts";
import { sinkAggregationRun, type SinkAggregationRun } from "./sink-aggregation.ts";

const records = 10_000;
const shards = 4;
const aggregation = { maxBytes: 51_200, maxRecords: 1_000 };

export async function sinkAggregationSection(say: (line: string) => void): Promise<string> {
  say(`sink aggregation: ${records} records of 100 bytes to a ${shards}-shard stream, off and on`);
  const off = await sinkAggregationRun("off", { records, shards });
  const on = await sinkAggregationRun("on", { records, shards, aggregation });
  const refused = await sinkAggregationRun("on, ListShards refused", {
    records,
    shards,
    aggregation,
    refuseListShards: true,
  });
  say("sink aggregation: the run with aggregation again, on the Kinesis emulator, read back");
  const emulator = await startKinesisEmulator();
  const onEmulator = await sinkAggregationRun("on, Kinesis emulator", {
    records,
    shards,
    aggregation,
    emulator,
  }).finally(() => emulator.stop());
  const runs: SinkAggregationRun[] = [off, on, refused, onEmulator];
  const per10k = (value: number, run: SinkAggregationRun): string =>
    ((value * 10_000) / run.records).toLocaleString("en", { maximumFractionDigits: 1 });
  const rows = runs.map((run) => [
    run.mode,
    per10k(run.calls, run),
    per10k(run.entries, run),
    per10k(run.bytes, run),
    per10k(run.putUnits, run),
    (off.putUnits / run.putUnits).toFixed(1),
  ]);
  const saving = off.putUnits / onEmulator.putUnits;
  const entrySaving = off.entries / onEmulator.entries;
  return (
    `## Sink aggregation (${records.toLocaleString("en")} output records of 100 bytes, each its own partition key, ${shards}-shard sink stream)\n\n` +
    markdownTable(
      [
        "aggregation",
        "PutRecords calls",
        "entries",
        "bytes (data + keys)",
        "PUT payload units (25 KiB, per entry)",
        "units saved (x)",
      ],
      rows,
    ) +
    `\n\nPer 10,000 output records, counted on the PutRecords calls of the sink batcher (maxBytes ${aggregation.maxBytes}, maxRecords ${aggregation.maxRecords}, lingerMs 50, 4 calls in flight): the first three rows against an in-process stream that places entries as Kinesis does, the last on the Kinesis emulator, where all ${onEmulator.readBack ?? 0} records were read back, de-aggregated, each with its own partition key. Aggregation cuts entries ${entrySaving.toFixed(1)}x and PUT payload units ${saving.toFixed(1)}x, ${saving >= 10 ? "PASS (target ≥ 10x)" : "BELOW TARGET (10x)"}; the aggregate envelopes and key tables add ${(((onEmulator.bytes - off.bytes) / off.bytes) * 100).toFixed(1)}% bytes. Without a shard map (ListShards refused) records are packed per hash key, which saves nothing when every record has its own key.`
  );
}
