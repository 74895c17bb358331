// Scaling-effectiveness detection, as the Flink Kubernetes Operator's autoscaler has it: a scale-up
// that did not raise what the job can process blocks further scale-ups. Here its usual cause is an
// endpoint at its own limit. More pods put more calls in flight, the endpoint answers each of them
// more slowly, and Little's bound per pod falls as fast as pods are added; the lower per-pod rate
// would then call for more pods still, up to maxParallelism, each adding load to an endpoint that
// serves no more. The verdict is taken again at every decision, so an endpoint that recovers (its
// latency falls) lifts the block; a scale-down forgets the scale-up.
import type { AutoscalingStatus } from "../api/autoscaling-status-schema.ts";

/** A scale-up pays if the job's rate grew by at least this share of what it was expected to. */
export const effectivenessThreshold = 0.1;

export type ScaleUp = NonNullable<AutoscalingStatus["lastScaleUp"]>;

const figure = (value: number): number => Math.round(value * 10) / 10;

/**
 * What the job can process per second at a size: one pod's rate times the pods that run (those
 * that report; no more than the size).
 */
export const jobRate = (perPod: number, size: number, reporting: number): number =>
  perPod * Math.min(size, reporting);

/**
 * The scale-up from `from` to `to` pods, with the job's rate before it and the rate it should
 * bring if each new pod does what each pod did.
 */
export function scaleUp(
  from: number,
  to: number,
  perPod: number,
  reporting: number,
  latencyMillis: number | undefined,
): ScaleUp {
  return {
    from,
    to,
    perSecondBefore: figure(jobRate(perPod, from, reporting)),
    expectedPerSecond: figure(perPod * to),
    ...(latencyMillis === undefined ? {} : { endpointLatencyMillisBefore: figure(latencyMillis) }),
  };
}

/** The last scale-up's record after this decision: kept while the size holds, gone on a rescale. */
export function nextScaleUp(
  previous: ScaleUp | undefined,
  current: number,
  next: number,
  made: () => ScaleUp,
): ScaleUp | undefined {
  if (next > current) return made();
  return next === current ? previous : undefined;
}

/**
 * Why the last scale-up did not pay, or undefined if it did, or if there is none to judge (the
 * job runs another size than the one it scaled up to). `rateNow` is the job's rate at its size.
 */
export function ineffectiveScaleUp(
  last: ScaleUp | undefined,
  current: number,
  rateNow: number,
  latencyMillis: number | undefined,
): string | undefined {
  if (last === undefined || last.to !== current) return undefined;
  const expected = last.expectedPerSecond - last.perSecondBefore;
  if (!(expected > 0)) return undefined;
  if (rateNow - last.perSecondBefore >= effectivenessThreshold * expected) return undefined;
  const latency =
    last.endpointLatencyMillisBefore === undefined || latencyMillis === undefined
      ? ""
      : `, endpoint latency ${String(last.endpointLatencyMillisBefore)} -> ${String(figure(latencyMillis))} ms`;
  return `the last scale-up, ${String(last.from)} -> ${String(last.to)} pods, took what the job can process from ${String(last.perSecondBefore)} to ${String(figure(rateNow))} records/s where ${String(last.expectedPerSecond)} were expected${latency}: more pods did not process more, as when the endpoint is at its limit and answers more calls more slowly. Further scale-ups wait until the figures show the job's rate grow, or a scale-down`;
}
