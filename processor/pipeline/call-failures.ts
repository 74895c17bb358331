// The outputs of calls the async operator ends itself, and which failures tell the adaptive limit
// that the endpoint is overloaded.
import type { EndpointConfig } from "../config/schema.ts";
import { describeError } from "../kinesis/errors.ts";
import type { Enrichment } from "./enrich.ts";
import { isOutageFailure } from "./pause-through-outage.ts";

/** A call the operator's last-resort timeout ended (a bug below the caller's deadline). */
export const deadlineFailure = (endpoint: EndpointConfig): Enrichment => ({
  ok: false,
  reason: `no result within the deadline (${endpoint.deadlineMs} ms)`,
  kind: "deadline",
  attempts: 0,
  startedAt: Date.now(),
});

/** A call whose code threw: the enricher never rejects, so this is a bug, not the endpoint. */
export const internalFailure = (error: unknown): Enrichment => ({
  ok: false,
  reason: describeError(error),
  kind: "internal",
  attempts: 0,
  startedAt: Date.now(),
});

/** Overload, for the adaptive limit: an outage-like failure, or any that needed retries. */
export const isDrop = (result: Enrichment): boolean =>
  !result.ok && (result.attempts > 1 || isOutageFailure(result));
