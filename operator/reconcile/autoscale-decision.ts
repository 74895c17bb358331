// The autoscaler's decision, a pure function of what the processors report on their heartbeats and
// of the previous decision (status.autoscaling). As the Flink Kubernetes Operator's autoscaler, it
// sizes the job for the incoming rate plus a catch-up rate (backlog / catch-up time) against each
// pod's true processing rate at a target utilization; unlike it, it knows an I/O-bound pod's
// capacity analytically (Little's law: calls in flight / mean endpoint latency) and never sizes the job
// past the endpoint's budget. Scale-up is immediate; scale-down waits for a stabilization window in
// which every recommendation was at or below the new size, and for a window since the last rescale,
// so there is at most one scale-down per window.
import type { AutoscalingSpec } from "../api/autoscaling-schema.ts";
import type { AutoscalingStatus, LimitedBy } from "../api/autoscaling-status-schema.ts";
import { ineffectiveScaleUp, jobRate, nextScaleUp, scaleUp } from "./scale-up-effectiveness.ts";

/** What one live processor reports on its heartbeat. */
export interface PodLoad {
  inPerSecond: number;
  outPerSecond: number;
  /** The largest lag of the shards it reads. */
  maxLagMillis: number | undefined;
  /** Calls it admits in flight now (adaptive limit, or capacity). */
  concurrencyLimit?: number | undefined;
  /** Mean calls in flight over its last heartbeat interval. */
  inFlight?: number | undefined;
  /** Mean latency of its successful calls over its last heartbeat interval. */
  endpointLatencyMillis?: number | undefined;
  /** Records that arrived per second in its shards, counted by their arrival times. */
  arrivedPerSecond?: number | undefined;
  /** Shards whose arrivals it has not measured yet (just taken). */
  arrivalsPending?: number | undefined;
}

export interface AutoscaleInput {
  spec: AutoscalingSpec;
  capacity: number;
  /** spec.endpoint.rateLimit.requestsPerSecond, when set. */
  rateLimitPerSecond: number | undefined;
  /** Parallelism now: the last decision, or spec.parallelism when autoscaling was just turned on. */
  current: number;
  /**
   * Every pod runs and reports: figures taken mid-rescale (shards handed over) would mislead. The
   * decision waits for it up to settleDeadlineMs.
   */
  settled: boolean;
  /** Shards that may be read now (open, parents finished): more pods than these would idle. */
  readableShards: number;
  pods: readonly PodLoad[];
  maxLagMillis: number | undefined;
  previous: AutoscalingStatus | undefined;
  now: Date;
}

/** Figures are means over a heartbeat; the lag's slope needs a span: decide at most this often. */
export const decisionIntervalMs = 10_000;
/**
 * How long the autoscaler waits for every processor to run and report before it decides on those
 * that do: a pod that stays Pending (no room on the nodes) or crash-loops must not freeze sizing.
 */
export const settleDeadlineMs = 120_000;
/** A pod with mean in-flight calls at this share of its limit or more is saturated. */
const saturatedShare = 0.9;
/** A pod whose shards lag this much has work queued. */
const backlogLagMillis = 10_000;
/**
 * The lag's slope counts up to 0.5 s/s either way: the estimate is at most twice what is processed,
 * so a faster ramp is met in steps, one per decision, and at least two thirds of it. A steeper slope is more often a hand-over's (a
 * new holder re-reads its shards from their checkpoints) or a stall's than the load's.
 */
const maxLagSlope = 0.5;
const maxHistory = 32;

/**
 * Records arriving per second, as the pods count them by arrival time: the rate at which the
 * records processed now arrived, however fast they are read. Undefined unless every pod says (a
 * pod that just took a shard, an older version).
 */
export function arrivalRate(pods: readonly PodLoad[]): number | undefined {
  if (pods.length === 0 || pods.some((pod) => pod.arrivedPerSecond === undefined)) return undefined;
  return pods.reduce((sum, pod) => sum + (pod.arrivedPerSecond ?? 0), 0);
}

