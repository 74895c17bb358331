// Exponential backoff, one formula for every retry loop of the project (endpoint retries, Kinesis
// reads and writes, the operator's work queue and watches): the ceiling doubles per failure from a
// base up to a cap. Each loop picks its jitter: full where a fleet must not retry in lockstep,
// equal where a retry must never come at once, none where client-go uses none (the work queue).

export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/** The ceiling after `failures` failures in a row: base, 2 x base, 4 x base, ..., at most max. */
export function backoffCeiling(backoff: Backoff, failures: number): number {
  const doublings = Math.min(Math.max(0, failures - 1), 52);
  return Math.min(backoff.maxMs, backoff.baseMs * 2 ** doublings);
}

/** Uniform in [0, ceiling): spreads retries most (AWS's "full jitter"). */
export const fullJitter = (ceiling: number, random: () => number = Math.random): number =>
  Math.floor(random() * ceiling);

/** Uniform in [ceiling / 2, ceiling): spread, yet never at once (for a throttled service). */
export const equalJitter = (ceiling: number, random: () => number = Math.random): number =>
  ceiling / 2 + (random() * ceiling) / 2;
