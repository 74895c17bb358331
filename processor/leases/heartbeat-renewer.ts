// Renews this processor's heartbeat Lease on its own schedule, apart from the taker's syncs (as
// the KCL's LeaseRenewer is apart from its LeaseTaker), and says until when this processor may
// read its shards: others judge the heartbeat expired once they have seen it unchanged for its
// duration, never earlier than its last renewal was sent, so this processor stops reading at the
// send time of its last acknowledged renewal plus the duration, less a margin, whatever its
// pending calls do. Every write is fenced by the resourceVersion; only this processor writes its
// heartbeat, so a conflict or a deletion means something is wrong and counts as a lapse too.
import type { CoordinationV1Api, V1Lease } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { bounded, statusCode } from "./api-deadline.ts";
import {
  heartbeatLeaseName,
  newHeartbeatLease,
  renewedHeartbeat,
  toHeartbeat,
  type Heartbeat,
  type NewHeartbeat,
  type ProcessorProgress,
} from "./heartbeat-lease.ts";

export interface HeartbeatRenewerOptions {
  api: CoordinationV1Api;
  lease: NewHeartbeat;
  renewIntervalMs: number;
  /** The figures written with each renewal. */
  progress(): ProcessorProgress | undefined;
  /** The heartbeat lapsed: stop reading every shard now. Called once per lapse. */
  onLapse(reason: string): void;
  logger: Logger;
  /** Monotonic milliseconds; a test may replace it. */
  now?: () => number;
  /** The wall clock written as renewTime (for people and the operator's status only). */
  wallClock?: () => Date;
}

export interface HeartbeatRenewer {
  readonly name: string;
  /** Creates (or adopts) the heartbeat and renews it until `stop`; resolves after the first try. */
  start(): Promise<void>;
  /** One renewal, as the schedule runs it. */
  renew(): Promise<void>;
  /** True while shards may be read: the last acknowledged renewal is recent enough. */
  live(): boolean;
  /** Lapses the heartbeat if it is due; a timer runs it too. */
  check(): void;
  /** Stops renewing and deletes the heartbeat (after the shards were released). */
  stop(): Promise<void>;
}

export function createHeartbeatRenewer(options: HeartbeatRenewerOptions): HeartbeatRenewer {
  const { api, lease: spec, renewIntervalMs, logger } = options;
  const now = options.now ?? (() => performance.now());
  const wallClock = options.wallClock ?? (() => new Date());
  const { namespace } = spec;
  const name = heartbeatLeaseName(spec.prefix, spec.processor);
  const durationMs = spec.leaseDurationSeconds * 1000;
  // Covers the guard timer's period and the reader's reaction, as the old per-shard rule did.
  const marginMs = durationMs / 10;
  const callDeadlineMs = Math.min(renewIntervalMs, durationMs / 2);
  let current: Heartbeat | undefined;
  /** Monotonic send time of the latest renewal the API server acknowledged. */
  let lastRenewalSent = Number.NEGATIVE_INFINITY;
  let lapsed = true;
  let stopped = false;
  const isStopped = (): boolean => stopped;
  let loop: Promise<void> | undefined;
  let guard: NodeJS.Timeout | undefined;
  let wake: NodeJS.Timeout | undefined;
  let wakeUp: (() => void) | undefined;
  let first: Promise<void> | undefined;

  const validUntil = (): number => lastRenewalSent + durationMs - marginMs;
  const lapse = (reason: string): void => {
    if (lapsed) return;
    lapsed = true;
    logger.warn({ heartbeat: name, reason }, "heartbeat lapsed; stopped reading every shard");
    options.onLapse(reason);
  };
  const check = (): void => {
    if (now() >= validUntil()) {
      lapse(`heartbeat not renewed within ${String(durationMs - marginMs)} ms`);
    }
  };

  const write = async (): Promise<V1Lease> => {
    if (current === undefined) {
      try {
        return await bounded(
          api.createNamespacedLease({ namespace, body: newHeartbeatLease(spec, wallClock()) }),
          callDeadlineMs,
          `creating heartbeat Lease ${name}`,
        );
      } catch (error) {
        if (statusCode(error) !== 409) throw error;
        // Ours from before a container restart: renew it from its current version.
        const found = toHeartbeat(
          await bounded(
            api.readNamespacedLease({ name, namespace }),
            callDeadlineMs,
            `reading heartbeat Lease ${name}`,
          ),
        );
        if (found === undefined)
          throw new Error(`Lease ${name} is not a heartbeat`, { cause: error });
        current = found;
      }
    }
    const body = renewedHeartbeat(
      current,
      spec.leaseDurationSeconds,
      options.progress(),
      wallClock(),
    );
    return bounded(
      api.replaceNamespacedLease({ name, namespace, body }),
      callDeadlineMs,
      `renewing heartbeat Lease ${name}`,
    );
  };

  const renew = async (): Promise<void> => {
    // Timed from before the request: the API server applies it, and others start timing its
    // expiry, no earlier than that.
    const sent = now();
    try {
      const written = toHeartbeat(await write());
      if (written === undefined) throw new Error(`Lease ${name} lost its heartbeat annotation`);
      current = written;
      lastRenewalSent = Math.max(lastRenewalSent, sent);
      if (lapsed && now() < validUntil()) {
        lapsed = false;
        logger.info({ heartbeat: name }, "heartbeat renewed; shards may be read");
      }
    } catch (error) {
      const code = statusCode(error);
      if (code === 409 || code === 404) {
        // Someone else wrote or deleted our heartbeat: whatever they meant, others may judge it
        // differently from us now. Stop reading, and start again from what is stored.
        current = undefined;
        lapse(
          code === 409
            ? "another client wrote the heartbeat Lease"
            : "the heartbeat Lease was deleted",
        );
      } else {
        logger.warn({ heartbeat: name, err: String(error) }, "renewing the heartbeat failed");
      }
    }
    check();
  };

  return {
    name,
    start() {
      if (first !== undefined) return first;
      guard = setInterval(check, durationMs / 20);
      guard.unref();
      first = renew();
      loop = (async () => {
        let started = now();
        await first;
        while (!stopped) {
          await new Promise<void>((resolve) => {
            wakeUp = resolve;
            wake = setTimeout(resolve, Math.max(0, renewIntervalMs - (now() - started)));
          });
          if (isStopped()) break;
          started = now();
          await renew();
        }
      })();
      return first;
    },
    renew,
    live: () => {
      check();
      return !lapsed;
    },
    check,
    async stop() {
      stopped = true;
      clearTimeout(wake);
      wakeUp?.();
      clearInterval(guard);
      await loop;
      lapsed = true;
      try {
        await bounded(
          api.deleteNamespacedLease({ name, namespace }),
          callDeadlineMs,
          `deleting heartbeat Lease ${name}`,
        );
      } catch (error) {
        if (statusCode(error) !== 404) {
          logger.warn({ heartbeat: name, err: String(error) }, "deleting the heartbeat failed");
        }
      }
    },
  };
}
