// How long to wait before the next attempt: exponential backoff with full jitter (so a fleet of
// processors does not retry in lockstep), never less than the server's Retry-After.
import { backoffCeiling, fullJitter } from "../util/backoff.ts";

export interface BackoffPolicy {
  initialBackoffMs: number;
  maxBackoffMs: number;
}

/** Delay before attempt `attempt + 1`, after `attempt` failed attempts (attempt >= 1). */
export function backoffDelay(
  policy: BackoffPolicy,
  attempt: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  const ceiling = backoffCeiling(
    { baseMs: policy.initialBackoffMs, maxMs: policy.maxBackoffMs },
    attempt,
  );
  const jittered = fullJitter(ceiling, random);
  return retryAfterMs === undefined ? jittered : Math.max(jittered, retryAfterMs);
}

/** Parses a Retry-After header: delay-seconds or an HTTP-date. Undefined if absent or invalid. */
export function parseRetryAfter(
  header: string | string[] | undefined,
  now: number = Date.now(),
): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === "") return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
