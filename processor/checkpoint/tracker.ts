// Per shard, which sequence number may be checkpointed: the highest one whose record and every
// earlier record of the shard has been acknowledged (written to the sink or the dead letter, or
// dropped by policy). Records are tracked in read order, so a slow record holds the checkpoint
// back and a crash replays it rather than losing it. The reader stops reading a shard while too
// many of its records are pending, so a stuck record bounds memory and replay instead of growing
// them with the backlog.
import { Fifo } from "../engine/fifo.ts";

/** The handle of one tracked record; acknowledge it exactly once when its output is durable. */
export interface Receipt {
  readonly sequenceNumber: string;
  acknowledged: boolean;
  readonly tracker: ShardTracker;
}

export interface ShardTracker {
  readonly shardId: string;
  /** Starts tracking a record; call in the order the records were read. */
  track(sequenceNumber: string): Receipt;
  /** Highest sequence number that is safe to checkpoint, or the starting one if none is yet. */
  readonly checkpointable: string | undefined;
  /** Records read and not yet acknowledged. */
  readonly pending: number;
  /**
   * Resolves once fewer than `limit` records are pending, or when the signal aborts; undefined
   * if fewer are pending already.
   */
  whenPendingBelow(limit: number, signal: AbortSignal): Promise<void> | undefined;
  /** Records acknowledged in read order so far (those the checkpoint has passed). */
  readonly acknowledged: number;
  /** Marks that the shard was read to its end; `finished` turns true once all is acknowledged. */
  markEnded(): void;
  readonly finished: boolean;
}

export function acknowledge(receipt: Receipt): void {
  if (receipt.acknowledged) return;
  receipt.acknowledged = true;
  (receipt.tracker as TrackerState).advance();
}

interface TrackerState extends ShardTracker {
  advance(): void;
}

export function createShardTracker(shardId: string, startAfter?: string): ShardTracker {
  const unacknowledged = new Fifo<Receipt>();
  let checkpointable = startAfter;
  let ended = false;
  let acknowledgedCount = 0;
  const belowWaiters: { limit: number; resolve: () => void }[] = [];
  const tracker: TrackerState = {
    shardId,
    track(sequenceNumber) {
      const receipt: Receipt = { sequenceNumber, acknowledged: false, tracker };
      unacknowledged.push(receipt);
      return receipt;
    },
    advance() {
      for (let head = unacknowledged.peek(); head?.acknowledged === true;) {
        checkpointable = head.sequenceNumber;
        unacknowledged.shift();
        acknowledgedCount++;
        head = unacknowledged.peek();
      }
      for (let index = belowWaiters.length - 1; index >= 0; index--) {
        const waiter = belowWaiters[index];
        if (waiter !== undefined && unacknowledged.size < waiter.limit) {
          belowWaiters.splice(index, 1);
          waiter.resolve();
        }
      }
    },
    get checkpointable() {
      return checkpointable;
    },
    get pending() {
      return unacknowledged.size;
    },
    whenPendingBelow(limit, signal) {
      if (unacknowledged.size < limit || signal.aborted) return undefined;
      return new Promise<void>((resolve) => {
        const onAbort = (): void => {
          const index = belowWaiters.indexOf(waiter);
          if (index >= 0) belowWaiters.splice(index, 1);
          resolve();
        };
        const waiter = {
          limit,
          resolve: () => {
            signal.removeEventListener("abort", onAbort);
            resolve();
          },
        };
        belowWaiters.push(waiter);
        signal.addEventListener("abort", onAbort, { once: true });
      });
    },
    get acknowledged() {
      return acknowledgedCount;
    },
    markEnded() {
      ended = true;
    },
    get finished() {
      return ended && unacknowledged.size === 0;
    },
  };
  return tracker;
}
