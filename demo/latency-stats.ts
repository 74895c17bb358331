// Request latency figures from a processor's histogram: the exact mean (sum / count) and
// quantiles interpolated within buckets, as PromQL's histogram_quantile does.
import type { Registry } from "prom-client";

export interface LatencyStats {
  count: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
}

interface Sample {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

export function quantileFromBuckets(
  buckets: readonly { le: number; count: number }[],
  q: number,
): number {
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const bucket of buckets) {
    if (bucket.count >= rank) {
      if (!Number.isFinite(bucket.le)) return lowerBound;
      const inBucket = bucket.count - lowerCount;
      return inBucket === 0
        ? bucket.le
        : lowerBound + ((bucket.le - lowerBound) * (rank - lowerCount)) / inBucket;
    }
    lowerBound = bucket.le;
    lowerCount = bucket.count;
  }
  return lowerBound;
}

/** Latency of successful attempts, in milliseconds. */
export async function latencyStats(registry: Registry): Promise<LatencyStats> {
  const metric = registry.getSingleMetric("aej_request_duration_seconds");
  if (metric === undefined) throw new Error("no aej_request_duration_seconds metric");
  const values = (await metric.get()).values as Sample[];
  const success = values.filter((sample) => sample.labels.result === "success");
  const sum = success.find((sample) => sample.metricName?.endsWith("_sum"))?.value ?? 0;
  const count = success.find((sample) => sample.metricName?.endsWith("_count"))?.value ?? 0;
  const buckets = success
    .filter((sample) => sample.metricName?.endsWith("_bucket"))
    .map((sample) => ({
      le: sample.labels.le === "+Inf" ? Infinity : Number(sample.labels.le),
      count: sample.value,
    }))
    .sort((a, b) => a.le - b.le);
  return {
    count,
    meanMs: count === 0 ? Number.NaN : (sum / count) * 1000,
    p50Ms: quantileFromBuckets(buckets, 0.5) * 1000,
    p99Ms: quantileFromBuckets(buckets, 0.99) * 1000,
  };
}
