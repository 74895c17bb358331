// The async operator (Flink's AsyncWaitOperator): ordering, capacity, backpressure, timeouts,
// errors, sink push-back, draining and fatal emit errors.
import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import {
  createAsyncWait,
  OperatorStoppedError,
  type AsyncWaitOptions,
  type CallControl,
} from "../../../processor/engine/async-wait.ts";
import { seededRandom } from "../seeded-random.ts";

/**
 * Lets every callback of promises that are already settled run. The operator reacts to a settled
 * call through promise callbacks only, so after this the reaction has happened: it waits for no
 * clock, only for the microtask queue to empty.
 */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Ends the calls a test left running, so their timeout timers do not keep the process alive. */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** An operator whose calls the test ends by hand, recording what was invoked and emitted. */
function harness(overrides: Partial<AsyncWaitOptions<string, string>> = {}) {
  const calls = new Map<string, PromiseWithResolvers<string>>();
  const invoked: string[] = [];
  const emitted: string[] = [];
  const fatal: unknown[] = [];
  const emissionWaiters: { count: number; resolve: () => void }[] = [];
  const operator = createAsyncWait<string, string>({
    capacity: 3,
    ordering: "ordered",
    // "a:1" is element 1 of partition a.
    partitionOf: (input) => input.split(":")[0] ?? "",
    invoke: (input) => {
      const call = Promise.withResolvers<string>();
      calls.set(input, call);
      invoked.push(input);
      return call.promise;
    },
    timeoutMs: 60_000,
    onTimeout: (input) => `timeout(${input})`,
    onError: (input, error) => `error(${input}: ${(error as Error).message})`,
    emit: (input, output) => {
      emitted.push(`${input}=${output}`);
      for (const waiter of emissionWaiters.filter((entry) => emitted.length >= entry.count)) {
        waiter.resolve();
      }
    },
    onFatal: (error) => {
      fatal.push(error);
    },
    ...overrides,
  });
  const call = (input: string): PromiseWithResolvers<string> => {
    const found = calls.get(input);
    if (found === undefined)
      throw new Error(`${input} was never invoked; invoked: ${invoked.join(", ")}`);
    return found;
  };
  /** Submits each input, asserting that each was taken at once (a slot was free). */
  const take = (...inputs: string[]): void => {
    for (const input of inputs) {
      assert.equal(operator.submit(input), undefined, `${input} should be taken at once`);
    }
  };
  /** Resolves once `count` results have been emitted. */
  const emissions = (count: number): Promise<void> => {
    if (emitted.length >= count) return Promise.resolve();
    return new Promise((resolve) => emissionWaiters.push({ count, resolve }));
  };
  cleanups.push(async () => {
    // Resolving a call can admit a waiting submitter, whose new call is then resolved too.
    for (let settled = 0; settled < invoked.length;) {
      for (; settled < invoked.length; settled++) {
        calls.get(invoked[settled] ?? "")?.resolve("cleanup");
      }
      await settle();
    }
  });
  return { operator, invoked, emitted, fatal, call, emissions, take };
}

/** Tracks a promise's state without awaiting it. */
function watch(promise: Promise<unknown> | undefined): { readonly settled: boolean } {
  const state = { settled: false };
  assert.ok(promise instanceof Promise, "expected a promise (the operator should be full)");
  void promise.then(() => (state.settled = true));
  return state;
}

