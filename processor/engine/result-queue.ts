// The queue between the async calls and the emitter, as in Flink's StreamElementQueue: it holds
// every in-flight element and decides which completed ones may leave, and in what order.

/** One element in flight: its input, and its output once the call has ended. */
export interface QueueEntry<In, Out> {
  readonly input: In;
  done: boolean;
  output: Out | undefined;
}

export interface ResultQueue<In, Out> {
  /** Registers an element in input order when its call starts. */
  push(entry: QueueEntry<In, Out>): void;
  /** Tells the queue that the element's call has ended (entry.done is already true). */
  complete(entry: QueueEntry<In, Out>): void;
  /** The next element that may be emitted now, removed from the queue; undefined if none. */
  poll(): QueueEntry<In, Out> | undefined;
  /** Elements held: in flight or completed but not yet emitted. */
  readonly size: number;
}