/**
 * Records arriving per second, from the lag when the pods do not count arrivals (arrivalRate is
 * undefined). A job whose processing lags L seconds behind an arrival rate λ has
 * a backlog B ≈ λ·L, and B grows by what arrives less what is processed: λ = processed + dB/dt =
 * processed + λ·dL/dt, so λ = processed / (1 − dL/dt), with dL/dt the change of the largest shard
 * lag since the last sample. Processed, not read: a reader reads ahead of processing in bursts.
 */
export function incomingRate(
  processedPerSecond: number,
  maxLagMillis: number | undefined,
  sample: AutoscalingStatus["lagSample"],
  now: Date,
): number {
  if (sample === undefined || maxLagMillis === undefined) return processedPerSecond;
  const seconds = (now.getTime() - Date.parse(sample.time)) / 1000;
  // Not after the sample, or a sample time that does not parse: no slope to measure.
  if (!(seconds > 0)) return processedPerSecond;
  // Bounded both ways: a lag that falls fast is as often a stall ending as the load falling.
  const slope = Math.max(
    -maxLagSlope,
    Math.min((maxLagMillis - sample.maxLagMillis) / 1000 / seconds, maxLagSlope),
  );
  return processedPerSecond / (1 - slope);
}

/**
 * A pod runs at its own limit only while work waits for it: a backlog in its shards, and, where it
 * reports them, its slots full. Full slots alone are not enough: a slot is held until the sink
 * takes the result, so a pod fed less than it can do may show full slots at a low rate, and
 * taking that rate for its ceiling would call for ever more pods.
 */
const saturated = (pod: PodLoad): boolean =>
  pod.outPerSecond > 0 &&
  (pod.maxLagMillis ?? 0) >= backlogLagMillis &&
  (pod.inFlight === undefined ||
    pod.concurrencyLimit === undefined ||
    pod.inFlight >= saturatedShare * pod.concurrencyLimit);

const mean = (values: readonly number[]): number | undefined =>
  values.length === 0 ? undefined : values.reduce((sum, value) => sum + value, 0) / values.length;

/** Mean endpoint latency over the pods that report it, weighted by the records they wrote. */
export function meanLatencyMillis(pods: readonly PodLoad[]): number | undefined {
  const reporting = pods.filter((pod) => (pod.endpointLatencyMillis ?? 0) > 0);
  const weight = reporting.reduce((sum, pod) => sum + pod.outPerSecond, 0);
  if (weight === 0) return mean(reporting.map((pod) => pod.endpointLatencyMillis ?? 0));
  return (
    reporting.reduce((sum, pod) => sum + pod.outPerSecond * (pod.endpointLatencyMillis ?? 0), 0) /
    weight
  );
}

/**
 * Calls one pod can keep in flight: its capacity, unless its adaptive limit is below it and binds
 * (its slots full), which means the endpoint pushes back. A limit that does not bind says nothing:
 * the limiter grows only while it is used, so an underfed pod keeps a low one.
 */
export function usableConcurrency(pod: PodLoad, capacity: number): number {
  const limit = pod.concurrencyLimit;
  if (limit === undefined || limit >= capacity || pod.inFlight === undefined) return capacity;
  return pod.inFlight >= saturatedShare * limit ? limit : capacity;
}

/** Mean calls in flight one pod can use (usableConcurrency), capacity without pods. */
export const meanConcurrency = (pods: readonly PodLoad[], capacity: number): number =>
  mean(pods.map((pod) => usableConcurrency(pod, capacity))) ?? capacity;

/**
 * Records one pod processes per second: the lower of Little's bound (usable concurrency /
 * latency), which holds for an I/O-bound pod, and what saturated pods measurably achieve, which
 * catches a pod bound by its CPU or its rate-limit share. Undefined while neither is known.
 */
