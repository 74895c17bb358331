// Calls the endpoint for one record on the endpoint dispatcher (endpoint-dispatcher.ts). Every call
// ends: each attempt has a timeout and the whole call a deadline covering retries and backoffs,
// so a request that never answers cannot hold a slot forever.
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { EndpointConfig } from "../config/schema.ts";
import { backoffDelay, parseRetryAfter } from "./backoff.ts";
import { createEndpointDispatcher } from "./endpoint-dispatcher.ts";
import type { PreparedRequest } from "./request-mapping.ts";

export type FailureKind = "status" | "timeout" | "network" | "deadline" | "too-large";

export type CallOutcome =
  | { ok: true; body: Buffer; attempts: number }
  | { ok: false; kind: FailureKind; reason: string; attempts: number; status?: number };

/** An attempt that failed: its HTTP status, if it got one, and why. */
export interface AttemptFailure {
  status: number | undefined;
  reason: string;
}

/** Hooks for metrics and the outage breaker; called on the hot path, so they must be cheap. */
export interface CallObserver {
  attempt(seconds: number, result: "success" | FailureKind, failure?: AttemptFailure): void;
  retry(): void;
}

type Attempt =
  | { ok: true; body: Buffer }
  | {
      ok: false;
      kind: FailureKind;
      reason: string;
      retryable: boolean;
      status?: number;
      retryAfterMs?: number;
    };

/** How a call waits for a rate-limit token: the engine leaves that time out of its bounds. */
export interface AdmissionWait {
  waitFor<T>(waiting: Promise<T>): Promise<T>;
}

export interface Caller {
  call(request: PreparedRequest, admission?: AdmissionWait): Promise<CallOutcome>;
  /** Closes the pool once running calls end. */
  close(): Promise<void>;
  /** Closes the pool now, failing running calls (shutdown past its grace period). */
  destroy(): Promise<void>;
}

export interface CallerOptions {
  endpoint: EndpointConfig;
  origin: string;
  /** Calls in flight at most (the capacity): HTTP/1.1 opens as many connections. */
  connections: number;
  /** Values of headers given by environment variable name (filled from Secrets). */
  env: NodeJS.ProcessEnv;
  observer?: CallObserver;
  /** Where TLS failures and reloads of the TLS files are reported. */
  logger?: Logger;
  /** The job's rate limit: each attempt waits for a token first (undefined: one was free). */
  admit?: () => Promise<void> | undefined;
}

const retryableStatus = (status: number): boolean => status === 429 || status >= 500;

/** Resolves header values once at start; a missing variable is a config error, named plainly. */
export function resolveHeaders(
  endpoint: EndpointConfig,
  env: NodeJS.ProcessEnv,
): Record<string, string> {
  const headers: Record<string, string> = {};
  endpoint.headers.forEach((header, index) => {
    const value = header.value ?? env[header.fromEnv ?? ""];
    if (value === undefined) {
      throw new Error(
        `endpoint.headers[${index}] (${header.name}): environment variable ${header.fromEnv ?? ""} is not set; check the Secret it is filled from`,
      );
    }
    headers[header.name.toLowerCase()] = value;
  });
  return headers;
}

export function createCaller(options: CallerOptions): Caller {
  const { endpoint, observer } = options;
  const baseHeaders = resolveHeaders(endpoint, options.env);
  const bodyHeaders = { ...baseHeaders, "content-type": endpoint.contentType };
  const dispatcher = createEndpointDispatcher({
    origin: options.origin,
    endpoint,
    capacity: options.connections,
    logger: options.logger,
  });

  const attemptOnce = async (request: PreparedRequest, timeoutMs: number): Promise<Attempt> => {
    const sent = dispatcher.send({
      path: request.path,
      method: endpoint.method,
      headers: request.body === undefined ? baseHeaders : bodyHeaders,
      body: request.body,
    });
    const attempt = { timedOut: false };
    const timer = setTimeout(
      () => {
        attempt.timedOut = true;
        sent.abort(new Error("attempt timed out"));
      },
      Math.max(1, Math.ceil(timeoutMs)),
    );
    try {
      const response = await sent.response;
      const { body, statusCode: status } = response;
      if (status >= 200 && status < 300) return { ok: true, body };
      const retryAfterMs = parseRetryAfter(response.headers["retry-after"]);
      return {
        ok: false,
        kind: "status",
        status,
        retryable: retryableStatus(status),
        reason: `HTTP ${status}: ${body.toString("utf8", 0, Math.min(body.length, 200))}`,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      };
    } catch (error) {
      if (attempt.timedOut) {
        return {
          ok: false,
          kind: "timeout",
          retryable: true,
          reason: `no answer within ${Math.round(timeoutMs)} ms`,
        };
      }
      const cause = error as NodeJS.ErrnoException;
      if (cause.code === "UND_ERR_RES_EXCEEDED_MAX_SIZE") {
        return {
          ok: false,
          kind: "too-large",
          retryable: false,
          reason: `response body exceeds maxResponseBytes (${endpoint.maxResponseBytes} bytes)`,
        };
      }
      return {
        ok: false,
        kind: "network",
        retryable: true,
        reason: `${cause.code ?? cause.name}: ${cause.message}`,
      };
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    async call(request, admission) {
      let deadline = performance.now() + endpoint.deadlineMs;
      for (let attempt = 1; ; attempt++) {
        // Before the attempt's timer: a token wait spends neither its timeout nor the deadline.
        const admitted = options.admit?.();
        if (admitted !== undefined) {
          const waitedFrom = performance.now();
          await (admission === undefined ? admitted : admission.waitFor(admitted));
          deadline += performance.now() - waitedFrom;
        }
        const started = performance.now();
        const result = await attemptOnce(request, Math.min(endpoint.timeoutMs, deadline - started));
        observer?.attempt(
          (performance.now() - started) / 1000,
          result.ok ? "success" : result.kind,
          result.ok ? undefined : { status: result.status, reason: result.reason },
        );
        if (result.ok) return { ok: true, body: result.body, attempts: attempt };
        const failure = {
          ok: false as const,
          kind: result.kind,
          reason: result.reason,
          attempts: attempt,
          ...(result.status === undefined ? {} : { status: result.status }),
        };
        if (!result.retryable || attempt >= endpoint.retry.maxAttempts) return failure;
        const delay = backoffDelay(endpoint.retry, attempt, result.retryAfterMs);
        const pastDeadline = {
          ...failure,
          kind: "deadline" as const,
          reason: `deadline of ${endpoint.deadlineMs} ms reached after ${attempt} attempts; last: ${result.reason}`,
        };
        if (performance.now() + delay >= deadline) return pastDeadline;
        observer?.retry();
        if (delay > 0) await sleep(delay);
        // A busy event loop can wake past the deadline: no attempt with no time left.
        if (performance.now() >= deadline) return pastDeadline;
      }
    },
    close: () => dispatcher.close(),
    destroy: () => dispatcher.destroy(),
  };
}
