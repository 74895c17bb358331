// The benchmark report's section on memory: a processor pod's peak RSS while it drains a backlog
// against a 50 ms endpoint, per capacity, with the heap the operator gives a pod with a 256 MiB
// memory limit; and its RSS while it holds 4 shards that carry no traffic.
import { startKinesisEmulator } from "../../demo/kinesis-emulator.ts";
import { heapFlags } from "../../operator/reconcile/heap-size.ts";
import { startEndpointProcess } from "./endpoint-process.ts";
import { drainBacklog, idleRss, maxRecordsPerFetch, sourceShards } from "./memory.ts";
import { markdownTable } from "./report.ts";

const memoryLimit = "256Mi";
const latencyMs = 50;
const capacities = [100, 1_000];
const idleShards = 4;
const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

export async function memorySection(say: (line: string) => void, backlog: number): Promise<string> {
  const nodeOptions = heapFlags({ limits: { memory: memoryLimit } }).join(" ");
  const endpoint = await startEndpointProcess(latencyMs);
  const url = `${endpoint.url}/enrich`;
  try {
    const rows: string[][] = [];
    for (const capacity of capacities) {
      say(`memory: draining ${backlog} records at capacity ${capacity}, ${latencyMs} ms endpoint`);
      // A fresh emulator per run: it slows down as it holds more records.
      const emulator = await startKinesisEmulator();
      const drained = await drainBacklog(
        emulator,
        url,
        backlog,
        capacity,
        nodeOptions,
        say,
      ).finally(() => emulator.stop());
      rows.push([
        String(capacity),
        String(backlog),
        drained.seconds.toFixed(1),
        (backlog / drained.seconds).toFixed(0),
        mib(drained.maxRssBytes),
      ]);
    }
    say(`memory: a processor holding ${idleShards} shards with no traffic`);
    const emulator = await startKinesisEmulator();
    const idle = await idleRss(emulator, url, idleShards, nodeOptions, 10_000).finally(() =>
      emulator.stop(),
    );
    const peak = Number(rows.at(-1)?.[4]);
    return (
      `## Memory (a pod with a ${memoryLimit} limit, endpoint ${latencyMs} ms)\n\n` +
      markdownTable(["capacity", "backlog records", "seconds", "records/s", "peak RSS MiB"], rows) +
      `\n\nThe processor (processor/main.ts, a process of its own) runs with NODE_OPTIONS=${nodeOptions}, the heap the operator gives a pod with a ${memoryLimit} memory limit (operator/reconcile/heap-size.ts). Source stream of ${sourceShards} shards, maxRecordsPerFetch ${maxRecordsPerFetch}: readers hold at most ${sourceShards * maxRecordsPerFetch} records; records/s is the Kinesis emulator's, not the processor's. Peak RSS at capacity ${capacities.at(-1)}: ${peak.toFixed(1)} MiB, ${peak < 200 ? "PASS" : "ABOVE TARGET"} (target < 200 MiB).\n\n` +
      `Idle: a processor holding ${idleShards} shards with no traffic (capacity 100, 10 s after every shard answered its first GetRecords) has an RSS of ${mib(idle)} MiB.`
    );
  } finally {
    await endpoint.stop();
  }
}
