// The async operator with a limiter: every call that ends is a sample, and the operator admits
// the limit the limiter sets, never more than capacity, cancelling nothing when it falls.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JobSpecInput } from "../../../operator/api/job-schema.ts";
import type { Job } from "../../../operator/reconcile/job.ts";
import { jobWith } from "../operator/job-fixture.ts";
import { processorConfig } from "../../../operator/reconcile/processor-config.ts";
import { processorConfigSchema } from "../../../processor/config/schema.ts";
import { createAsyncWait } from "../../../processor/engine/async-wait.ts";

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Sample {
  rttMs: number;
  inFlightAtStart: number;
  dropped: boolean;
}

/** A limiter the test steers: its limit is whatever the test sets; it records the samples. */
function fakeLimiter(initial: number) {
  const samples: Sample[] = [];
  return {
    samples,
    limit: initial,
    onSample(rttMs: number, inFlightAtStart: number, dropped = false) {
      samples.push({ rttMs, inFlightAtStart, dropped });
    },
  };
}

function operatorWith(limiter: ReturnType<typeof fakeLimiter>, timeoutMs = 60_000) {
  const calls = new Map<string, PromiseWithResolvers<string>>();
  const emitted: string[] = [];
  const operator = createAsyncWait<string, string>({
    capacity: 6,
    ordering: "unordered",
    partitionOf: () => "p",
    invoke: (input) => {
      const call = Promise.withResolvers<string>();
      calls.set(input, call);
      return call.promise;
    },
    timeoutMs,
    onTimeout: () => "timeout",
    onError: () => "error",
    emit: (input, output) => {
      emitted.push(`${input}=${output}`);
    },
    onFatal: (error) => {
      throw error;
    },
    limiter,
    isDrop: (output) => output === "overloaded",
  });
  const end = (input: string, output: string) => calls.get(input)?.resolve(output);
  const fail = (input: string) => calls.get(input)?.reject(new Error("refused"));
  return { operator, emitted, end, fail };
}

describe("adaptive concurrency in the async operator", () => {
  test("it admits the limiter's limit, floored, and capacity at most", async () => {
    const limiter = fakeLimiter(2.7);
    const { operator, end } = operatorWith(limiter);
    assert.equal(operator.limit, 2);
    assert.equal(operator.submit("a"), undefined);
    assert.equal(operator.submit("b"), undefined);
    const third = operator.submit("c");
    assert.ok(third instanceof Promise, "the third waits");
    end("a", "ok");
    await third;
    end("b", "ok");
    end("c", "ok");
    await operator.drained();
    const big = operatorWith(fakeLimiter(50)).operator;
    assert.equal(big.limit, 6, "capacity stays the ceiling");
  });

  test("every ended call is a sample with its latency and the calls in flight at its start", async () => {
    const limiter = fakeLimiter(6);
    const { operator, end } = operatorWith(limiter);
    assert.equal(operator.submit("a"), undefined);
    assert.equal(operator.submit("b"), undefined);
    await new Promise((resolve) => setTimeout(resolve, 20));
    end("b", "ok");
    await settle();
    assert.equal(operator.submit("c"), undefined);
    end("a", "overloaded");
    end("c", "ok");
    await settle();
    assert.deepEqual(
      limiter.samples.map(({ inFlightAtStart, dropped }) => [inFlightAtStart, dropped]),
      [
        [2, false],
        [1, true],
        [2, false],
      ],
      "b started second, a first; c started while a was still in flight; a's output is a drop",
    );
    assert.ok((limiter.samples[0]?.rttMs ?? 0) >= 15, `b took ${limiter.samples[0]?.rttMs} ms`);
    await operator.drained();
  });

  test("a lowered limit cancels nothing: the calls in flight end and emit, new ones wait", async () => {
    const limiter = fakeLimiter(4);
    const { operator, emitted, end } = operatorWith(limiter);
    for (const input of ["a", "b", "c", "d"]) assert.equal(operator.submit(input), undefined);
    limiter.limit = 1;
    end("a", "ok");
    await settle();
    assert.equal(operator.limit, 1, "the limit is read after each sample");
    const waiting = operator.submit("e");
    assert.ok(waiting instanceof Promise, "3 in flight, limit 1: e waits");
    end("b", "ok");
    end("c", "ok");
    await settle();
    assert.equal(operator.waiting, 1, "still 1 in flight");
    limiter.limit = 3;
    end("d", "ok");
    await waiting;
    end("e", "ok");
    await operator.drained();
    assert.deepEqual(emitted.sort(), ["a=ok", "b=ok", "c=ok", "d=ok", "e=ok"]);
  });

  test("a raised limit admits waiting calls when the next call ends", async () => {
    const limiter = fakeLimiter(1);
    const { operator, end } = operatorWith(limiter);
    assert.equal(operator.submit("a"), undefined);
    const waiting = [operator.submit("b"), operator.submit("c")];
    assert.ok(
      waiting.every((submitted) => submitted instanceof Promise),
      "b and c wait",
    );
    limiter.limit = 3;
    end("a", "ok");
    await Promise.all(waiting);
    assert.equal(operator.inFlight, 2, "b and c run together");
    end("b", "ok");
    end("c", "ok");
    await operator.drained();
  });

  test("rejections and timeouts are dropped samples", async () => {
    const limiter = fakeLimiter(6);
    const { operator, fail } = operatorWith(limiter, 30);
    assert.equal(operator.submit("a"), undefined);
    assert.equal(operator.submit("b"), undefined);
    fail("a");
    await operator.drained();
    assert.deepEqual(
      limiter.samples.map((sample) => sample.dropped),
      [true, true],
      "a rejected, b timed out",
    );
  });
});

describe("adaptive concurrency in the config and the job", () => {
  const minimal = {
    source: { stream: "in" },
    sink: { stream: "out" },
    endpoint: { url: "http://scoring:8080/score" },
    failurePolicy: "drop",
  } as const;
  const job = (spec: Partial<JobSpecInput>): Job =>
    jobWith({ endpoint: { url: "https://scoring.shop.svc/score" }, ...spec });

  test("it is off by default, with minLimit 5 and latencyTolerance 1.1", () => {
    assert.deepEqual(processorConfigSchema.parse(minimal).adaptiveConcurrency, {
      enabled: false,
      minLimit: 5,
      latencyTolerance: 1.1,
    });
  });

  test("bad bounds are refused with the field's path", () => {
    for (const adaptiveConcurrency of [{ minLimit: 0 }, { latencyTolerance: 0.9 }, { step: 1 }]) {
      const result = processorConfigSchema.safeParse({ ...minimal, adaptiveConcurrency });
      assert.equal(result.success, false, JSON.stringify(adaptiveConcurrency));
      assert.equal(result.error.issues[0]?.path[0], "adaptiveConcurrency");
    }
  });

  test("the operator passes it to the processors only when it is on, so jobs without it keep their pods", () => {
    assert.equal("adaptiveConcurrency" in processorConfig(job({})), false);
    const on = processorConfig(
      job({ capacity: 100, adaptiveConcurrency: { enabled: true, minLimit: 8 } }),
    );
    assert.deepEqual(processorConfigSchema.parse(on).adaptiveConcurrency, {
      enabled: true,
      minLimit: 8,
      latencyTolerance: 1.1,
    });
  });
});