export function perPodRate(pods: readonly PodLoad[], capacity: number): number | undefined {
  const latency = meanLatencyMillis(pods);
  const little =
    latency === undefined ? undefined : (meanConcurrency(pods, capacity) * 1000) / latency;
  const measured = mean(pods.filter(saturated).map((pod) => pod.outPerSecond));
  const known = [little, measured].filter((rate) => rate !== undefined);
  return known.length === 0 ? undefined : Math.min(...known);
}

/** Pods the endpoint budget allows: parallelism × capacity ≤ maxEndpointConcurrency. */
export const budgetPods = (spec: AutoscalingSpec, capacity: number): number =>
  spec.maxEndpointConcurrency === undefined
    ? Number.POSITIVE_INFINITY
    : Math.floor(spec.maxEndpointConcurrency / capacity);

/**
 * The needed pods within the bounds, and the bound that set it. Shards, rate limit and
 * maxParallelism cap it, minParallelism raises it, and the endpoint budget has the last word.
 */
export function bounded(
  needed: number,
  input: Pick<AutoscaleInput, "spec" | "capacity" | "rateLimitPerSecond" | "readableShards">,
  perPod: number,
): { parallelism: number; limitedBy: LimitedBy } {
  const { spec } = input;
  const caps: [LimitedBy, number][] = [
    ["Shards", input.readableShards > 0 ? input.readableShards : Number.POSITIVE_INFINITY],
    [
      "RateLimit",
      input.rateLimitPerSecond === undefined
        ? Number.POSITIVE_INFINITY
        : Math.ceil(input.rateLimitPerSecond / perPod),
    ],
    ["MaxParallelism", spec.maxParallelism],
  ];
  const [limitedBy, parallelism] = caps.reduce<[LimitedBy, number]>(
    (best, cap) => (cap[1] < best[1] ? cap : best),
    ["Lag", needed],
  );
  const raised: [LimitedBy, number] =
    parallelism < spec.minParallelism
      ? ["MinParallelism", spec.minParallelism]
      : [limitedBy, parallelism];
  const budget = budgetPods(spec, input.capacity);
  return budget < raised[1]
    ? { parallelism: budget, limitedBy: "EndpointBudget" }
    : { parallelism: raised[1], limitedBy: raised[0] };
}

type History = NonNullable<AutoscalingStatus["recommendations"]>;

/**
 * The recommendations with this one added (one entry per change), without entries that ended
 * before the window began; beyond maxHistory the two oldest merge into their larger value, which
 * can only delay a scale-down.
 */
export function recorded(
  history: History,
  parallelism: number,
  now: Date,
  windowSeconds: number,
): History {
  const added =
    history.at(-1)?.parallelism === parallelism
      ? [...history]
      : [...history, { since: now.toISOString(), parallelism }];
  const windowStart = now.getTime() - windowSeconds * 1000;
  const startOf = (index: number): number => Date.parse(added[index]?.since ?? "");
  while (added.length > 1 && startOf(1) <= windowStart) added.shift();
  while (added.length > maxHistory) {
    const [first, second] = added.splice(0, 2);
    if (first === undefined || second === undefined) break;
    added.unshift({
      since: first.since,
      parallelism: Math.max(first.parallelism, second.parallelism),
    });
  }
  return added;
}

/**
 * The size to run: a larger recommendation at once; a smaller one only once the history covers
 * the whole window, every recommendation in it is at most the new size, and the last rescale is a
 * window ago.
 */
export function stabilized(
  recommended: number,
  current: number,
  history: History,
  lastScaleTime: string | undefined,
  windowSeconds: number,
  now: Date,
): number {
  if (recommended >= current) return recommended;
  const windowStart = now.getTime() - windowSeconds * 1000;
  if (lastScaleTime !== undefined && Date.parse(lastScaleTime) > windowStart) return current;
  const first = history[0];
  if (first === undefined || Date.parse(first.since) > windowStart) return current;
  const endOf = (index: number): number => {
    const next = history[index + 1];
    return next === undefined ? Number.POSITIVE_INFINITY : Date.parse(next.since);
  };
  const peak = Math.max(
    ...history.filter((_, index) => endOf(index) > windowStart).map((entry) => entry.parallelism),
  );
  return Math.min(current, peak);
}