describe("async wait operator", () => {
  describe("ordering", () => {
    test("ordered mode emits in input order when later calls finish first", async () => {
      const { emitted, call, take } = harness();
      take("a:1", "a:2", "a:3");
      call("a:3").resolve("three");
      call("a:2").resolve("two");
      await settle();
      assert.deepEqual(emitted, [], "nothing leaves before the head of the partition");
      call("a:1").resolve("one");
      await settle();
      assert.deepEqual(emitted, ["a:1=one", "a:2=two", "a:3=three"]);
    });

    test("ordered mode keeps one queue per partition: a slow element of partition A does not delay partition B", async () => {
      const { emitted, call, take } = harness({ capacity: 4 });
      take("a:1", "b:1", "a:2", "b:2");
      call("b:2").resolve("b2");
      call("a:2").resolve("a2");
      call("b:1").resolve("b1");
      await settle();
      assert.deepEqual(emitted, ["b:1=b1", "b:2=b2"], "b is emitted while a:1 is still running");
      call("a:1").resolve("a1");
      await settle();
      assert.deepEqual(emitted, ["b:1=b1", "b:2=b2", "a:1=a1", "a:2=a2"]);
    });

    test("a partition whose queue emptied takes new elements in order again", async () => {
      const { emitted, call, take } = harness();
      take("a:1");
      call("a:1").resolve("one");
      await settle();
      take("a:2", "a:3");
      call("a:3").resolve("three");
      await settle();
      assert.deepEqual(emitted, ["a:1=one"]);
      call("a:2").resolve("two");
      await settle();
      assert.deepEqual(emitted, ["a:1=one", "a:2=two", "a:3=three"]);
    });

    test("unordered mode emits in completion order, across and within partitions", async () => {
      const { emitted, call, take } = harness({ ordering: "unordered" });
      take("a:1", "a:2", "b:1");
      call("a:2").resolve("two");
      await settle();
      call("b:1").resolve("b");
      await settle();
      call("a:1").resolve("one");
      await settle();
      assert.deepEqual(emitted, ["a:2=two", "b:1=b", "a:1=one"]);
    });
  });

  describe("capacity and backpressure", () => {
    for (const ordering of ["ordered", "unordered"] as const) {
      test(`${ordering} mode never holds more than capacity elements over many submissions with random delays`, async () => {
        const capacity = 8;
        const random = seededRandom(7);
        const delays = Array.from({ length: 300 }, () => Math.floor(random() * 4));
        let held = 0;
        let most = 0;
        const emitted: number[] = [];
        const operator = createAsyncWait<number, number>({
          capacity,
          ordering,
          partitionOf: (input) => String(input % 3),
          invoke: async (input) => {
            // Held from the start of its call until it is emitted.
            held++;
            most = Math.max(most, held);
            assert.ok(operator.inFlight <= capacity, `inFlight ${operator.inFlight}`);
            await new Promise((resolve) => setTimeout(resolve, delays[input]));
            return input * 10;
          },
          timeoutMs: 60_000,
          onTimeout: () => -1,
          onError: () => -2,
          emit: (input, output) => {
            held--;
            assert.equal(output, input * 10);
            emitted.push(input);
          },
          onFatal: (error) => {
            throw error;
          },
        });
        for (let input = 0; input < delays.length; input++) await operator.submit(input);
        await operator.drained();
        assert.ok(most <= capacity, `at most ${capacity} held at once, saw ${most}`);
        assert.equal(most, capacity, "the operator does use all its slots");
        assert.deepEqual(
          [...emitted].sort((a, b) => a - b),
          delays.map((_, index) => index),
          "every element emitted exactly once",
        );
        if (ordering === "ordered") {
          for (const partition of [0, 1, 2]) {
            const order = emitted.filter((input) => input % 3 === partition);
            assert.deepEqual(
              order,
              [...order].sort((a, b) => a - b),
              `partition ${partition} in input order`,
            );
          }
        }
      });
    }

    test("submit returns undefined while a slot is free, and a promise that resolves only after a slot frees", async () => {
      const { operator, invoked, call, take } = harness();
      take("a:1", "a:2", "a:3");
      const fourth = watch(operator.submit("a:4"));
      assert.equal(operator.waiting, 1);
      await settle();
      assert.equal(fourth.settled, false);
      assert.deepEqual(invoked, ["a:1", "a:2", "a:3"], "no fourth call while full");

      call("a:2").resolve("two");
      await settle();
      assert.equal(fourth.settled, false, "a result waiting behind its head still holds its slot");
      assert.equal(operator.inFlight, 3);

      call("a:1").resolve("one");
      await settle();
      assert.equal(fourth.settled, true);
      assert.deepEqual(invoked, ["a:1", "a:2", "a:3", "a:4"]);
      assert.equal(operator.inFlight, 2, "a:3 and a:4");
      assert.equal(operator.waiting, 0);
    });

    test("waiting submitters are admitted first in, first out, one per freed slot", async () => {
      const { operator, invoked, call, take } = harness({ capacity: 1, ordering: "unordered" });
      take("a:1");
      const second = watch(operator.submit("a:2"));
      const third = watch(operator.submit("a:3"));
      assert.equal(operator.waiting, 2);

      call("a:1").resolve("one");
      await settle();
      assert.deepEqual([second.settled, third.settled], [true, false]);
      assert.deepEqual(invoked, ["a:1", "a:2"]);
      const fourth = watch(operator.submit("a:4"));
      assert.equal(operator.waiting, 2, "a new submit queues behind the one already waiting");

      call("a:2").resolve("two");
      await settle();
      assert.deepEqual([third.settled, fourth.settled], [true, false]);
      assert.deepEqual(invoked, ["a:1", "a:2", "a:3"]);

      call("a:3").resolve("three");
      await settle();
      assert.equal(fourth.settled, true);
      assert.deepEqual(invoked, ["a:1", "a:2", "a:3", "a:4"]);
    });

    test("an emit that returns a promise holds the slot until it settles (sink backpressure)", async () => {
      const sink: PromiseWithResolvers<undefined>[] = [];
      const emitted: string[] = [];
      const { operator, call, take } = harness({
        capacity: 2,
        ordering: "unordered",
        emit: (input) => {
          emitted.push(input);
          const pending = Promise.withResolvers<undefined>();
          sink.push(pending);
          return pending.promise;
        },
      });
      take("a:1");
      take("a:2");
      call("a:1").resolve("one");
      call("a:2").resolve("two");
      await settle();
      assert.deepEqual(emitted, ["a:1"], "emission pauses while the sink pushes back");
      assert.equal(operator.inFlight, 2, "both slots are still held");
      const third = watch(operator.submit("a:3"));
      await settle();
      assert.equal(third.settled, false);

      sink[0]?.resolve(undefined);
      await settle();
      assert.equal(third.settled, true, "the settled emit freed a slot");
      assert.deepEqual(emitted, ["a:1", "a:2"]);
      assert.equal(operator.inFlight, 2, "a:2 (its emit pending) and a:3");
    });

    test("a capacity below 1 or not an integer is refused with a RangeError", () => {
      for (const capacity of [0, -1, 1.5, Number.NaN]) {
        assert.throws(() => harness({ capacity }), RangeError, `capacity ${capacity}`);
      }
    });
  });

  describe("every call ends", () => {
    test("a call that never settles is ended by timeoutMs through onTimeout, and its late result is ignored", async () => {
      const { operator, emitted, call, emissions, take } = harness({ timeoutMs: 50 });
      const started = performance.now();
      take("a:1");
      await emissions(1);
      const elapsed = performance.now() - started;
      assert.deepEqual(emitted, ["a:1=timeout(a:1)"]);
      assert.ok(elapsed >= 45, `timed out after ${elapsed} ms, before timeoutMs`);
      assert.equal(operator.inFlight, 0, "its slot is free");

      call("a:1").resolve("late");
      await settle();
      assert.deepEqual(emitted, ["a:1=timeout(a:1)"], "emitted exactly once");
      assert.equal(operator.inFlight, 0);
    });

    test("a timed-out head releases the results queued behind it in ordered mode", async () => {
      const { emitted, call, emissions, take } = harness({ timeoutMs: 50 });
      take("a:1");
      take("a:2");
      call("a:2").resolve("two");
      await emissions(2);
      assert.deepEqual(emitted, ["a:1=timeout(a:1)", "a:2=two"]);
    });

    test("a rejecting invoke becomes onError's output and frees its slot", async () => {
      const { operator, emitted, call, take } = harness();
      take("a:1");
      call("a:1").reject(new Error("boom"));
      await settle();
      assert.deepEqual(emitted, ["a:1=error(a:1: boom)"]);
      assert.equal(operator.inFlight, 0);
    });

    test("an invoke that throws synchronously becomes onError's output and frees its slot", async () => {
      const { operator, emitted } = harness({
        invoke: () => {
          throw new Error("sync throw");
        },
      });
      assert.equal(operator.submit("a:1"), undefined);
      await operator.drained();
      assert.deepEqual(emitted, ["a:1=error(a:1: sync throw)"]);
      assert.equal(operator.inFlight, 0);
    });
  });

  describe("draining", () => {
    test("drained resolves at once when nothing is held", async () => {
      const { operator } = harness();
      await operator.drained();
      assert.equal(operator.inFlight, 0);
    });

    test("drained resolves only when nothing is in flight or waiting", async () => {
      const { operator, call, take } = harness({ capacity: 1 });
      take("a:1");
      const second = operator.submit("a:2");
      const drained = watch(operator.drained());

      call("a:1").resolve("one");
      await second;
      await settle();
      assert.equal(drained.settled, false, "a:2 took the slot and is in flight");

      call("a:2").resolve("two");
      await settle();
      assert.equal(drained.settled, true);
      assert.equal(operator.inFlight, 0);
      assert.equal(operator.waiting, 0);
    });

    test("drained waits for a result whose emit is still pending", async () => {
      const sink = Promise.withResolvers<undefined>();
      const { operator, call, take } = harness({ emit: () => sink.promise });
      take("a:1");
      call("a:1").resolve("one");
      const drained = watch(operator.drained());
      await settle();
      assert.equal(drained.settled, false);
      sink.resolve(undefined);
      await settle();
      assert.equal(drained.settled, true);
    });
  });

  describe("fatal emit errors", () => {
    test("an emit that throws calls onFatal, and later submits are refused", async () => {
      const { operator, fatal, call, take } = harness({
        emit: () => {
          throw new Error("sink exploded");
        },
      });
      take("a:1");
      call("a:1").resolve("one");
      await settle();
      assert.equal(fatal.length, 1);
      assert.match(String(fatal[0]), /sink exploded/);
      assert.throws(() => operator.submit("a:2"), /stopped after a fatal emit error/);
    });

    test("after a fatal emit error drained resolves though results are still held, and submit throws OperatorStoppedError", async () => {
      const { operator, call, take } = harness({
        emit: () => {
          throw new Error("sink exploded");
        },
      });
      take("a:1", "b:1");
      const drained = operator.drained();
      call("a:1").resolve("one");
      await settle();
      await drained;
      assert.equal(operator.inFlight, 2, "b:1 and the failed a:1 are never emitted");
      await operator.drained();
      assert.throws(() => operator.submit("a:2"), OperatorStoppedError);
    });

    test("an emit that rejects calls onFatal", async () => {
      const { fatal, call, take } = harness({
        emit: () => Promise.reject(new Error("put failed")),
      });
      take("a:1");
      call("a:1").resolve("one");
      await settle();
      assert.equal(fatal.length, 1);
      assert.match(String(fatal[0]), /put failed/);
    });

    test("after a fatal emit error nothing more is emitted and onFatal is not called again", async () => {
      const emitted: string[] = [];
      const { fatal, call, take } = harness({
        ordering: "unordered",
        emit: (input) => {
          emitted.push(input);
          throw new Error(`sink exploded on ${input}`);
        },
      });
      take("a:1");
      take("b:1");
      call("a:1").resolve("one");
      await settle();
      assert.equal(fatal.length, 1);

      // b:1 was in flight when the operator stopped; its result must not reach the sink.
      call("b:1").resolve("two");
      await settle();
      assert.deepEqual(
        { emitted, onFatalCalls: fatal.length },
        { emitted: ["a:1"], onFatalCalls: 1 },
        "the operator stops emitting after the fatal error, and onFatal is called once",
      );
    });
  });
});

