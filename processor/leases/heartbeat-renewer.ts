// Renews this processor's heartbeat Lease on its own schedule, apart from the taker's syncs (as
// the KCL's LeaseRenewer is apart from its LeaseTaker), and says until when this processor may
// read its shards. It composes three parts: the Lease's writes (heartbeat-writer.ts), the window
// in which shards may be read (heartbeat-validity.ts, with why it closes at the last acknowledged
// renewal's send time plus the duration, less a margin) and the schedule
// (heartbeat-schedule.ts). Only this processor writes its heartbeat, so a conflict (other than
// with one of its own renewals that landed late, which the writer renews over) or a deletion
// means something is wrong and counts as a lapse too.
import type { CoordinationV1Api } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { statusCode } from "./api-deadline.ts";
import type { NewHeartbeat, ProcessorProgress } from "./heartbeat-lease.ts";
import { createRenewalSchedule } from "./heartbeat-schedule.ts";
import { createHeartbeatValidity, guardPeriodMs } from "./heartbeat-validity.ts";
import { createHeartbeatWriter } from "./heartbeat-writer.ts";

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
  const { logger, renewIntervalMs } = options;
  const now = options.now ?? (() => performance.now());
  const durationMs = options.lease.leaseDurationSeconds * 1000;
  const writer = createHeartbeatWriter({
    api: options.api,
    lease: options.lease,
    deadlineMs: Math.min(renewIntervalMs, durationMs / 2),
    progress: () => options.progress(),
    wallClock: options.wallClock ?? (() => new Date()),
  });
  const { name } = writer;
  const validity = createHeartbeatValidity({
    durationMs,
    now,
    onLapse: (reason) => {
      logger.warn({ heartbeat: name, reason }, "heartbeat lapsed; stopped reading every shard");
      options.onLapse(reason);
    },
  });

  const renew = async (): Promise<void> => {
    // Timed from before the request: the API server applies it, and others start timing its
    // expiry, no earlier than that.
    const sent = now();
    try {
      await writer.write();
      if (validity.acknowledged(sent)) {
        logger.info({ heartbeat: name }, "heartbeat renewed; shards may be read");
      }
    } catch (error) {
      const code = statusCode(error);
      if (code === 409 || code === 404) {
        // Someone else wrote or deleted our heartbeat: whatever they meant, others may judge it
        // differently from us now. Stop reading; the writer starts again from what is stored.
        validity.lapse(
          code === 409
            ? "another client wrote the heartbeat Lease"
            : "the heartbeat Lease was deleted",
        );
      } else {
        logger.warn({ heartbeat: name, err: error }, "renewing the heartbeat failed");
      }
    }
    validity.check();
  };
  const schedule = createRenewalSchedule({
    intervalMs: renewIntervalMs,
    guardPeriodMs: guardPeriodMs(durationMs),
    now,
    renew,
    check: validity.check,
  });

  return {
    name,
    start: () => schedule.start(),
    renew,
    live: () => validity.live(),
    check: validity.check,
    async stop() {
      await schedule.stop();
      validity.close();
      try {
        await writer.remove();
      } catch (error) {
        logger.warn({ heartbeat: name, err: error }, "deleting the heartbeat failed");
      }
    },
  };
}
