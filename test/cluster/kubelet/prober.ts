// A running container's probes, with the kubelet's semantics: nothing but the startup probe runs
// until it passes; readiness flips after successThreshold passes or failureThreshold failures;
// failureThreshold liveness (or startup) failures in a row ask for the container to be killed.
// Timings honour initialDelaySeconds (from the container's start) and periodSeconds.
import { setTimeout as delay } from "node:timers/promises";
import { runProbe, type ProbeTarget } from "./probe.ts";
import type { Probe } from "./types.ts";

export interface ProberEvents {
  started(): void;
  readiness(ready: boolean): void;
  /** The container failed its liveness or startup probe and must be killed. */
  failed(message: string): void;
}

export interface Prober {
  stop(): void;
}

export function startProber(target: ProbeTarget, events: ProberEvents): Prober {
  const abort = new AbortController();
  const { signal } = abort;
  const startedAt = Date.now();
  const { startupProbe, livenessProbe, readinessProbe } = target.container;

  // Runs a probe every period; calls onResult with the counts of passes or failures in a row.
  const loop = async (
    probe: Probe,
    onResult: (ok: boolean, inARow: number, detail: string) => boolean,
  ): Promise<void> => {
    const initialMs = (probe.initialDelaySeconds ?? 0) * 1000 - (Date.now() - startedAt);
    if (initialMs > 0) await delay(initialMs, undefined, { signal });
    let last: boolean | undefined;
    let inARow = 0;
    for (;;) {
      const result = await runProbe(probe, target);
      if (signal.aborted) return;
      inARow = result.ok === last ? inARow + 1 : 1;
      last = result.ok;
      if (!onResult(result.ok, inARow, result.detail)) return;
      await delay((probe.periodSeconds ?? 10) * 1000, undefined, { signal });
    }
  };
  const guard = (run: Promise<void>): void => {
    run.catch((error: unknown) => {
      // Aborting the delays is how the prober stops; anything else is a bug worth seeing.
      if (!signal.aborted) throw error;
    });
  };

  const afterStart = (): void => {
    events.started();
    if (readinessProbe === undefined) {
      events.readiness(true);
    } else {
      const successes = readinessProbe.successThreshold ?? 1;
      const failures = readinessProbe.failureThreshold ?? 3;
      let ready = false;
      guard(
        loop(readinessProbe, (ok, inARow) => {
          if (ok !== ready && inARow >= (ok ? successes : failures)) {
            ready = ok;
            events.readiness(ready);
          }
          return true;
        }),
      );
    }
    if (livenessProbe !== undefined) {
      const failures = livenessProbe.failureThreshold ?? 3;
      guard(
        loop(livenessProbe, (ok, inARow, detail) => {
          if (ok || inARow < failures) return true;
          events.failed(`Liveness probe failed: ${detail}`);
          return false;
        }),
      );
    }
  };

  if (startupProbe === undefined) {
    afterStart();
  } else {
    const failures = startupProbe.failureThreshold ?? 3;
    guard(
      loop(startupProbe, (ok, inARow, detail) => {
        if (ok) {
          afterStart();
          return false;
        }
        if (inARow >= failures) {
          events.failed(`Startup probe failed: ${detail}`);
          return false;
        }
        return true;
      }),
    );
  }
  return {
    stop: () => {
      abort.abort();
    },
  };
}
