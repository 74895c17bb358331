// The Async I/O operator: at most `capacity` calls in flight, results emitted in order or as they
// complete, and a caller that submits while the operator is full waits for a free slot. That wait
// is the backpressure: readers stop fetching, so memory follows capacity, not the backlog.
import { createOrderedQueue } from "./ordered-queue.ts";
import type { QueueEntry, ResultQueue } from "./result-queue.ts";
import { createUnorderedQueue } from "./unordered-queue.ts";

export type Ordering = "ordered" | "unordered";

export interface AsyncWaitOptions<In, Out> {
  capacity: number;
  ordering: Ordering;
  /**
   * Ordered mode keeps one queue per partition (a shard), so order holds within a shard and one
   * slow shard does not stall the others' emission.
   */
  partitionOf(input: In): string;
  /** Starts the call for one element. */
  invoke(input: In): Promise<Out>;
  /** Last-resort bound on a call, as Flink's AsyncFunction#timeout: no slot is held forever. */
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
}

export interface AsyncWait<In> {
  /**
   * Adds an element. Returns undefined when it was taken at once, or a promise that resolves once
   * a slot was free and the element was taken (await it before submitting the next one).
   */
  submit(input: In): Promise<void> | undefined;
  /** Elements held: calls in flight plus results not yet emitted. */
  readonly inFlight: number;
  /** Submissions waiting for a slot. */
  readonly waiting: number;
  /** Resolves once nothing is in flight or waiting. */
  drained(): Promise<void>;
}

interface Partition<In, Out> {
  readonly key: string;
  readonly queue: ResultQueue<In, Out>;
}

export function createAsyncWait<In, Out>(options: AsyncWaitOptions<In, Out>): AsyncWait<In> {
  const { capacity, timeoutMs } = options;
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  }
  // Ordered queues are dropped when empty, so a long-lived process keeps none for finished shards.
  const queues = new Map<string, Partition<In, Out>>();
  const unordered =
    options.ordering === "unordered"
      ? { key: "", queue: createUnorderedQueue<In, Out>() }
      : undefined;
  const waiters: (() => void)[] = [];
  const idle: (() => void)[] = [];
  const ready = new Set<Partition<In, Out>>();
  let inFlight = 0;
  let emitting = false;
  let failed = false;

  const partitionFor = (input: In): Partition<In, Out> => {
    if (unordered !== undefined) return unordered;
    const key = options.partitionOf(input);
    let partition = queues.get(key);
    if (partition === undefined) {
      partition = { key, queue: createOrderedQueue<In, Out>() };
      queues.set(key, partition);
    }
    return partition;
  };

  const complete = (partition: Partition<In, Out>, entry: QueueEntry<In, Out>, output: Out) => {
    if (entry.done) return;
    entry.done = true;
    entry.output = output;
    clearTimeout(entry.timer);
    entry.timer = undefined;
    partition.queue.complete(entry);
    ready.add(partition);
    if (!emitting && !failed) void emitReady();
  };

  const start = (input: In): void => {
    inFlight++;
    const partition = partitionFor(input);
    const entry: QueueEntry<In, Out> = { input, done: false, output: undefined, timer: undefined };
    partition.queue.push(entry);
    entry.timer = setTimeout(() => {
      complete(partition, entry, options.onTimeout(input));
    }, timeoutMs);
    let call: Promise<Out>;
    try {
      call = options.invoke(input);
    } catch (error) {
      complete(partition, entry, options.onError(input, error));
      return;
    }
    call.then(
      (output) => {
        complete(partition, entry, output);
      },
      (error: unknown) => {
        complete(partition, entry, options.onError(input, error));
      },
    );
  };

  const release = (): void => {
    inFlight--;
    const next = waiters.shift();
    // The freed slot passes straight to the longest waiter, so no new submit can barge in.
    if (next !== undefined) next();
    else if (inFlight === 0) for (const resolve of idle.splice(0)) resolve();
  };

  const emitReady = async (): Promise<void> => {
    emitting = true;
    try {
      for (const partition of ready) {
        ready.delete(partition);
        const { queue } = partition;
        for (let entry = queue.poll(); entry !== undefined; entry = queue.poll()) {
          const pending = options.emit(entry.input, entry.output as Out);
          if (pending !== undefined) await pending;
          release();
        }
        if (partition !== unordered && queue.size === 0) queues.delete(partition.key);
      }
    } catch (error) {
      failed = true;
      options.onFatal(error);
    } finally {
      emitting = false;
    }
    if (!failed && ready.size > 0) void emitReady();
  };

  return {
    submit(input) {
      if (failed) throw new Error("the async operator has stopped after a fatal emit error");
      if (inFlight < capacity && waiters.length === 0) {
        start(input);
        return undefined;
      }
      return new Promise<void>((resolve) => {
        waiters.push(() => {
          start(input);
          resolve();
        });
      });
    },
    get inFlight() {
      return inFlight;
    },
    get waiting() {
      return waiters.length;
    },
    drained() {
      if (inFlight === 0 && waiters.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idle.push(resolve));
    },
  };
}
