// The benchmark report's section on memory: a processor pod's peak RSS while it drains a backlog
// against a 50 ms endpoint, per capacity, run as the image runs it (compiled JavaScript, the heap
// flags the operator gives a pod with a 256 MiB memory limit); its memory while it holds 4 shards
// that carry no traffic; and what the young generation's size trades between memory and CPU.
import { loadavg } from "node:os";
import { startKinesisEmulator } from "../../demo/kinesis-emulator.ts";
import { heapFlags } from "../../operator/reconcile/heap-size.ts";
import { runInChildProcess, type ClientWindow } from "./client-process.ts";
import { compileProcessor } from "./compiled-processor.ts";
import { startEndpointProcess } from "./endpoint-process.ts";
import {
  drainBacklog,
  idleMemory,
  maxRecordsPerFetch,
  sourceShards,
  type MemoryBreakdown,
} from "./memory.ts";
import { markdownTable } from "./report.ts";

const memoryLimit = "256Mi";
const latencyMs = 50;
const capacities = [100, 1_000];
const idleShards = 4;
const targetMiB = 200;
const tradeRounds = 3;
const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
const median = (values: readonly number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

const breakdownRow = (label: string, memory: MemoryBreakdown): string[] => [
  label,
  mib(memory.rssBytes),
  mib(memory.heapTotalBytes),
  mib(memory.heapUsedBytes),
  mib(memory.newSpaceBytes),
  mib(memory.externalBytes),
];

/** The in-memory pipeline at capacity 1,000 with the pod's heap flags and other semi-spaces. */
async function youngGenerationTrade(
  say: (line: string) => void,
  url: string,
  podFlags: readonly string[],
): Promise<string> {
  const oldSpace = podFlags.filter((flag) => !flag.startsWith("--max-semi-space-size"));
  const semiSpace = (mib: number | undefined): string[] =>
    mib === undefined ? oldSpace : [...oldSpace, `--max-semi-space-size=${String(mib)}`];
  const variants = [
    // What V8 chose itself in the test cluster's 256Mi pod (test/e2e/memory-limit.test.ts).
    { label: "1 MiB (V8's own in a 256Mi pod)", flags: semiSpace(1) },
    { label: "4 MiB", flags: semiSpace(4) },
    { label: "the pod's", flags: podFlags },
    { label: "16 MiB", flags: semiSpace(16) },
    { label: "V8's own on this host", flags: semiSpace(undefined) },
  ];
  const runs = variants.map((): ClientWindow[] => []);
  for (let round = 0; round < tradeRounds; round++) {
    // Each round starts with another setting, as the per-record section does with its sides.
    for (let turn = 0; turn < variants.length; turn++) {
      const index = (turn + round) % variants.length;
      const variant = variants[index];
      if (variant === undefined) continue;
      say(`memory: young generation trade, round ${round + 1}/${tradeRounds}: ${variant.label}`);
      runs[index]?.push(
        await runInChildProcess({
          side: "pipeline",
          url,
          capacity: 1_000,
          body: JSON.stringify({ id: 1, customer: "c-1" }),
          warmupMs: 2_000,
          durationMs: 4_000,
          nodeFlags: variant.flags,
        }),
      );
    }
  }
  return markdownTable(
    ["semi-space", "node flags", "records/s", "CPU µs per record", "peak RSS MiB"],
    variants.map((variant, index) => {
      const windows = runs[index] ?? [];
      return [
        variant.label,
        variant.flags.join(" "),
        median(windows.map((window) => window.perSecond)).toFixed(0),
        median(windows.map((window) => window.cpuMicrosPerRecord)).toFixed(1),
        mib(median(windows.map((window) => window.maxRssBytes))),
      ];
    }),
  );
}

export async function memorySection(say: (line: string) => void, backlog: number): Promise<string> {
  const podFlags = heapFlags({ limits: { memory: memoryLimit } });
  const nodeOptions = podFlags.join(" ");
  const script = compileProcessor();
  const endpoint = await startEndpointProcess(latencyMs);
  const url = `${endpoint.url}/enrich`;
  const load = [loadavg()[0] ?? 0];
  try {
    const rows: string[][] = [];
    const breakdown: string[][] = [];
    let peak = Number.NaN;
    for (const capacity of capacities) {
      say(`memory: draining ${backlog} records at capacity ${capacity}, ${latencyMs} ms endpoint`);
      // A fresh emulator per run: it slows down as it holds more records.
      const emulator = await startKinesisEmulator();
      const drained = await drainBacklog(
        script,
        emulator,
        url,
        backlog,
        capacity,
        nodeOptions,
        say,
      ).finally(() => emulator.stop());
      peak = drained.maxRssBytes / 2 ** 20;
      rows.push([
        String(capacity),
        String(backlog),
        drained.seconds.toFixed(1),
        (backlog / drained.seconds).toFixed(0),
        mib(drained.maxRssBytes),
        peak < targetMiB ? "PASS" : "ABOVE TARGET",
      ]);
      breakdown.push(
        breakdownRow(`draining at capacity ${capacity}, at its highest`, drained.atPeak),
      );
    }
    say(`memory: a processor holding ${idleShards} shards with no traffic`);
    const emulator = await startKinesisEmulator();
    const idle = await idleMemory(script, emulator, url, idleShards, nodeOptions, 10_000).finally(
      () => emulator.stop(),
    );
    breakdown.unshift(breakdownRow(`idle, holding ${idleShards} shards`, idle));
    const trade = await youngGenerationTrade(say, url, podFlags);
    load.push(loadavg()[0] ?? 0);
    return (
      `## Memory (a pod with a ${memoryLimit} limit, endpoint ${latencyMs} ms)\n\n` +
      markdownTable(
        [
          "capacity",
          "backlog records",
          "seconds",
          "records/s",
          "peak RSS MiB",
          `< ${targetMiB} MiB`,
        ],
        rows,
      ) +
      `\n\nThe processor runs as the image runs it: processor/main.js compiled by tsc with the image's tsconfig.build.json (test/bench/compiled-processor.ts), a process of its own, with NODE_OPTIONS=${nodeOptions}, the heap flags the operator gives a pod with a ${memoryLimit} memory limit (operator/reconcile/heap-size.ts). Source stream of ${sourceShards} shards, maxRecordsPerFetch ${maxRecordsPerFetch}: readers hold at most ${sourceShards * maxRecordsPerFetch} records; records/s is the Kinesis emulator's, not the processor's. Peak RSS (the processor's own maxRSS) at capacity ${capacities.at(-1)}: ${peak.toFixed(1)} MiB, ${peak < targetMiB ? "PASS" : "ABOVE TARGET"} (target < ${targetMiB} MiB).\n\n` +
      `Where the memory is, from the processor's /metrics (idle: ${idleShards} empty shards, capacity 100, 10 s after every shard answered its first GetRecords; draining: the sample, every 250 ms, with the highest RSS):\n\n` +
      markdownTable(
        [
          "processor",
          "RSS MiB",
          "heap total MiB",
          "heap used MiB",
          "young generation (both semi-spaces) MiB",
          "external (Buffers) MiB",
        ],
        breakdown,
      ) +
      `\n\nIdle: a processor holding ${idleShards} shards with no traffic has an RSS of ${mib(idle.rssBytes)} MiB.\n\n` +
      `### The young generation: memory against CPU\n\n` +
      `The in-memory pipeline of the per-record section (test/bench/in-memory-pipeline.ts, from its .ts sources) at capacity 1,000 against the same ${latencyMs} ms endpoint, each heap setting in a process of its own, interleaved, medians of ${tradeRounds} rounds (2,000 ms warm-up, 4,000 ms window; peak RSS over the whole run). A smaller young generation means more scavenges, each copying the records in flight; records/s is bounded by this machine's shared CPU, not by the endpoint (Little's bound 20,000/s):\n\n` +
      trade +
      `\n\nLoad average (1 min) ${load.map((value) => value.toFixed(1)).join(" at the start, ")} at the end.`
    );
  } finally {
    await endpoint.stop();
  }
}