const figure = (value: number): number => Math.round(value * 10) / 10;

/** The current size clamped into the hard bounds: minParallelism, maxParallelism, the budget. */
function clampedCurrent(input: AutoscaleInput): number {
  const { spec } = input;
  const within = Math.min(Math.max(input.current, spec.minParallelism), spec.maxParallelism);
  return Math.min(within, budgetPods(spec, input.capacity));
}

/**
 * Since when the pods have not all run, reported and taken their shards; undefined while they
 * have. A rescale restarts the wait (the caller leaves it out of the status): a new size's pods
 * get their own time to start.
 */
function unsettledSince(input: AutoscaleInput): string | undefined {
  if (input.settled) return undefined;
  return input.previous?.unsettledSince ?? input.now.toISOString();
}

/** Past the settle deadline, what the decision is based on; undefined while settled. */
function unsettledNote(input: AutoscaleInput, since: string | undefined): string | undefined {
  if (since === undefined) return undefined;
  const seconds = Math.round((input.now.getTime() - Date.parse(since)) / 1000);
  return ` Not every processor has run, reported and taken its shards for ${String(seconds)} s: decided on the ${String(input.pods.length)} of ${String(input.current)} that report.`;
}

/**
 * The current size kept, with why. While pods start or shards move, no lag sample is kept: a shard
 * between holders is read by no one, and a slope across that is the hand-over's, not the load's;
 * where the pods do not count arrivals, the first decision after it takes the rate processed as
 * the incoming one.
 */
function holding(input: AutoscaleInput, current: number, message: string): AutoscalingStatus {
  const { previous, now } = input;
  const resized = current !== input.current;
  const since = resized && !input.settled ? now.toISOString() : unsettledSince(input);
  const { unsettledSince: _, lagSample: __, lastScaleUp, ...kept } = previous ?? {};
  return {
    ...kept,
    ...(resized || lastScaleUp === undefined ? {} : { lastScaleUp }),
    ...(since === undefined
      ? {
          lagSample: { time: now.toISOString(), maxLagMillis: Math.round(input.maxLagMillis ?? 0) },
        }
      : { unsettledSince: since }),
    current,
    ...(current === input.current ? {} : { lastScaleTime: now.toISOString() }),
    message,
  };
}

