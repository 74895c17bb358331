// Steady-state throughput of the whole processor (emulator source, endpoint, emulator sink) at a
// given capacity, measured over a window after warm-up, with the mean request latency of that
// same window: Little's law says records/s = capacity / latency at best.
import { pino } from "pino";
import type { KinesisEmulator } from "../../demo/kinesis-emulator.ts";
import { latencyStats } from "../../demo/latency-stats.ts";
import { produceRecords } from "../../demo/stream-tools.ts";
import { validateConfig } from "../../processor/config/load.ts";
import { startProcessor } from "../../processor/processor.ts";
import { metricValue } from "../support/metric-value.ts";
import { waitFor } from "../support/wait-for.ts";

export interface SteadyState {
  perSecond: number;
  meanLatencyMs: number;
}

let runs = 0;

export async function processorSteadyRate(
  emulator: KinesisEmulator,
  endpointUrl: string,
  capacity: number,
  nominalLatencyMs: number,
  windowMs: number,
  warmupMs: number,
): Promise<SteadyState> {
  runs++;
  const names = { source: `bench-source-${runs}`, sink: `bench-sink-${runs}` };
  await emulator.createStream(names.source, 4);
  await emulator.createStream(names.sink, 4);
  const records = Math.ceil((capacity / nominalLatencyMs) * (warmupMs + windowMs) * 1.5 + 200);
  await produceRecords(
    emulator.client,
    names.source,
    Array.from({ length: records }, (_, id) => ({
      data: Buffer.from(JSON.stringify({ id, customer: `c-${id % 97}` })),
      partitionKey: `c-${id % 97}`,
    })),
  );
  const processor = startProcessor(
    validateConfig({
      jobName: `bench-${capacity}`,
      aws: { endpoint: emulator.endpoint },
      source: { stream: names.source, idleTimeBetweenReadsMs: 200 },
      sink: { stream: names.sink },
      endpoint: { url: endpointUrl },
      capacity,
      ordering: "unordered",
      failurePolicy: "drop",
    }),
    { kinesis: emulator.client, logger: pino({ level: "warn" }, process.stderr) },
  );
  const { registry } = processor.metrics;
  await waitFor(
    () => metricValue(registry, "aej_records_in_total"),
    (read) => read > 0,
    {
      timeoutMs: 15_000,
      what: "the processor to read",
    },
  );
  await new Promise((resolve) => setTimeout(resolve, warmupMs));
  const before = {
    at: performance.now(),
    written: await metricValue(registry, "aej_records_out_total"),
    latency: await latencyStats(registry),
  };
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  const after = {
    at: performance.now(),
    written: await metricValue(registry, "aej_records_out_total"),
    latency: await latencyStats(registry),
  };
  await processor.stop();
  if (after.written >= records)
    throw new Error(`capacity ${capacity}: the backlog ran out inside the window; produce more`);
  const calls = after.latency.count - before.latency.count;
  const latencySum =
    after.latency.meanMs * after.latency.count - before.latency.meanMs * before.latency.count;
  return {
    perSecond: (after.written - before.written) / ((after.at - before.at) / 1000),
    meanLatencyMs: latencySum / calls,
  };
}
