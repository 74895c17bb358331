// The Async I/O operator: at most `capacity` calls in flight, results emitted in order or as they
// complete, and a caller that submits while the operator is full waits for a free slot. That wait
// is the backpressure: readers stop fetching, so memory follows capacity, not the backlog.
// With a limiter (adaptive concurrency), each call's latency feeds it and the slot pool hands out
// the limit it sets, at most capacity.
import type { GradientLimit } from "./adaptive-limit.ts";
import { createDeadlines, type DeadlineNode } from "./deadlines.ts";
import { Fifo } from "./fifo.ts";
import { createOrderedQueue } from "./ordered-queue.ts";
import type { QueueEntry, ResultQueue } from "./result-queue.ts";
import { createSlots, newSlotHolder, type SlotHolder } from "./slots.ts";
import { createUnorderedQueue } from "./unordered-queue.ts";

export type Ordering = "ordered" | "unordered";

export interface AsyncWaitOptions<In, Out> {
  capacity: number;
  ordering: Ordering;
  /**
   * The partition (a shard) of an element. Ordered mode keeps order within a partition, and in
   * both modes each busy partition gets a fair share of the capacity, so one slow shard does not
   * stall the others.
   */
  partitionOf(input: In): string;
  /**
   * Ordered mode: how many partitions are open (the shards being read), each of which gets its
   * share of the capacity even while it is idle, so a stalled head cannot keep slots it borrowed
   * from a partition that becomes busy later. Unordered mode ignores it and shares among the busy.
   */
  openPartitions?(): number;
  /** Starts the call for one element. */
  invoke(input: In, call: CallControl): Promise<Out>;
  /**
   * Last-resort bound on a call, as Flink's AsyncFunction#timeout: no slot is held forever. A call
   * waiting for an endpoint outage to end suspends it (each of its tries is bounded below).
   */
  timeoutMs: number;
  /** The output for a call that did not end within timeoutMs (its late result is ignored). */
  onTimeout(input: In): Out;
  /** The output for a call whose promise rejected. */
  onError(input: In, error: unknown): Out;
  /**
   * Hands a result downstream. Returning a promise pauses emission (and so frees no slot) until
   * it settles: that is how a full sink pushes back on the calls.
   */
  emit(input: In, output: Out): void | Promise<void>;
  /** Called once if emit throws or rejects; the operator then stops emitting. */
  onFatal(error: unknown): void;
  /**
   * Adaptive concurrency (opt-in): every call that ends feeds its latency to the limiter, and the
   * operator admits Math.floor(limiter.limit) elements at most (never above capacity). A lowered
   * limit cancels nothing: new elements wait until fewer are held.
   */
  limiter?: Pick<GradientLimit, "onSample" | "limit">;
  /**
   * Whether a call's output tells of overload (timed out, refused, retried): the limiter leaves
   * its latency out and counts it as dropped. So are timeouts (timeoutMs), rejections, and calls
   * that suspended their timeout (they waited for the endpoint, not on it).
   */
  isDrop?(output: Out): boolean;
}

export interface AsyncWait<In> {
  /**
   * Adds an element. Returns undefined when it was taken at once, or a promise that resolves once
   * a slot was free and the element was taken (await it before submitting the next one of the
   * same partition). Throws OperatorStoppedError after a fatal emit error.
   */
  submit(input: In): Promise<void> | undefined;
  /** Elements held: calls in flight plus results not yet emitted. */
  readonly inFlight: number;
  /** Submissions waiting for a slot. */
  readonly waiting: number;
  /** Elements the operator admits now: capacity, or the limiter's limit. */
  readonly limit: number;
  /**
   * Resolves once nothing is in flight or waiting, or at once after a fatal emit error (what is
   * held then will never be emitted, so its records stay unacknowledged and are read again).
   */
  drained(): Promise<void>;
}

/** What a running call may do with its slot's last-resort timeout. */
export interface CallControl {
  /** Holds the slot without the timeout: the call waits for the endpoint, not on it. */
  suspendTimeout(): void;
  /** Starts the timeout afresh. */
  resumeTimeout(): void;
  /**
   * Waits for admission (a rate-limit token) holding the slot: the time is left out of the
   * timeout and of the latency the limiter sees, and the call still counts as a sample.
   */
  waitFor<T>(waiting: Promise<T>): Promise<T>;
}

/** Raised by submit once the operator stopped on a fatal emit error. */
export class OperatorStoppedError extends Error {
  constructor() {
    super("the async operator has stopped after a fatal emit error");
    this.name = "OperatorStoppedError";
  }
}

interface Partition<In, Out> extends SlotHolder {
  readonly key: string;
  readonly queue: ResultQueue<In, Out>;
  /** True while the partition sits in the ready list, waiting for the emitter. */
  scheduled: boolean;
}

