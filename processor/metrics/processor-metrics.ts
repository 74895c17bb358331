// The processor's Prometheus metrics, on a registry of its own so several processors can live in
// one test process. Label children are bound once: the hot path only increments.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { CallObserver, FailureKind } from "../http/caller.ts";
import type { SinkObserver } from "../kinesis/put-batcher.ts";
import type { LeaseObserver, ShardLeaseEvent } from "../leases/lease-coordinator.ts";

export type FailureOutcome = "deadLetter" | "dropped" | "failed";

export function createProcessorMetrics(job: string, options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  registry.setDefaultLabels({ job_name: job });
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const recordsIn = new Counter({
    name: "aej_records_in_total",
    help: "Records read from the source stream (each user record of a KPL aggregate counts).",
    registers,
  });
  const kplAggregates = new Counter({
    name: "aej_kpl_aggregates_total",
    help: "KPL-aggregated Kinesis records read and split into their user records.",
    registers,
  });
  const kplPassedWhole = new Counter({
    name: "aej_kpl_invalid_aggregates_total",
    help: "Records with the KPL magic bytes that are no sound aggregate (reason), passed on whole.",
    labelNames: ["reason"] as const,
    registers,
  });
  const kplMisplaced = new Counter({
    name: "aej_kpl_misplaced_records_total",
    help: "User records of aggregates outside the shard's hash key range, skipped (the producer sent them again).",
    registers,
  });
  const endpointPaused = new Gauge({
    name: "aej_endpoint_paused",
    help: "1 while calls are paused through an endpoint outage (outage policy pause), else 0.",
    registers,
  });
  const endpointOutages = new Counter({
    name: "aej_endpoint_outages_total",
    help: "Times calls were paused because the endpoint stopped answering.",
    registers,
  });
  const recordsOut = new Counter({
    name: "aej_records_out_total",
    help: "Enriched records written to the sink stream.",
    registers,
  });
  const recordsFailed = new Counter({
    name: "aej_records_failed_total",
    help: "Records whose enrichment failed, by what the failure policy did with them.",
    labelNames: ["outcome"] as const,
    registers,
  });
  const inFlight = new Gauge({
    name: "aej_in_flight",
    help: "Records held by the async operator: calls in flight plus results not yet emitted.",
    registers,
  });
  const capacity = new Gauge({
    name: "aej_capacity",
    help: "Configured maximum of records in flight.",
    registers,
  });
  const concurrencyLimit = new Gauge({
    name: "aej_concurrency_limit",
    help: "Records the async operator admits now: the adaptive concurrency limit, or capacity when it is off.",
    registers,
  });
  const rateShare = new Gauge({
    name: "aej_rate_limit_share",
    help: "This pod's share of the job's endpoint rate limit, in requests per second (its share of the open shards); absent without a rate limit.",
    registers: [],
  });
  const rateWaitSeconds = new Counter({
    name: "aej_rate_limit_wait_seconds_total",
    help: "Time HTTP attempts spent waiting for a rate-limit token, summed (its rate is the mean number waiting).",
    registers: [],
  });
  const requestDuration = new Histogram({
    name: "aej_request_duration_seconds",
    help: "Duration of each HTTP attempt, by result.",
    labelNames: ["result"] as const,
    // Fine around typical service latencies, so quantiles interpolated from buckets stay close.
    buckets: [
      0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5,
      0.75, 1, 2, 5, 10, 30,
    ],
    registers,
  });
  const retries = new Counter({
    name: "aej_request_retries_total",
    help: "HTTP attempts retried after a retryable failure.",
    registers,
  });
  const timeouts = new Counter({
    name: "aej_request_timeouts_total",
    help: "HTTP attempts that hit the per-attempt timeout.",
    registers,
  });
  const millisBehindLatest = new Gauge({
    name: "aej_millis_behind_latest",
    help: "How far the last GetRecords call of a shard was behind the tip of the stream.",
    labelNames: ["shard_id"] as const,
    registers,
  });
  const sinkWritten = new Counter({
    name: "aej_sink_records_written_total",
    help: "Records acknowledged by PutRecords, by stream role.",
    labelNames: ["role"] as const,
    registers,
  });
  const sinkFailedEntries = new Counter({
    name: "aej_sink_failed_entries_total",
    help: "PutRecords entries that failed and were retried, by stream role and throttling.",
    labelNames: ["role", "throttled"] as const,
    registers,
  });
  const sourceErrors = new Counter({
    name: "aej_source_errors_total",
    help: "Failed GetRecords/GetShardIterator calls (retried with backoff).",
    registers,
  });
  const checkpoints = new Counter({
    name: "aej_checkpoints_written_total",
    help: "Checkpoints written to the checkpoint store.",
    registers,
  });

  const shardLeasesHeld = new Gauge({
    name: "aej_shard_leases_held",
    help: "Shard Leases this processor holds.",
    registers,
  });
  const shardLeaseEvents = new Counter({
    name: "aej_shard_lease_events_total",
    help: "Shard Lease changes: taken, lost, asked (for a hand-over), handed_over, released.",
    labelNames: ["event"] as const,
    registers,
  });
  for (const event of ["taken", "lost", "asked", "handed_over", "released"] as const)
    shardLeaseEvents.labels(event).inc(0);
  const leaseObserver: LeaseObserver = {
    event(event: ShardLeaseEvent) {
      shardLeaseEvents.labels(event).inc();
    },
    held(count) {
      shardLeasesHeld.set(count);
    },
  };

  const attemptResults = new Map<string, ReturnType<typeof requestDuration.labels>>();
  // Exported at 0 from the start, so increase() sees the first failure.
  for (const outcome of ["deadLetter", "dropped", "failed"] as const)
    recordsFailed.labels(outcome).inc(0);
  const failedOutcomes = {
    deadLetter: recordsFailed.labels("deadLetter"),
    dropped: recordsFailed.labels("dropped"),
    failed: recordsFailed.labels("failed"),
  };

  const callObserver: CallObserver = {
    attempt(seconds, result: "success" | FailureKind) {
      let child = attemptResults.get(result);
      if (child === undefined) {
        child = requestDuration.labels(result);
        attemptResults.set(result, child);
      }
      child.observe(seconds);
      if (result === "timeout") timeouts.inc();
    },
    retry() {
      retries.inc();
    },
  };

  const sinkObserver = (role: "sink" | "deadLetter"): SinkObserver => {
    const written = sinkWritten.labels(role);
    return {
      written(records) {
        written.inc(records);
      },
      failed(entries, _reason, throttled) {
        sinkFailedEntries.labels(role, String(throttled)).inc(entries);
      },
    };
  };

  /** Registers the rate-limit metrics: only a job with a rate limit exports them. */
  const withRateLimit = () => {
    if (registry.getSingleMetric("aej_rate_limit_share") === undefined) {
      registry.registerMetric(rateShare);
      registry.registerMetric(rateWaitSeconds);
    }
    return {
      share(requestsPerSecond: number) {
        rateShare.set(requestsPerSecond);
      },
      waited(seconds: number) {
        rateWaitSeconds.inc(seconds);
      },
    };
  };

  return {
    registry,
    withRateLimit,
    recordsIn,
    kplAggregates,
    kplPassedWhole,
    kplMisplaced,
    endpointPaused,
    endpointOutages,
    recordsOut,
    failedOutcomes,
    inFlight,
    capacity,
    concurrencyLimit,
    millisBehindLatest,
    sourceErrors,
    checkpoints,
    callObserver,
    sinkObserver,
    leaseObserver,
  };
}

export type ProcessorMetrics = ReturnType<typeof createProcessorMetrics>;
