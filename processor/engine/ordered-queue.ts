// Flink's orderedWait: results leave in input order, so a completed element waits for every
// element before it.
import { Fifo } from "./fifo.ts";
import type { QueueEntry, ResultQueue } from "./result-queue.ts";

export function createOrderedQueue<In, Out>(): ResultQueue<In, Out> {
  const entries = new Fifo<QueueEntry<In, Out>>();
  return {
    push: (entry) => {
      entries.push(entry);
    },
    complete: () => {
      // Nothing to do: poll() looks at the head, which is the only element allowed to leave.
    },
    poll: () => (entries.peek()?.done === true ? entries.shift() : undefined),
    get size() {
      return entries.size;
    },
  };
}