describe("suspended timeouts", () => {
  test("a call that suspends its timeout holds its slot past timeoutMs, and is timed afresh once it resumes", async () => {
    let control: CallControl | undefined;
    const ended = Promise.withResolvers<string>();
    const emitted: string[] = [];
    const operator = createAsyncWait<string, string>({
      capacity: 1,
      ordering: "ordered",
      partitionOf: () => "a",
      invoke: (_input, call) => {
        control = call;
        call.suspendTimeout();
        return ended.promise;
      },
      timeoutMs: 30,
      onTimeout: (input) => `timeout(${input})`,
      onError: () => "error",
      emit: (input, output) => {
        emitted.push(`${input}=${output}`);
      },
      onFatal: (error) => {
        throw error;
      },
    });
    assert.equal(operator.submit("a:1"), undefined);
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.deepEqual(emitted, [], "no timeout while suspended");
    control?.resumeTimeout();
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.deepEqual(emitted, ["a:1=timeout(a:1)"], "timed out once resumed");
    ended.resolve("late");
  });
});

describe("admission waits", () => {
  test("a call waiting for a rate-limit token holds its slot past timeoutMs, and its wait is left out of the latency sample", async () => {
    const samples: { rttMs: number; dropped: boolean | undefined }[] = [];
    const token = Promise.withResolvers<true>();
    const emitted: string[] = [];
    const operator = createAsyncWait<string, string>({
      capacity: 1,
      ordering: "ordered",
      partitionOf: () => "a",
      invoke: async (input, call) => {
        await call.waitFor(token.promise);
        await new Promise((resolve) => setTimeout(resolve, 20));
        return `done(${input})`;
      },
      timeoutMs: 50,
      onTimeout: (input) => `timeout(${input})`,
      onError: () => "error",
      emit: (input, output) => {
        emitted.push(`${input}=${output}`);
      },
      onFatal: (error) => {
        throw error;
      },
      limiter: {
        limit: 1,
        onSample: (rttMs, _inFlight, dropped) => samples.push({ rttMs, dropped }),
      },
    });
    assert.equal(operator.submit("a:1"), undefined);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.deepEqual(emitted, [], "no timeout while waiting for a token");
    assert.equal(operator.inFlight, 1, "the waiting call holds its slot");
    token.resolve(true);
    await operator.drained();
    assert.deepEqual(emitted, ["a:1=done(a:1)"]);
    assert.equal(samples.length, 1);
    const { rttMs, dropped } = samples[0] as (typeof samples)[number];
    assert.equal(dropped, false, "a token wait is no sign of overload");
    assert.ok(rttMs >= 15 && rttMs < 100, `latency ${rttMs} ms: the 150 ms wait is left out`);
  });
});
