// `npm run bench`: the performance model of docs/benchmarks.md, measured side by side in one run
// (these machines are shared and noisy, so every figure is a ratio of two measured in the same run).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startKinesisEmulator } from "../../demo/kinesis-emulator.ts";
import { bareUndiciRate } from "./bare-undici.ts";
import { startEndpointProcess } from "./endpoint-process.ts";
import { inMemoryPipelineRate } from "./in-memory-pipeline.ts";
import { processorSteadyRate } from "./littles-law.ts";
import { drainBacklog } from "./memory.ts";
import { littlesLawSvg, markdownTable, type CurvePoint } from "./report.ts";
import { sinkAggregationSection } from "./sink-aggregation-section.ts";
import { adaptiveConcurrencySection } from "./adaptive-concurrency-section.ts";
import { httpVersionSection } from "./http-version-section.ts";

const { values } = parseArgs({
  options: {
    "window-ms": { type: "string", default: "5000" },
    backlog: { type: "string", default: "200000" },
    "skip-memory": { type: "boolean", default: false },
    only: { type: "string" },
  },
});
const docs = join(import.meta.dirname, "../../docs");

// `--only sink-aggregation` (a few seconds), `--only adaptive-concurrency` (about 30 s) or
// `--only http-version` (about a minute): that
// section of docs/benchmarks.md is replaced in place.
const onlySections: Record<string, (say: (line: string) => void) => Promise<string>> = {
  "sink-aggregation": sinkAggregationSection,
  "adaptive-concurrency": adaptiveConcurrencySection,
  "http-version": httpVersionSection,
};
if (values.only !== undefined) {
  const only = onlySections[values.only];
  if (only === undefined) {
    throw new Error(`--only takes: ${Object.keys(onlySections).join(", ")}`);
  }
  const section = await only((line) => process.stderr.write(`${line}\n`));
  const file = join(docs, "benchmarks.md");
  const report = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  const heading = section.slice(0, section.indexOf("\n"));
  const start = report.indexOf(heading);
  const end = start < 0 ? -1 : report.indexOf("\n## ", start + heading.length);
  const updated =
    start < 0
      ? `${report.trimEnd()}\n\n${section}\n`
      : `${report.slice(0, start)}${section}\n${end < 0 ? "" : report.slice(end)}`;
  writeFileSync(file, updated);
  process.stdout.write(`${section}\n\nwritten to docs/benchmarks.md\n`);
  process.exit(0);
}

const windowMs = Number(values["window-ms"]);
const warmupMs = 1_500;
const latencyMs = 50;
const capacities = [1, 10, 50, 100];
const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
const verdict = (ratio: number, target: number): string =>
  ratio >= target ? `PASS (target ≥ ${target})` : `BELOW TARGET (${target})`;
/** The processor's heap in the memory runs: what a pod with a 256 MiB memory limit would allow. */
const processorHeap = "--max-semi-space-size=4 --max-old-space-size=128";
const body = Buffer.from(JSON.stringify({ id: 1, customer: "c-1" }));
const sections: string[] = [];
/** Keeps a finished section, and shows it at once: a long run stopped midway still tells something. */
const addSection = (section: string): void => {
  sections.push(section);
  say(`\n${section}\n`);
};

