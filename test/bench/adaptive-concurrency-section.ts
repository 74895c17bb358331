// The benchmark report's section on adaptive concurrency: against an endpoint whose latency grows
// with its concurrency past 40, where the limit settles, the p99 latency against the no-load
// latency, and the throughput against the best fixed capacity, all measured in the same run.
import { concurrencyRun, quantile, type ConcurrencyRun } from "./adaptive-concurrency.ts";
import { startQueueingEndpoint } from "./queueing-endpoint.ts";
import { markdownTable } from "./report.ts";

const baseMs = 50;
const knee = 40;
const fixedCapacities = [20, 40, 60, 100];
const ceiling = 200;

export async function adaptiveConcurrencySection(say: (line: string) => void): Promise<string> {
  const endpoint = await startQueueingEndpoint(baseMs, knee);
  try {
    say(`adaptive concurrency: no-load latency (capacity 10, endpoint knee ${knee})`);
    const noLoad = await concurrencyRun({
      url: endpoint.url,
      capacity: 10,
      adaptive: false,
      warmupMs: 500,
      durationMs: 2_500,
    });
    const fixed: [number, ConcurrencyRun][] = [];
    for (const capacity of fixedCapacities) {
      say(`adaptive concurrency: fixed capacity ${capacity}`);
      const run = await concurrencyRun({
        url: endpoint.url,
        capacity,
        adaptive: false,
        warmupMs: 1_000,
        durationMs: 3_000,
      });
      fixed.push([capacity, run]);
    }
    say(`adaptive concurrency: adaptive, capacity ${ceiling} as the ceiling, starting at minLimit`);
    const adaptive = await concurrencyRun({
      url: endpoint.url,
      capacity: ceiling,
      adaptive: true,
      warmupMs: 5_000,
      durationMs: 8_000,
    });

    const noLoadMs = quantile(noLoad.latencies, 0.5);
    const endpointNoLoadMs = noLoad.endpoint.p50;
    const p99 = (run: ConcurrencyRun): number => quantile(run.latencies, 0.99);
    const row = (label: string, run: ConcurrencyRun, limit: string): string[] => [
      label,
      limit,
      run.perSecond.toFixed(0),
      quantile(run.latencies, 0.5).toFixed(1),
      p99(run).toFixed(1),
      (p99(run) / noLoadMs).toFixed(2),
      run.endpoint.p99.toFixed(1),
      (run.endpoint.p99 / endpointNoLoadMs).toFixed(2),
    ];
    const settled = adaptive.limits.reduce((sum, limit) => sum + limit, 0) / adaptive.limits.length;
    const [low, high] = [Math.min(...adaptive.limits), Math.max(...adaptive.limits)];
    const best = fixed.reduce((top, entry) =>
      entry[1].perSecond > top[1].perSecond ? entry : top,
    );
    const endpointRatio = adaptive.endpoint.p99 / endpointNoLoadMs;
    const clientRatio = p99(adaptive) / noLoadMs;
    const throughputRatio = adaptive.perSecond / best[1].perSecond;
    const belowKnee = fixed.find(([capacity]) => capacity === 20)?.[1];
    const rows = [
      row("fixed 10 (no load)", noLoad, "10"),
      ...fixed.map(([capacity, run]) => row(`fixed ${capacity}`, run, String(capacity))),
      row(`adaptive (ceiling ${ceiling})`, adaptive, `${settled.toFixed(1)} (${low}–${high})`),
    ];
    return (
      `## Adaptive concurrency (endpoint latency ${baseMs} ms up to ${knee} requests open, ${baseMs} ms × open / ${knee} beyond)\n\n` +
      markdownTable(
        [
          "run",
          "limit",
          "records/s",
          "client p50 ms",
          "client p99 ms",
          "client p99 / no-load",
          "endpoint p99 ms",
          "endpoint p99 / no-load",
        ],
        rows,
      ) +
      `\n\nThe endpoint (test/bench/queueing-endpoint.ts, a process of its own) serves at most ${knee} / ${baseMs} ms = ${(knee / (baseMs / 1000)).toFixed(0)} requests/s: past ${knee} open requests, more concurrency only adds waiting. The client is the processor's per-record path (async operator, undici caller, mapping, routing) with an in-memory source that always has a record; \`adaptiveConcurrency\` at its defaults (minLimit 5, latencyTolerance 1.1), capacity ${ceiling} as the ceiling, measured for ${(adaptive.limits.length * 50).toLocaleString("en")} ms after 5,000 ms of warm-up (it starts at minLimit). No-load latency: the median at capacity 10, ${noLoadMs.toFixed(1)} ms as the client sees it, ${endpointNoLoadMs.toFixed(1)} ms as the endpoint assigns it. Client latencies include the client's own scheduling delays on this shared machine (fixed 20, below the knee, has a client p99 of ${belowKnee === undefined ? "?" : (p99(belowKnee) / noLoadMs).toFixed(2)}× with no queueing at the endpoint at all); the endpoint's column is the latency its queue imposed.\n\n` +
      `- The limit settles at ${settled.toFixed(1)} (${low}–${high} over the window), ${Math.abs(settled - knee) <= 0.25 * knee ? "PASS" : "OFF TARGET"} (target near ${knee}).\n` +
      `- p99 latency at the endpoint ${adaptive.endpoint.p99.toFixed(1)} ms = ${endpointRatio.toFixed(2)}× the no-load latency, ${endpointRatio <= 1.5 ? "PASS" : "ABOVE TARGET"} (target ≤ 1.5×; fixed capacity 100 gives ${((fixed.at(-1)?.[1].endpoint.p99 ?? Number.NaN) / endpointNoLoadMs).toFixed(2)}×). As the client sees it: ${p99(adaptive).toFixed(1)} ms = ${clientRatio.toFixed(2)}×, ${clientRatio <= 1.5 ? "PASS" : "ABOVE TARGET"}.\n` +
      `- Throughput ${adaptive.perSecond.toFixed(0)} records/s = ${throughputRatio.toFixed(3)} of the best fixed capacity (${best[0]}, ${best[1].perSecond.toFixed(0)} records/s), ${throughputRatio >= 0.9 ? "PASS" : "BELOW TARGET"} (target ≥ 0.9).`
    );
  } finally {
    await endpoint.stop();
  }
}
