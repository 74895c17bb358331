// The benchmark report's section on Little's law end to end: the processor over the Kinesis
// emulator at each capacity against a 50 ms endpoint, as a share of the lower of its Little's-law
// bound and the emulator's own PutRecords ceiling (measured in the same run), with the in-memory
// pipeline and a bare undici loop at the same capacity beside it; and sync against async.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startKinesisEmulator } from "../../demo/kinesis-emulator.ts";
import { bareUndiciRate } from "./bare-undici.ts";
import { runInChildProcess } from "./client-process.ts";
import { emulatorPutCeiling } from "./emulator-ceiling.ts";
import { startEndpointProcess } from "./endpoint-process.ts";
import { processorSteadyRate } from "./littles-law.ts";
import { littlesLawSvg, markdownTable, type CurvePoint } from "./report.ts";

const latencyMs = 50;
const capacities = [1, 10, 50, 100];
/** The sink's defaults: 500 records per PutRecords call at most, 4 calls in flight (unordered). */
const sinkBatches = [50, 500];
const sinkCallsInFlight = 4;
const body = JSON.stringify({ id: 1, customer: "c-1" });

const verdict = (ratio: number, target: number): string =>
  ratio >= target ? `PASS (target ≥ ${target})` : `BELOW TARGET (${target})`;

export async function littlesLawSection(
  say: (line: string) => void,
  windowMs: number,
  warmupMs: number,
  /** Where the SVG of records/s against capacity goes. */
  docs: string,
): Promise<string> {
  const endpoint = await startEndpointProcess(latencyMs);
  const url = `${endpoint.url}/enrich`;
  try {
    say(`emulator ceiling: bare PutRecords loops, ${sinkCallsInFlight} calls in flight`);
    const ceilingEmulator = await startKinesisEmulator();
    const ceilings: number[] = [];
    try {
      for (const batch of sinkBatches) {
        ceilings.push(
          await emulatorPutCeiling(ceilingEmulator, batch, sinkCallsInFlight, windowMs, warmupMs),
        );
      }
    } finally {
      await ceilingEmulator.stop();
    }
    // The better of the batch sizes: the most the emulator can take, so the processor's share
    // of it is not flattered.
    const ceiling = Math.max(...ceilings);
    const points: CurvePoint[] = [];
    const rows: string[][] = [];
    const shares: number[] = [];
    for (const capacity of capacities) {
      say(`capacity ${capacity}: processor over the emulator, the in-memory pipeline, bare undici`);
      // A fresh emulator per run: kinesis-local slows down as it holds more records, which would
      // otherwise weigh on the later (higher capacity) runs.
      const emulator = await startKinesisEmulator();
      const processor = await processorSteadyRate(
        emulator,
        url,
        capacity,
        latencyMs,
        windowMs,
        warmupMs,
      ).finally(() => emulator.stop());
      const inMemory = await runInChildProcess({
        side: "pipeline",
        url,
        capacity,
        body,
        warmupMs,
        durationMs: windowMs,
      });
      const bare = await bareUndiciRate(url, capacity, Buffer.from(body), windowMs, warmupMs);
      const bound = capacity / (processor.meanLatencyMs / 1000);
      const reachable = Math.min(bound, ceiling);
      shares.push(processor.perSecond / reachable);
      points.push({ capacity, measured: processor.perSecond, bound: capacity / 0.05, bare });
      rows.push([
        String(capacity),
        processor.perSecond.toFixed(1),
        processor.meanLatencyMs.toFixed(2),
        bound.toFixed(1),
        `${(processor.perSecond / reachable).toFixed(3)} of ${bound < ceiling ? "bound" : "ceiling"}`,
        inMemory.perSecond.toFixed(1),
        (inMemory.perSecond / (capacity / (latencyMs / 1000))).toFixed(3),
        bare.toFixed(1),
      ]);
    }
    writeFileSync(join(docs, "littles-law.svg"), littlesLawSvg(points, latencyMs));
    const lowest = Math.min(...shares);
    const rate = (capacity: number): number =>
      points.find((point) => point.capacity === capacity)?.measured ?? Number.NaN;
    const speedUp = rate(10) / rate(1);
    return (
      `## Little's law end to end (endpoint latency ${latencyMs} ms, unordered)\n\n` +
      `The Kinesis emulator's own ceiling, measured first in this run (bare PutRecords loops into a 4-shard stream, ${sinkCallsInFlight} calls in flight as the sink has): ${sinkBatches.map((batch, index) => `${(ceilings[index] ?? Number.NaN).toFixed(0)} records/s in batches of ${batch}`).join(", ")}; the ceiling is the higher, ${ceiling.toFixed(0)} records/s. End to end the emulator also serves the processor's GetRecords, so the ceiling is generous to it.\n\n` +
      markdownTable(
        [
          "capacity",
          "processor records/s (emulator to emulator)",
          "mean request ms",
          "Little's bound = capacity / mean latency",
          "processor / min(bound, emulator ceiling)",
          "in-memory pipeline records/s",
          `in-memory / (capacity / ${latencyMs} ms)`,
          "bare undici records/s",
        ],
        rows,
      ) +
      `\n\nLowest share of min(bound, ceiling): ${lowest.toFixed(3)}, ${verdict(lowest, 0.95)}. The in-memory pipeline (test/bench/in-memory-pipeline.ts, a child process) and the bare undici loop (pool.request) run against the same endpoint at the same capacity, in windows of ${windowMs} ms after ${warmupMs} ms.\n\n![records/s against capacity](littles-law.svg)\n\n` +
      `### Sync against async\n\nCapacity 1 (the AWS sample's synchronous Map): ${rate(1).toFixed(1)} records/s. Capacity 10: ${rate(10).toFixed(1)} records/s. Speed-up ${speedUp.toFixed(2)}x, ${verdict(speedUp, 9)}.`
    );
  } finally {
    await endpoint.stop();
  }
}
