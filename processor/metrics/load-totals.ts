// Running totals of a processor's load, for the operator's autoscaler: successful endpoint
// attempts and their summed duration, and the engine's calls in flight sampled at a steady pace.
// Totals rather than means, so each reader takes the difference over its own interval (the
// heartbeat's): mean latency = Δ seconds / Δ successes, mean in flight = Δ sum / Δ samples.
import type { CallObserver } from "../http/caller.ts";

export interface LoadTotals {
  successes: number;
  successSeconds: number;
  inFlightSum: number;
  inFlightSamples: number;
}

export interface LoadFigures {
  /** Mean latency of successful attempts over the interval, in milliseconds. */
  endpointLatencyMillis?: number;
  /** Mean calls in flight over the interval. */
  inFlight?: number;
}

/** The means between two readings; a figure with nothing to average over is left out. */
export function loadFigures(before: LoadTotals | undefined, after: LoadTotals): LoadFigures {
  const successes = after.successes - (before?.successes ?? 0);
  const samples = after.inFlightSamples - (before?.inFlightSamples ?? 0);
  const round = (value: number): number => Math.round(value * 100) / 100;
  return {
    ...(successes > 0
      ? {
          endpointLatencyMillis: round(
            ((after.successSeconds - (before?.successSeconds ?? 0)) * 1000) / successes,
          ),
        }
      : {}),
    ...(samples > 0
      ? { inFlight: round((after.inFlightSum - (before?.inFlightSum ?? 0)) / samples) }
      : {}),
  };
}

export interface LoadTracker {
  /** A copy of the totals now. */
  totals(): LoadTotals;
  /** The observer with successful attempts counted too. */
  observing(observer: CallObserver): CallObserver;
  /** Samples `inFlight()` every `sampleMs` (an unref'd timer) from now until stop. */
  sampleInFlight(inFlight: () => number, sampleMs?: number): void;
  stop(): void;
}

/** Counts successful attempts; in-flight sampling starts once the engine exists to sample. */
export function createLoadTracker(): LoadTracker {
  const totals: LoadTotals = {
    successes: 0,
    successSeconds: 0,
    inFlightSum: 0,
    inFlightSamples: 0,
  };
  let timer: NodeJS.Timeout | undefined;
  return {
    totals: () => ({ ...totals }),
    observing: (observer) => ({
      attempt(seconds, result, failure) {
        observer.attempt(seconds, result, failure);
        if (result !== "success") return;
        totals.successes++;
        totals.successSeconds += seconds;
      },
      retry: () => {
        observer.retry();
      },
    }),
    sampleInFlight(inFlight, sampleMs = 200) {
      clearInterval(timer);
      timer = setInterval(() => {
        totals.inFlightSum += inFlight();
        totals.inFlightSamples++;
      }, sampleMs);
      timer.unref();
    },
    stop: () => {
      clearInterval(timer);
    },
  };
}
