// The benchmark report's section on the endpoint's HTTP version: the processor's per-record path
// at capacity 1,000 against one TLS endpoint (~50 ms per request) that speaks both HTTP/1.1 and
// HTTP/2, with version "1.1" and "2" side by side in one run: records/s, and the most connections
// the endpoint saw open at once.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Agent, request } from "undici";
import { createTestCa } from "../support/test-pki.ts";
import { startHttp2Endpoint, type TransportStats } from "./http2-endpoint.ts";
import { inMemoryPipelineRate } from "./in-memory-pipeline.ts";
import { markdownTable } from "./report.ts";
import { temporaryDirectory } from "../support/temporary-directory.ts";

const capacity = 1_000;
const delayMs = 50;
/** Long enough for HTTP/1.1's 1,000 TLS handshakes on a busy machine. */
const warmupMs = 3_000;
const durationMs = 4_000;
const rounds = 3;

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

const runs: { label: string; http: Record<string, unknown> }[] = [
  { label: '"1.1" (default)', http: { version: "1.1" } },
  { label: '"2", maxConnections default (10)', http: { version: "2" } },
  { label: '"2", maxConnections 2', http: { version: "2", maxConnections: 2 } },
];

export async function httpVersionSection(say: (line: string) => void): Promise<string> {
  const directory = temporaryDirectory("aej-bench-tls-");
  const ca = createTestCa("bench-ca");
  const serving = ca.server(["IP:127.0.0.1"]);
  const file = (name: string, content: string): string => {
    const path = join(directory, name);
    writeFileSync(path, content);
    return path;
  };
  const files = {
    ca: file("ca.crt", ca.cert),
    cert: file("tls.crt", serving.cert),
    key: file("tls.key", serving.key),
  };
  const endpoint = await startHttp2Endpoint(files, delayMs);
  const statsAgent = new Agent({ connect: { ca: ca.cert }, allowH2: false });
  const stats = async (path: string): Promise<TransportStats> => {
    const response = await request(`${endpoint.url}${path}`, { dispatcher: statsAgent });
    return (await response.body.json()) as TransportStats;
  };
  try {
    const rows: string[][] = [];
    /** Each round's records/s of a version over that round's HTTP/1.1, by run. */
    const ratios: number[][] = runs.map(() => []);
    // Rounds alternate the versions, so a load change on this shared machine hits all of them.
    for (let round = 1; round <= rounds; round++) {
      let baseline = 0;
      for (const [index, run] of runs.entries()) {
        say(`http version: round ${String(round)}, ${run.label}, capacity ${String(capacity)}`);
        await stats("/stats/reset");
        const cpu = process.cpuUsage();
        const perSecond = await inMemoryPipelineRate(
          `${endpoint.url}/enrich`,
          capacity,
          Buffer.from(JSON.stringify({ id: 1, customer: "c-1" })),
          durationMs,
          warmupMs,
          { tls: { caFile: files.ca }, http: run.http },
        );
        const { user, system } = process.cpuUsage(cpu);
        const seen = await stats("/stats");
        if (index === 0) baseline = perSecond;
        // A round whose HTTP/1.1 run did not finish its handshakes in time has no ratio.
        if (baseline > 0) ratios[index]?.push(perSecond / baseline);
        rows.push([
          String(round),
          run.label,
          perSecond.toFixed(0),
          baseline > 0 ? (perSecond / baseline).toFixed(2) : "n/a",
          String(seen.maxConnections),
          seen.opened.toLocaleString("en"),
          seen.requests.toLocaleString("en"),
          ((user + system) / seen.requests).toFixed(0),
        ]);
      }
    }
    const medians = runs
      .slice(1)
      .map((run, index) => `${run.label}: ${median(ratios[index + 1] ?? []).toFixed(2)}×`)
      .join(", ");
    return (
      `## Endpoint HTTP version (capacity ${capacity.toLocaleString("en")}, TLS endpoint answering after ${delayMs} ms)\n\n` +
      markdownTable(
        [
          "round",
          "endpoint.http.version",
          "records/s",
          "vs 1.1",
          "most connections open at the endpoint",
          "connections opened",
          "requests served",
          "client CPU µs / request",
        ],
        rows,
      ) +
      `\n\nThe processor's per-record path (async operator, mapping, undici caller, routing) with an in-memory source that always has a record, against test/bench/http2-endpoint.ts (node:http2 over TLS with a CA the bench makes, HTTP/1.1 allowed, a process of its own), each version measured for ${durationMs.toLocaleString("en")} ms after ${warmupMs.toLocaleString("en")} ms of warm-up. Little's law bounds it at ${capacity.toLocaleString("en")} / ${delayMs} ms = ${(capacity / (delayMs / 1000)).toLocaleString("en")} records/s; below that, the client's CPU (warm-up included, per request served) is the bound on this machine's two shared cores. An HTTP/1.1 call that times out takes its connection with it (a response cannot be abandoned on an HTTP/1.1 connection), so on a starved client each timeout costs a new TLS handshake, which starves it further (\`connections opened\` against \`requests served\`); an HTTP/2 timeout resets only its stream.\n\nMedian records/s over HTTP/1.1 of the same round, over the rounds where HTTP/1.1 delivered any: ${medians}.`
    );
  } finally {
    await statsAgent.close();
    await endpoint.stop();
  }
}
