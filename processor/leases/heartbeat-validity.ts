// Until when this processor may read its shards, kept apart from the writes as the KCL's
// LeaseRenewer keeps it: others judge the heartbeat expired once they have seen it unchanged for
// its duration, never earlier than its last renewal was sent, so this processor stops reading at
// the send time of its last acknowledged renewal plus the duration, less a margin, whatever its
// pending calls do. Times are this processor's monotonic milliseconds; the arithmetic is pure.

/** Covers the guard timer's period and the reader's reaction, as the old per-shard rule did. */
export const marginMs = (durationMs: number): number => durationMs / 10;

/** How often a guard timer checks the window between renewals: twice per margin. */
export const guardPeriodMs = (durationMs: number): number => durationMs / 20;

/** Until when shards may be read once the renewal sent at `sentMs` was acknowledged. */
export const readableUntil = (sentMs: number, durationMs: number): number =>
  sentMs + durationMs - marginMs(durationMs);

export interface HeartbeatValidityOptions {
  durationMs: number;
  now: () => number;
  /** The window closed on its own or was lapsed: called once per lapse. */
  onLapse(reason: string): void;
}

export type HeartbeatValidity = ReturnType<typeof createHeartbeatValidity>;

export function createHeartbeatValidity(options: HeartbeatValidityOptions) {
  const { durationMs, now } = options;
  /** Monotonic send time of the latest renewal the API server acknowledged. */
  let lastRenewalSent = Number.NEGATIVE_INFINITY;
  let lapsed = true;
  const lapse = (reason: string): void => {
    if (lapsed) return;
    lapsed = true;
    options.onLapse(reason);
  };
  const check = (): void => {
    if (now() >= readableUntil(lastRenewalSent, durationMs)) {
      lapse(`heartbeat not renewed within ${String(durationMs - marginMs(durationMs))} ms`);
    }
  };
  return {
    /**
     * The renewal sent at `sentMs` was acknowledged (answers may come in any order); true when
     * that opened the window again.
     */
    acknowledged(sentMs: number): boolean {
      lastRenewalSent = Math.max(lastRenewalSent, sentMs);
      if (!lapsed || now() >= readableUntil(lastRenewalSent, durationMs)) return false;
      lapsed = false;
      return true;
    },
    /** Closes the window now (the heartbeat was written or deleted by someone else). */
    lapse,
    /** Lapses the window if it is due. */
    check,
    /** True while shards may be read; lapses the window first if it is due. */
    live(): boolean {
      check();
      return !lapsed;
    },
    /** Closes the window without a lapse: the processor stopped after releasing its shards. */
    close(): void {
      lapsed = true;
    },
  };
}