say("starting the endpoints (the Kinesis emulator starts fresh for each run)");
const slow = await startEndpointProcess(latencyMs);
const fast = await startEndpointProcess(0);
try {
  // 1. Little's-law efficiency, and the processor against a bare undici loop, per capacity.
  const points: CurvePoint[] = [];
  const rows: string[][] = [];
  for (const capacity of capacities) {
    say(
      `capacity ${capacity}: processor over the emulator, then a bare undici loop (${windowMs} ms windows)`,
    );
    // A fresh emulator per run: kinesis-local slows down as it holds more records, which would
    // otherwise weigh on the later (higher capacity) runs.
    const runEmulator = await startKinesisEmulator();
    const processor = await processorSteadyRate(
      runEmulator,
      `${slow.url}/enrich`,
      capacity,
      latencyMs,
      windowMs,
      warmupMs,
    ).finally(() => runEmulator.stop());
    const bare = await bareUndiciRate(`${slow.url}/enrich`, capacity, body, windowMs, warmupMs);
    const bound = capacity / (processor.meanLatencyMs / 1000);
    points.push({
      capacity,
      measured: processor.perSecond,
      bound: capacity / (latencyMs / 1000),
      bare,
    });
    rows.push([
      String(capacity),
      processor.perSecond.toFixed(1),
      processor.meanLatencyMs.toFixed(2),
      bound.toFixed(1),
      (processor.perSecond / bound).toFixed(3),
      bare.toFixed(1),
      (processor.perSecond / bare).toFixed(3),
    ]);
    say(
      `  processor ${processor.perSecond.toFixed(1)}/s (bound ${bound.toFixed(1)}), bare undici ${bare.toFixed(1)}/s`,
    );
  }
  const minLittle = Math.min(...rows.map((row) => Number(row[4])));
  const minBare = Math.min(...rows.map((row) => Number(row[6])));
  addSection(
    `## Little's-law efficiency (endpoint latency ${latencyMs} ms, unordered)\n\n` +
      markdownTable(
        [
          "capacity",
          "processor records/s",
          "mean request ms",
          "bound = capacity / mean latency",
          "efficiency",
          "bare undici records/s",
          "processor / bare",
        ],
        rows,
      ) +
      `\n\nLowest efficiency: ${minLittle.toFixed(3)}, ${verdict(minLittle, 0.95)}. Lowest processor / bare undici: ${minBare.toFixed(3)}, ${verdict(minBare, 0.95)}.\n\n![records/s against capacity](littles-law.svg)`,
  );

  // 2. Sync against async.
  const rate = (capacity: number): number =>
    points.find((point) => point.capacity === capacity)?.measured ?? Number.NaN;
  const speedUp = rate(10) / rate(1);
  addSection(
    `## Sync against async\n\nCapacity 1 (the AWS sample's synchronous Map): ${rate(1).toFixed(1)} records/s. Capacity 10: ${rate(10).toFixed(1)} records/s. Speed-up ${speedUp.toFixed(2)}x, ${verdict(speedUp, 9)}.`,
  );

  // 3. Engine overhead with a zero-latency endpoint, in-memory source and sink.
  const concurrency = 32;
  const overheadRows: string[][] = [];
  for (let round = 1; round <= 3; round++) {
    say(
      `engine overhead, round ${round}/3: bare undici, then the in-memory pipeline, concurrency ${concurrency}`,
    );
    const bare = await bareUndiciRate(`${fast.url}/enrich`, concurrency, body, 3_000, 500);
    const pipeline = await inMemoryPipelineRate(
      `${fast.url}/enrich`,
      concurrency,
      body,
      3_000,
      500,
    );
    overheadRows.push([
      String(round),
      bare.toFixed(0),
      pipeline.toFixed(0),
      (pipeline / bare).toFixed(3),
    ]);
  }
  const overhead = overheadRows.map((row) => Number(row[3])).sort((a, b) => a - b)[1] ?? Number.NaN;
  addSection(
    `## Engine overhead (zero-latency loopback endpoint, in-memory source and sink, concurrency ${concurrency})\n\n` +
      markdownTable(
        ["round", "bare undici records/s", "processor loop records/s", "ratio"],
        overheadRows,
      ) +
      `\n\nMedian ratio ${overhead.toFixed(3)}, ${verdict(overhead, 0.8)}. The endpoint runs in a process of its own; it and the client share the machine's two cores.`,
  );

  // 4. What aggregation on write saves in PutRecords entries and payload units.
  addSection(await sinkAggregationSection(say));

  // 5. Adaptive concurrency against an endpoint that queues past 40 requests.
  addSection(await adaptiveConcurrencySection(say));

  // 5b. HTTP/1.1 against HTTP/2 to a TLS endpoint at capacity 1,000.
  addSection(await httpVersionSection(say));

  // 6. Memory while draining a backlog.
  if (!values["skip-memory"]) {
    const backlog = Number(values.backlog);
    const memoryRows: string[][] = [];
    for (const records of [backlog / 10, backlog]) {
      say(
        `draining a backlog of ${records} records at capacity 100 (a processor process of its own)`,
      );
      // A fresh emulator per backlog: it slows down as it holds more records.
      const drainEmulator = await startKinesisEmulator();
      const result = await drainBacklog(
        drainEmulator,
        `${fast.url}/enrich`,
        records,
        100,
        processorHeap,
        say,
      ).finally(() => drainEmulator.stop());
      memoryRows.push([
        String(records),
        result.seconds.toFixed(1),
        (records / result.seconds).toFixed(0),
        (result.maxRssBytes / 2 ** 20).toFixed(1),
      ]);
    }
    const peak = Number(memoryRows.at(-1)?.[3]);
    addSection(
      `## Memory while draining a backlog (capacity 100)\n\n` +
        markdownTable(["backlog records", "seconds", "records/s", "peak RSS MiB"], memoryRows) +
        `\n\nSource stream of 20 shards, maxRecordsPerFetch 500: readers hold at most 10,000 records. Peak RSS at ${backlog} records: ${peak.toFixed(1)} MiB, ${peak < 200 ? "PASS (target < 200 MiB)" : "ABOVE TARGET (200 MiB)"}. The processor runs with NODE_OPTIONS=${processorHeap}, a heap sized for a pod with a 256 MiB limit (this host has none; with Node's defaults on its 24 GB the heap grows lazily: see the Memory section of docs/processor.md).`,
    );
  }

  mkdirSync(docs, { recursive: true });
  const report = `# Benchmarks\n\nWritten by \`npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}\` on ${new Date().toISOString().slice(0, 10)} (${process.platform}, ${process.arch}, Node ${process.version}, 2 shared cores). Figures are ratios of quantities measured side by side in the same run.\n\n${sections.join("\n\n")}\n`;
  writeFileSync(join(docs, "benchmarks.md"), report);
  writeFileSync(join(docs, "littles-law.svg"), littlesLawSvg(points, latencyMs));
  process.stdout.write(`${report}\nwritten to docs/benchmarks.md and docs/littles-law.svg\n`);
} finally {
  await slow.stop();
  await fast.stop();
}
