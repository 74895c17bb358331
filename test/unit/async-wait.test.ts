// The async operator: ordering, capacity, timeouts, backpressure.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createAsyncWait, type AsyncWaitOptions } from "../../processor/engine/async-wait.ts";

interface Call {
  input: string;
  resolve: (output: string) => void;
  reject: (error: Error) => void;
}

/** An operator whose calls the test ends by hand, recording what was emitted. */
function harness(overrides: Partial<AsyncWaitOptions<string, string>> = {}) {
  const calls: Call[] = [];
  const emitted: string[] = [];
  let fatal: unknown;
  const operator = createAsyncWait<string, string>({
    capacity: 3,
    ordering: "ordered",
    partitionOf: (input) => input.split(":")[0] ?? "",
    invoke: (input) =>
      new Promise<string>((resolve, reject) => {
        calls.push({ input, resolve, reject });
      }),
    timeoutMs: 10_000,
    onTimeout: (input) => `timeout(${input})`,
    onError: (input, error) => `error(${input}: ${(error as Error).message})`,
    emit: (input, output) => {
      emitted.push(`${input}=${output}`);
    },
    onFatal: (error) => {
      fatal = error;
    },
    ...overrides,
  });
  const call = (input: string): Call => {
    const found = calls.find((entry) => entry.input === input);
    if (found === undefined) throw new Error(`no call for ${input}`);
    return found;
  };
  return { operator, calls, emitted, call, fatal: () => fatal };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test("ordered mode emits in input order when later calls finish first", async () => {
  const { operator, emitted, call } = harness();
  for (const input of ["a:1", "a:2", "a:3"]) await operator.submit(input);
  call("a:3").resolve("three");
  call("a:2").resolve("two");
  await tick();
  assert.deepEqual(emitted, [], "nothing leaves before the head");
  call("a:1").resolve("one");
  await tick();
  assert.deepEqual(emitted, ["a:1=one", "a:2=two", "a:3=three"]);
});

test("ordered mode keeps one queue per shard: a slow head holds back only its own shard", async () => {
  const { operator, emitted, call } = harness();
  for (const input of ["a:1", "b:1", "b:2"]) await operator.submit(input);
  call("b:2").resolve("x");
  call("b:1").resolve("y");
  await tick();
  assert.deepEqual(emitted, ["b:1=y", "b:2=x"]);
  call("a:1").resolve("z");
  await tick();
  assert.deepEqual(emitted, ["b:1=y", "b:2=x", "a:1=z"]);
});

test("unordered mode emits each result as its call ends", async () => {
  const { operator, emitted, call } = harness({ ordering: "unordered" });
  for (const input of ["a:1", "a:2", "a:3"]) await operator.submit(input);
  call("a:3").resolve("three");
  await tick();
  call("a:1").resolve("one");
  await tick();
  assert.deepEqual(emitted, ["a:3=three", "a:1=one"]);
});

test("capacity is never exceeded, and a full operator makes the submitter wait for a slot", async () => {
  const { operator, calls, call } = harness();
  for (const input of ["a:1", "a:2", "a:3"]) assert.equal(operator.submit(input), undefined);
  const waiting = operator.submit("a:4");
  assert.ok(waiting instanceof Promise, "the fourth submit must wait");
  let admitted = false;
  void waiting.then(() => (admitted = true));
  await tick();
  assert.equal(calls.length, 3, "no fourth call while full");
  assert.equal(admitted, false);
  call("a:2").resolve("two");
  await tick();
  assert.equal(calls.length, 3, "a completed call behind an unfinished head still holds its slot");
  call("a:1").resolve("one");
  await tick();
  assert.equal(admitted, true);
  assert.equal(calls.length, 4);
  assert.ok(operator.inFlight <= 3);
});

test("many submissions with random completion never hold more than capacity calls", async () => {
  let inCall = 0;
  let most = 0;
  const emitted: number[] = [];
  const operator = createAsyncWait<number, number>({
    capacity: 5,
    ordering: "ordered",
    partitionOf: (input) => String(input % 3),
    invoke: async (input) => {
      inCall++;
      most = Math.max(most, inCall);
      await new Promise((resolve) => setTimeout(resolve, (input * 7) % 5));
      inCall--;
      return input;
    },
    timeoutMs: 10_000,
    onTimeout: () => -1,
    onError: () => -2,
    emit: (input) => {
      emitted.push(input);
    },
    onFatal: () => undefined,
  });
  for (let input = 0; input < 200; input++) await operator.submit(input);
  await operator.drained();
  assert.ok(most <= 5, `at most 5 in flight, saw ${most}`);
  assert.equal(emitted.length, 200);
  for (const shard of [0, 1, 2]) {
    const order = emitted.filter((input) => input % 3 === shard);
    assert.deepEqual(
      order,
      [...order].sort((a, b) => a - b),
      `shard ${shard} in input order`,
    );
  }
});

test("a call that never ends is completed by the timeout, and its late result is ignored", async () => {
  const { operator, emitted, call } = harness({ timeoutMs: 30 });
  await operator.submit("a:1");
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.deepEqual(emitted, ["a:1=timeout(a:1)"]);
  call("a:1").resolve("late");
  await tick();
  assert.deepEqual(emitted, ["a:1=timeout(a:1)"], "emitted exactly once");
  assert.equal(operator.inFlight, 0, "its slot is free");
});

test("a rejected or throwing call becomes the onError output", async () => {
  const { operator, emitted, call } = harness();
  await operator.submit("a:1");
  call("a:1").reject(new Error("boom"));
  await tick();
  const throwing = createAsyncWait<string, string>({
    capacity: 1,
    ordering: "ordered",
    partitionOf: () => "a",
    invoke: () => {
      throw new Error("sync throw");
    },
    timeoutMs: 1_000,
    onTimeout: () => "timeout",
    onError: (_input, error) => `error(${(error as Error).message})`,
    emit: (_input, output) => {
      emitted.push(output);
    },
    onFatal: () => undefined,
  });
  await throwing.submit("x");
  await tick();
  assert.deepEqual(emitted, ["a:1=error(a:1: boom)", "error(sync throw)"]);
});

test("an emit that returns a promise holds the slot until it settles (sink backpressure)", async () => {
  let release: () => void = () => undefined;
  const { operator, call } = harness({
    capacity: 1,
    emit: () =>
      new Promise<void>((resolve) => {
        release = resolve;
      }),
  });
  await operator.submit("a:1");
  call("a:1").resolve("one");
  await tick();
  const next = operator.submit("a:2");
  assert.ok(next instanceof Promise, "the slot is still held while the sink is full");
  release();
  await next;
  assert.equal(operator.inFlight, 1);
});

test("drained resolves only when nothing is in flight or waiting", async () => {
  const { operator, call } = harness({ capacity: 1 });
  await operator.submit("a:1");
  const second = operator.submit("a:2");
  let drained = false;
  void operator.drained().then(() => (drained = true));
  call("a:1").resolve("one");
  await second;
  await tick();
  assert.equal(drained, false, "a:2 is still in flight");
  call("a:2").resolve("two");
  await tick();
  assert.equal(drained, true);
});

test("an emit that throws stops the operator once, through onFatal", async () => {
  const state = harness({
    emit: () => {
      throw new Error("sink exploded");
    },
  });
  await state.operator.submit("a:1");
  state.call("a:1").resolve("one");
  await tick();
  assert.match(String(state.fatal()), /sink exploded/);
  assert.throws(() => state.operator.submit("a:2"), /stopped after a fatal emit error/);
});

test("a capacity below 1 is refused", () => {
  assert.throws(() => harness({ capacity: 0 }), RangeError);
});
