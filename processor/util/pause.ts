// A sleep that ends early, without throwing, when the signal aborts: loops check the signal after.
// The timers are looked up at each call, not imported by name, so simulated timers (node:test
// mock.timers) reach them too.
import timers from "node:timers/promises";

/**
 * Whether the signal has aborted. A call, not a property read, because TypeScript narrows
 * `signal.aborted` to false after one check and cannot see the abort happen during an await.
 */
export function aborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

export async function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return;
  try {
    await timers.setTimeout(ms, undefined, { signal });
  } catch {
    // Aborted: the caller sees signal.aborted and stops.
  }
}
