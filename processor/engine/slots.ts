// The operator's capacity, shared fairly between partitions (shards). Flink gives each subtask a
// queue of its own; here one pool serves every shard of a processor, so without a share a shard
// whose head is slow would keep submitting, fill the pool with results waiting behind that head,
// and stall every other shard. Each partition may hold at most ceil(capacity / partitions)
// slots, counting the busy ones (holding or waiting) and at least `minimumPartitions()`; a freed
// slot goes to the partition that has waited longest and is below its share. A partition above
// its share (more partitions became busy) keeps what it holds and takes no more until it is below.
// The pool's limit may move below capacity at run time (adaptive concurrency): the share follows
// it, and slots held above a lowered limit are kept, as above a share; new takers wait.
import { Fifo } from "./fifo.ts";

/** A partition's part of the pool; the pool keeps these counters, its owner only reads them. */
export interface SlotHolder {
  /** Slots held: calls in flight plus results not yet emitted. */
  held: number;
  /** Submissions waiting for a slot, in submission order. */
  readonly waiters: Fifo<() => void>;
  /** True while the holder sits in the pool's list of partitions with waiters. */
  listed: boolean;
}

export interface Slots {
  /** Takes a slot now if the pool and the partition's share allow it, and no one of it waits. */
  tryTake(holder: SlotHolder): boolean;
  /** Queues a submission; `admit` runs once a slot was taken for it. */
  wait(holder: SlotHolder, admit: () => void): void;
  /** Frees a slot of the holder and admits whoever may now take one. */
  release(holder: SlotHolder): void;
  /** A holder with nothing held and no one waiting: its owner may forget it. */
  isIdle(holder: SlotHolder): boolean;
  /**
   * Moves the limit, a whole number in [1, capacity]. Lowered below what is in use, nothing is
   * taken back: slots are handed out again once fewer than the limit are in use. Raised, it admits
   * waiters at once.
   */
  setLimit(limit: number): void;
  readonly inUse: number;
  readonly waiting: number;
  /** Slots the pool hands out now: capacity, or less after setLimit. */
  readonly limit: number;
  /** Slots one busy partition may hold now. */
  readonly share: number;
}

export const newSlotHolder = (): SlotHolder => ({ held: 0, waiters: new Fifo(), listed: false });

/**
 * `minimumPartitions` counts partitions that may become busy at any moment (the shards being
 * read): ordered mode needs it, since slots lent to a partition whose head then stalls come back
 * only when the head ends. Unordered mode may leave it out: each call frees its own slot.
 */
export function createSlots(capacity: number, minimumPartitions: () => number = () => 1): Slots {
  let limit = capacity;
  let inUse = 0;
  let waiting = 0;
  /** Partitions holding slots or waiting for one. */
  let busy = 0;
  const waitingHolders = new Fifo<SlotHolder>();

  const isIdle = (holder: SlotHolder): boolean => holder.held === 0 && holder.waiters.size === 0;
  const share = (): number =>
    Math.max(1, Math.ceil(limit / Math.max(1, busy, minimumPartitions())));
  const mayTake = (holder: SlotHolder): boolean => inUse < limit && holder.held < share();

  const take = (holder: SlotHolder): void => {
    if (isIdle(holder)) busy++;
    holder.held++;
    inUse++;
  };

  /** Round-robin over the partitions with waiters, one admission each, while slots are free. */
  const admitWaiters = (): void => {
    let passed = 0;
    while (inUse < limit && passed < waitingHolders.size) {
      const holder = waitingHolders.shift();
      if (holder === undefined) break;
      const admit = mayTake(holder) ? holder.waiters.shift() : undefined;
      if (admit === undefined) {
        passed++;
      } else {
        passed = 0;
        waiting--;
        // Still busy (it will hold the slot), so take() does not count it again.
        holder.held++;
        inUse++;
        admit();
      }
      if (holder.waiters.size > 0) waitingHolders.push(holder);
      else holder.listed = false;
    }
  };

  return {
    tryTake(holder) {
      if (holder.waiters.size > 0 || !mayTake(holder)) return false;
      take(holder);
      return true;
    },
    wait(holder, admit) {
      if (isIdle(holder)) busy++;
      holder.waiters.push(admit);
      waiting++;
      if (!holder.listed) {
        holder.listed = true;
        waitingHolders.push(holder);
      }
    },
    release(holder) {
      holder.held--;
      inUse--;
      // An idle partition leaves the busy count, which raises every other partition's share.
      if (isIdle(holder)) busy--;
      if (waiting > 0) admitWaiters();
    },
    isIdle,
    setLimit(next) {
      if (Number.isNaN(next)) return;
      const clamped = Math.max(1, Math.min(capacity, Math.floor(next)));
      if (clamped === limit) return;
      const raised = clamped > limit;
      limit = clamped;
      if (raised && waiting > 0) admitWaiters();
    },
    get limit() {
      return limit;
    },
    get inUse() {
      return inUse;
    },
    get waiting() {
      return waiting;
    },
    get share() {
      return share();
    },
  };
}
