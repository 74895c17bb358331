// The benchmark report's section on the processor's cost per record at the limit: its per-record
// path (in-memory source and sink) against bare undici loops on the same endpoint, records/s and
// CPU microseconds per record, each side in a child process of its own, the sides interleaved
// round by round and every ratio taken within a round (this machine is shared and noisy).
import { loadavg } from "node:os";
import { runInChildProcess, type Side } from "./client-process.ts";
import { startEndpointProcess, type EndpointProcess } from "./endpoint-process.ts";
import type { Window } from "./measure-window.ts";
import { markdownTable } from "./report.ts";

export interface PerRecordOptions {
  rounds: number;
  /** Endpoints already running (any path answers), instead of the demo endpoint in a process. */
  fastUrl?: string;
  slowUrl?: string;
}

const cases = [
  { latencyMs: 0, capacity: 32, warmupMs: 1_000, durationMs: 3_000 },
  { latencyMs: 50, capacity: 1_000, warmupMs: 2_000, durationMs: 4_000 },
] as const;
const sides: readonly Side[] = ["bare-request", "bare-dispatch", "pipeline"];
const body = JSON.stringify({ id: 1, customer: "c-1" });

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
};
const spread = (values: readonly number[]): string =>
  `${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}`;

export async function perRecordSection(
  say: (line: string) => void,
  options: PerRecordOptions,
): Promise<string> {
  const load = [loadavg()[0] ?? 0];
  const parts: string[] = [];
  const verdicts: string[] = [];
  for (const { latencyMs, capacity, warmupMs, durationMs } of cases) {
    const given = latencyMs === 0 ? options.fastUrl : options.slowUrl;
    const started: EndpointProcess | undefined =
      given === undefined ? await startEndpointProcess(latencyMs) : undefined;
    const url = given ?? `${started?.url ?? ""}/enrich`;
    const rounds: Record<Side, Window>[] = [];
    try {
      for (let round = 0; round < options.rounds; round++) {
        // Each round starts with another side, so no side always runs first after a pause.
        const order = sides.map((_, index) => sides[(index + round) % sides.length] ?? "pipeline");
        say(
          `per-record cost, ${latencyMs} ms capacity ${capacity}, round ${round + 1}/${options.rounds}: ${order.join(", ")}`,
        );
        const measured: Partial<Record<Side, Window>> = {};
        for (const side of order) {
          measured[side] = await runInChildProcess({
            side,
            url,
            capacity,
            body,
            warmupMs,
            durationMs,
          });
        }
        rounds.push(measured as Record<Side, Window>);
      }
    } finally {
      await started?.stop();
    }
    const ratio = (side: Side, of: (window: Window) => number) =>
      rounds.map((round) => of(round.pipeline) / of(round[side]));
    const rate = (window: Window) => window.perSecond;
    const cpu = (window: Window) => window.cpuMicrosPerRecord;
    const rows = sides.map((side) => [
      side,
      median(rounds.map((round) => round[side].perSecond)).toFixed(0),
      median(rounds.map((round) => round[side].cpuMicrosPerRecord)).toFixed(1),
      side === "pipeline"
        ? "1"
        : `${median(ratio(side, rate)).toFixed(3)} (${spread(ratio(side, rate))})`,
      side === "pipeline"
        ? "1"
        : `${median(ratio(side, cpu)).toFixed(3)} (${spread(ratio(side, cpu))})`,
    ]);
    parts.push(
      `### Endpoint ${latencyMs} ms, capacity ${capacity} (medians of ${options.rounds} rounds, ${warmupMs} ms warm-up, ${durationMs} ms window)\n\n` +
        markdownTable(
          [
            "side",
            "records/s",
            "CPU µs per record",
            "pipeline / side, records/s (range)",
            "pipeline / side, CPU per record (range)",
          ],
          rows,
        ),
    );
    for (const side of ["bare-request", "bare-dispatch"] as const) {
      const rateRatio = median(ratio(side, rate));
      const cpuRatio = median(ratio(side, cpu));
      verdicts.push(
        `- ${latencyMs} ms, capacity ${capacity}, against ${side}: records/s ${rateRatio.toFixed(3)}, ${rateRatio >= 0.95 ? "PASS" : "BELOW TARGET"} (target ≥ 0.95); CPU per record ${cpuRatio.toFixed(2)}×, ${cpuRatio <= 1.15 ? "PASS" : "ABOVE TARGET"} (target ≤ 1.15×).`,
      );
    }
  }
  load.push(loadavg()[0] ?? 0);
  return (
    `## Cost per record at the limit (in-memory pipeline against bare undici loops)\n\n` +
    `Each side runs in a child process of its own against the same endpoint (a process of its own too), with the same 25-byte JSON body, one connection per unit of capacity and that many requests in flight; records/s and CPU time (process.cpuUsage: every thread of the process, user and system) are read at the two ends of the same window, and every ratio is taken within a round. The sides:\n\n` +
    `- **pipeline**: the processor's per-record path as processor.ts wires it (test/bench/in-memory-pipeline.ts): a source record with a checkpoint receipt, the async operator, the outage breaker, request mapping, the caller (retries, per-attempt timeout, metrics), response mapping, routing and the sink's acknowledgement; only Kinesis is left out.\n` +
    `- **bare-request**: a loop of pool.request and body.arrayBuffer, the yardstick of the issue.\n` +
    `- **bare-dispatch**: a loop of the dispatcher with the buffering handler the caller uses: nothing but the request and the whole answer, undici's floor.\n\n` +
    `${parts.join("\n\n")}\n\n${verdicts.join("\n")}\n\n` +
    `Load average (1 min) ${load.map((value) => value.toFixed(1)).join(" at the start, ")} at the end, on 2 cores shared with other work: the ranges show the noise.`
  );
}
