// Flink's unorderedWait: results leave as soon as their call ends. (Flink also keeps watermark
// segments; a Kinesis-to-Kinesis job has no watermarks to respect.)
import { Fifo } from "./fifo.ts";
import type { QueueEntry, ResultQueue } from "./result-queue.ts";

export function createUnorderedQueue<In, Out>(): ResultQueue<In, Out> {
  const completed = new Fifo<QueueEntry<In, Out>>();
  let held = 0;
  return {
    push: () => {
      held++;
    },
    complete: (entry) => {
      completed.push(entry);
    },
    poll: () => {
      const entry = completed.shift();
      if (entry !== undefined) held--;
      return entry;
    },
    get size() {
      return held;
    },
  };
}