/** The decision: the size to run now, the recommendation, what limits it, and why. */
export function decideAutoscale(input: AutoscaleInput): AutoscalingStatus {
  const { spec, previous, now } = input;
  const sample = previous?.lagSample;
  const current = clampedCurrent(input);
  const recent =
    sample !== undefined && now.getTime() - Date.parse(sample.time) < decisionIntervalMs;
  if (recent && current === input.current) return { ...previous, current };
  const since = unsettledSince(input);
  if (since !== undefined && now.getTime() - Date.parse(since) < settleDeadlineMs)
    return holding(input, current, "Waiting for every processor to run and report.");
  // Pods that report no latency and are not saturated show no ceiling: the last one known stands.
  const perPod = perPodRate(input.pods, input.capacity) ?? previous?.perPodPerSecond;
  if (perPod === undefined || perPod <= 0)
    return holding(
      input,
      current,
      "Waiting for figures: no endpoint latency or saturated pod yet.",
    );
  const processed = input.pods.reduce((sum, pod) => sum + pod.outPerSecond, 0);
  const incoming =
    arrivalRate(input.pods) ?? incomingRate(processed, input.maxLagMillis, sample, now);
  const catchUp = (incoming * (input.maxLagMillis ?? 0)) / 1000 / spec.catchUpSeconds;
  const needed = Math.ceil((incoming + catchUp) / (perPod * spec.targetUtilization));
  const latency = meanLatencyMillis(input.pods);
  const within = bounded(needed, input, perPod);
  // Judged only when it would matter: a scale-up is what it would block.
  const ineffective =
    within.parallelism > current
      ? ineffectiveScaleUp(
          previous?.lastScaleUp,
          current,
          jobRate(perPod, current, input.pods.length),
          latency,
        )
      : undefined;
  const { parallelism: recommended, limitedBy } =
    ineffective === undefined
      ? within
      : { parallelism: current, limitedBy: "IneffectiveScaleUp" as const };
  const recommendations = recorded(
    previous?.recommendations ?? [],
    recommended,
    now,
    spec.scaleDownStabilizationSeconds,
  );
  const next = stabilized(
    recommended,
    current,
    recommendations,
    previous?.lastScaleTime,
    spec.scaleDownStabilizationSeconds,
    now,
  );
  const scaled = next !== input.current;
  const lastScaleUp = nextScaleUp(previous?.lastScaleUp, input.current, next, () =>
    scaleUp(input.current, next, perPod, input.pods.length, latency),
  );
  return {
    current: next,
    recommended,
    limitedBy,
    ...(scaled
      ? { lastScaleTime: now.toISOString() }
      : previous?.lastScaleTime === undefined
        ? {}
        : { lastScaleTime: previous.lastScaleTime }),
    incomingPerSecond: figure(incoming),
    catchUpPerSecond: figure(catchUp),
    perPodPerSecond: figure(perPod),
    ...(latency === undefined ? {} : { endpointLatencyMillis: figure(latency) }),
    ...(lastScaleUp === undefined ? {} : { lastScaleUp }),
    ...(since === undefined || scaled ? {} : { unsettledSince: since }),
    message:
      explain(input, {
        incoming,
        catchUp,
        perPod,
        latency,
        needed: within.parallelism,
        recommended,
        limitedBy,
        ineffective,
        next,
      }) + (unsettledNote(input, since) ?? ""),
    lagSample: { time: now.toISOString(), maxLagMillis: Math.round(input.maxLagMillis ?? 0) },
    recommendations,
  };
}

interface Figures {
  incoming: number;
  catchUp: number;
  perPod: number;
  latency: number | undefined;
  /** The recommendation within the bounds, before the effectiveness check. */
  needed: number;
  recommended: number;
  limitedBy: LimitedBy;
  ineffective: string | undefined;
  next: number;
}

function explain(input: AutoscaleInput, f: Figures): string {
  const { spec } = input;
  const little =
    f.latency === undefined
      ? "as measured on saturated pods"
      : `at most ${String(figure(meanConcurrency(input.pods, input.capacity)))} calls in flight / ${String(figure(f.latency))} ms latency`;
  const limit: Record<LimitedBy, string> = {
    Lag: "set by the load",
    Shards: `limited by the ${String(input.readableShards)} readable shards`,
    EndpointBudget: `limited by the endpoint budget (${String(spec.maxEndpointConcurrency)} calls in flight / capacity ${String(input.capacity)})`,
    RateLimit: `limited by the rate limit (${String(input.rateLimitPerSecond)} requests/s)`,
    MaxParallelism: "limited by maxParallelism",
    MinParallelism: "raised to minParallelism",
    IneffectiveScaleUp: `held where the figures call for ${String(f.needed)}: ${f.ineffective ?? ""}`,
  };
  const waiting =
    f.next > f.recommended
      ? ` Scale-down to ${String(f.recommended)} waits for the ${String(spec.scaleDownStabilizationSeconds)} s stabilization window.`
      : "";
  return `${String(f.recommended)} pods recommended (${limit[f.limitedBy]}): ${String(figure(f.incoming))} records/s incoming + ${String(figure(f.catchUp))} records/s catch-up, ${String(figure(f.perPod))} records/s per pod (${little}) at utilization ${String(spec.targetUtilization)}.${waiting}`;
}