export function createAsyncWait<In, Out>(options: AsyncWaitOptions<In, Out>): AsyncWait<In> {
  const { capacity, timeoutMs, limiter } = options;
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  }
  const newQueue = options.ordering === "ordered" ? createOrderedQueue : createUnorderedQueue;
  const slots = createSlots(
    capacity,
    options.ordering === "ordered" ? () => options.openPartitions?.() ?? 1 : undefined,
  );
  // A partition is forgotten as soon as it holds nothing and no one waits for it (never while it
  // holds an element), so a long-lived process keeps none for finished shards, and an element
  // always belongs to the one partition object its key maps to.
  const partitions = new Map<string, Partition<In, Out>>();
  const ready = new Fifo<Partition<In, Out>>();
  const idle: (() => void)[] = [];
  let emitting = false;
  let failed = false;
  /** Calls started and not ended: what the endpoint sees (held slots also count unemitted results). */
  let calling = 0;
  if (limiter !== undefined) slots.setLimit(limiter.limit);

  const partitionFor = (input: In): Partition<In, Out> => {
    const key = options.partitionOf(input);
    let partition = partitions.get(key);
    if (partition === undefined) {
      partition = { key, queue: newQueue<In, Out>(), scheduled: false, ...newSlotHolder() };
      partitions.set(key, partition);
    }
    return partition;
  };

  /**
   * One element's call, its queue entry and its node in the deadline list at once: one object per
   * record instead of an entry, a timer and the closures around them.
   */
  class Call implements QueueEntry<In, Out>, DeadlineNode, CallControl {
    done = false;
    output: Out | undefined = undefined;
    /** Set for the deadline list. */
    at = 0;
    previous: DeadlineNode | undefined = undefined;
    next: DeadlineNode | undefined = undefined;
    linked = false;
    suspended = false;
    /** Time spent waiting for admission, left out of the latency sample. */
    admissionMs = 0;
    readonly inFlightAtStart = calling;
    readonly startedAt = limiter === undefined ? 0 : performance.now();

    readonly partition: Partition<In, Out>;
    readonly input: In;

    constructor(partition: Partition<In, Out>, input: In) {
      this.partition = partition;
      this.input = input;
    }

    /** The call's end: the first of its result, its error and its timeout. */
    end(output: Out, dropped: boolean): void {
      if (this.done) return;
      calling--;
      if (limiter !== undefined) {
        limiter.onSample(
          performance.now() - this.startedAt - this.admissionMs,
          this.inFlightAtStart,
          dropped || this.suspended || (options.isDrop?.(output) ?? false),
        );
        slots.setLimit(limiter.limit);
      }
      this.done = true;
      this.output = output;
      deadlines.clear(this);
      const { partition } = this;
      partition.queue.complete(this);
      if (!partition.scheduled) {
        partition.scheduled = true;
        ready.push(partition);
      }
      if (!emitting && !failed) emitReady();
    }

    suspendTimeout(): void {
      this.suspended = true;
      deadlines.clear(this);
    }

    resumeTimeout(): void {
      if (!this.done) deadlines.set(this);
    }

    async waitFor<T>(waiting: Promise<T>): Promise<T> {
      deadlines.clear(this);
      const from = performance.now();
      try {
        return await waiting;
      } finally {
        this.admissionMs += performance.now() - from;
        if (!this.done) deadlines.set(this);
      }
    }
  }

  const deadlines = createDeadlines<Call>(timeoutMs, (call) => {
    call.end(options.onTimeout(call.input), true);
  });

  /** Starts the call of an element whose slot is already taken. */
  const start = (partition: Partition<In, Out>, input: In): void => {
    calling++;
    const call = new Call(partition, input);
    partition.queue.push(call);
    deadlines.set(call);
    let result: Promise<Out>;
    try {
      result = options.invoke(input, call);
    } catch (error) {
      call.end(options.onError(input, error), true);
      return;
    }
    result.then(
      (output) => {
        call.end(output, false);
      },
      (error: unknown) => {
        call.end(options.onError(input, error), true);
      },
    );
  };

  const release = (partition: Partition<In, Out>): void => {
    slots.release(partition);
    if (slots.isIdle(partition)) partitions.delete(partition.key);
    if (slots.inUse === 0 && slots.waiting === 0) for (const resolve of idle.splice(0)) resolve();
  };

  const stopOnFatal = (error: unknown): void => {
    failed = true;
    emitting = false;
    for (const resolve of idle.splice(0)) resolve();
    options.onFatal(error);
  };

  /**
   * Emits every result that may leave, one partition at a time. Synchronous while the sink takes
   * results at once (no promise per record); a sink that pushes back hands the rest to
   * emitAfter, which awaits it.
   */
  const emitReady = (): void => {
    emitting = true;
    try {
      for (let partition = ready.shift(); partition !== undefined; partition = ready.shift()) {
        // Cleared before emitting: a result of this partition completing meanwhile schedules it
        // again; the later visit finds the queue already drained and emits nothing.
        partition.scheduled = false;
        const { queue } = partition;
        for (let entry = queue.poll(); entry !== undefined; entry = queue.poll()) {
          const pending = options.emit(entry.input, entry.output as Out);
          if (pending !== undefined) {
            void emitAfter(pending, partition);
            return;
          }
          release(partition);
        }
      }
    } catch (error) {
      stopOnFatal(error);
      return;
    }
    emitting = false;
  };

  /** Waits for the sink, then goes on emitting, the partition's queue first. */
  const emitAfter = async (pending: Promise<void>, partition: Partition<In, Out>) => {
    try {
      await pending;
      release(partition);
      const { queue } = partition;
      for (let entry = queue.poll(); entry !== undefined; entry = queue.poll()) {
        const next = options.emit(entry.input, entry.output as Out);
        if (next !== undefined) await next;
        release(partition);
      }
    } catch (error) {
      stopOnFatal(error);
      return;
    }
    emitReady();
  };

  return {
    submit(input) {
      if (failed) throw new OperatorStoppedError();
      const partition = partitionFor(input);
      if (slots.tryTake(partition)) {
        start(partition, input);
        return undefined;
      }
      return new Promise<void>((resolve) => {
        slots.wait(partition, () => {
          start(partition, input);
          resolve();
        });
      });
    },
    get inFlight() {
      return slots.inUse;
    },
    get waiting() {
      return slots.waiting;
    },
    get limit() {
      return slots.limit;
    },
    drained() {
      if (failed || (slots.inUse === 0 && slots.waiting === 0)) return Promise.resolve();
      return new Promise<void>((resolve) => idle.push(resolve));
    },
  };
}
