// The calls' last-resort timeouts: all of one length, so kept in one list in the order they were
// set, which is also the order they expire in, behind a single timer. A timer of its own per call
// (setTimeout and clearTimeout for every record) cost more than the rest of the operator's
// bookkeeping for a record; here setting, clearing and expiring are a few field writes.

/** A member of the list; its owner only creates it (`deadlineNode()`) and passes it back. */
export interface DeadlineNode {
  /** Monotonic milliseconds at which it expires. */
  at: number;
  previous: DeadlineNode | undefined;
  next: DeadlineNode | undefined;
  linked: boolean;
}

export interface Deadlines<T extends DeadlineNode> {
  /** Sets the node to expire `ms` from now (moving it if it was set already). */
  set(node: T): void;
  /** Clears the node's deadline, if it has one. */
  clear(node: T): void;
}

export const deadlineNode = (): DeadlineNode => ({
  at: 0,
  previous: undefined,
  next: undefined,
  linked: false,
});

/**
 * `onExpire` runs for each node whose deadline passed, after it left the list. The timer is held
 * (keeps the process alive) only while a deadline is set, as a timer per call would be.
 */
export function createDeadlines<T extends DeadlineNode>(
  ms: number,
  onExpire: (node: T) => void,
): Deadlines<T> {
  let head: DeadlineNode | undefined;
  let tail: DeadlineNode | undefined;
  let timer: NodeJS.Timeout | undefined;

  const unlink = (node: DeadlineNode): void => {
    if (node.previous === undefined) head = node.next;
    else node.previous.next = node.next;
    if (node.next === undefined) tail = node.previous;
    else node.next.previous = node.previous;
    node.previous = undefined;
    node.next = undefined;
    node.linked = false;
  };

  const arm = (from: DeadlineNode): void => {
    timer = setTimeout(fire, Math.max(1, Math.ceil(from.at - performance.now())));
  };

  // An expiring call may start others (its slot frees), which set deadlines: the timer is
  // re-armed once, for the earliest, after the expired ones are gone.
  function fire(): void {
    const now = performance.now();
    while (head !== undefined && head.at <= now) {
      const expired = head;
      unlink(expired);
      onExpire(expired as T);
    }
    timer = undefined;
    if (head !== undefined) arm(head);
  }

  const clear = (node: DeadlineNode): void => {
    if (!node.linked) return;
    unlink(node);
    if (head === undefined && timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
  };

  return {
    set(node) {
      if (node.linked) unlink(node);
      node.at = performance.now() + ms;
      node.linked = true;
      node.previous = tail;
      if (tail === undefined) head = node;
      else tail.next = node;
      tail = node;
      if (timer === undefined) arm(head ?? node);
    },
    clear,
  };
}
