// Outage policy `pause`: a record whose call failed as an outage does (connection refused or
// reset, timeout, 429, 5xx, its deadline spent on those) is not sent to the failure policy until
// the endpoint shows it is up: it waits, holding its slot, until another call gets an answer
// (then the failure was the record's own and follows the failure policy) or the breaker opens
// (then it is tried again once the endpoint answers). So an outage costs lag, not dead letters.
// Failures of the record's own kind (another 4xx, a response the mapping cannot use) follow the
// failure policy at once.
import type { Logger } from "pino";
import type { EndpointConfig } from "../config/schema.ts";
import type { CallControl } from "../engine/async-wait.ts";
import type { CallObserver } from "../http/caller.ts";
import { createOutageBreaker, observeOutages, type OutageBreaker } from "../http/outage-breaker.ts";
import type { SourceRecord } from "../kinesis/shard-reader.ts";
import type { ProcessorMetrics } from "../metrics/processor-metrics.ts";
import type { Enrichment, Failure } from "./enrich.ts";

export function isOutageFailure(failure: Failure): boolean {
  switch (failure.kind) {
    case "network":
    case "timeout":
    case "deadline":
      return true;
    case "status":
      return failure.status === 429 || (failure.status ?? 0) >= 500;
    case "too-large":
    case "mapping":
    case "internal":
      return false;
    default: {
      const unhandled: never = failure.kind;
      throw new Error(`unknown failure kind ${String(unhandled)}`);
    }
  }
}

export function pauseThroughOutages(
  enrich: (record: SourceRecord, call: CallControl) => Promise<Enrichment>,
  breaker: OutageBreaker,
  /** How long a failed record waits for a verdict before it is simply tried again. */
  verdictWithinMs: number,
): (record: SourceRecord, call: CallControl) => Promise<Enrichment> {
  /** Waits with the slot's last-resort timeout suspended: the record waits for, not on, a call. */
  const waitingFor = async <T>(call: CallControl, promise: Promise<T>): Promise<T> => {
    call.suspendTimeout();
    try {
      return await promise;
    } finally {
      call.resumeTimeout();
    }
  };
  /** After an outage-like failure: wait for a verdict, and try again while it is not an answer. */
  const untilAnswered = async (
    record: SourceRecord,
    call: CallControl,
    failed: Failure,
  ): Promise<Enrichment> => {
    for (let result: Enrichment = failed; ;) {
      const verdict = await waitingFor(
        call,
        breaker.verdictAfter(performance.now(), verdictWithinMs),
      );
      if (verdict === "answered") return result;
      const admitted = breaker.admit();
      if (admitted !== undefined) await waitingFor(call, admitted);
      result = await enrich(record, call);
      if (result.ok || !isOutageFailure(result)) return result;
    }
  };
  return (record, call) => {
    // While the breaker is closed (nearly always) a record costs one derived promise, not an
    // async function's frame: this wrapper sits on every record's path.
    const admitted = breaker.admit();
    const result =
      admitted === undefined
        ? enrich(record, call)
        : waitingFor(call, admitted).then(() => enrich(record, call));
    return result.then((done) =>
      done.ok || !isOutageFailure(done) ? done : untilAnswered(record, call, done),
    );
  };
}

/**
 * The breaker of a processor whose outage policy is pause, reporting to the metrics and the log;
 * undefined for policy failurePolicy.
 */
export function outageBreakerFor(
  outage: EndpointConfig["outage"],
  metrics: ProcessorMetrics,
  logger: Logger,
): OutageBreaker | undefined {
  if (outage.policy !== "pause") return undefined;
  return createOutageBreaker({
    ...outage,
    onChange: (state, reason) => {
      metrics.endpointPaused.set(state === "closed" ? 0 : 1);
      if (state === "closed") {
        logger.info("the endpoint answers again; calls resume");
      } else if (state === "open") {
        metrics.endpointOutages.inc();
        logger.warn(
          { reason },
          "the endpoint is not answering; calls paused, records wait in the stream, probing",
        );
      }
    },
  });
}

/** The caller's observer, also feeding the breaker when there is one. */
export function withOutageObserver(
  observer: CallObserver,
  breaker: OutageBreaker | undefined,
): CallObserver {
  if (breaker === undefined) return observer;
  const outages = observeOutages(breaker);
  return {
    attempt(seconds, result, failure) {
      observer.attempt(seconds, result, failure);
      outages(seconds, result, failure);
    },
    retry: () => {
      observer.retry();
    },
  };
}
