// The outage breaker and the pause policy: when calls stop, when one probes, what reopens them,
// and which failures are the endpoint's rather than the record's.
import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import {
  createOutageBreaker,
  observeOutages,
  type OutageBreaker,
} from "../../../processor/http/outage-breaker.ts";
import type { SourceRecord } from "../../../processor/kinesis/shard-reader.ts";
import type { Enrichment } from "../../../processor/pipeline/enrich.ts";
import { pauseThroughOutages } from "../../../processor/pipeline/pause-through-outage.ts";

const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const settled = (promise: Promise<unknown> | undefined) => {
  const state = { done: promise === undefined };
  void promise?.then(() => (state.done = true));
  return state;
};
/** Stopped after each test, passed or not: an open breaker's probe timer keeps running. */
const made: OutageBreaker[] = [];
afterEach(() => {
  for (const subject of made.splice(0)) subject.stop();
});
const breaker = (probeIntervalMs = 100): OutageBreaker => {
  const subject = createOutageBreaker({
    failuresToOpen: 3,
    probeIntervalMs,
    maxProbeIntervalMs: 400,
  });
  made.push(subject);
  return subject;
};

describe("outage breaker", () => {
  test("opens after failuresToOpen outage attempts in a row; an answer in between starts the count over", () => {
    const subject = breaker();
    subject.attempt(true, "refused");
    subject.attempt(true, "refused");
    subject.attempt(false);
    subject.attempt(true, "refused");
    subject.attempt(true, "refused");
    assert.equal(subject.state, "closed");
    assert.equal(subject.admit(), undefined, "a closed breaker lets calls start at once");
    subject.attempt(true, "ECONNREFUSED");
    assert.equal(subject.state, "open");
    assert.equal(subject.reason, "ECONNREFUSED");
  });

  test("while open no call starts; after the probe interval one goes through, and its answer lets all go", async () => {
    const subject = breaker();
    for (let attempt = 0; attempt < 3; attempt++) subject.attempt(true, "refused");
    const calls = [subject.admit(), subject.admit(), subject.admit()].map(settled);
    await later(20);
    assert.deepEqual(
      calls.map((call) => call.done),
      [false, false, false],
    );
    await later(130);
    assert.equal(subject.state, "probing");
    assert.deepEqual(
      calls.map((call) => call.done),
      [true, false, false],
      "one probe",
    );
    subject.attempt(false);
    await later(0);
    assert.equal(subject.state, "closed");
    assert.deepEqual(
      calls.map((call) => call.done),
      [true, true, true],
    );
  });

  test("a failed probe reopens it for twice as long, up to maxProbeIntervalMs", async () => {
    const subject = breaker(100);
    for (let attempt = 0; attempt < 3; attempt++) subject.attempt(true, "503");
    const first = settled(subject.admit());
    await later(150);
    assert.equal(first.done, true, "probe after 100 ms");
    subject.attempt(true, "still 503");
    const reopened = performance.now();
    assert.equal(subject.state, "open");
    const second = settled(subject.admit());
    await later(120);
    assert.equal(second.done, false, "the next probe waits 200 ms");
    await later(200 - (performance.now() - reopened) + 60);
    assert.equal(second.done, true);
  });

  test("a probe turn nobody is waiting for goes to the next call at once", async () => {
    const subject = breaker();
    for (let attempt = 0; attempt < 3; attempt++) subject.attempt(true, "timeout");
    await later(150);
    const call = settled(subject.admit());
    await later(0);
    assert.equal(call.done, true);
    assert.equal(settled(subject.admit()).done, false, "only one probe per turn");
  });

  test("refused connections, timeouts, 429 and 5xx are outages; other statuses and too-large answers are answers", () => {
    const subject = breaker();
    const feed = observeOutages(subject);
    feed(0.1, "status", { status: 404, reason: "HTTP 404" });
    feed(0.1, "too-large", { status: undefined, reason: "too large" });
    feed(0.1, "status", { status: 429, reason: "HTTP 429" });
    feed(0.1, "network", { status: undefined, reason: "ECONNRESET" });
    assert.equal(subject.state, "closed");
    feed(0.1, "timeout", { status: undefined, reason: "no answer within 5000 ms" });
    assert.equal(subject.state, "open");
  });
});

describe("verdicts on a failed call", () => {
  test("answered when another call gets an answer after the failure, not before it", async () => {
    const subject = breaker();
    subject.attempt(false);
    const failedAt = performance.now();
    const verdict = subject.verdictAfter(failedAt, 1_000);
    setTimeout(() => {
      subject.attempt(false);
    }, 10);
    assert.equal(await verdict, "answered");
  });

  test("outage once the breaker opens, and at once while it is open", async () => {
    const subject = breaker();
    const verdict = subject.verdictAfter(performance.now(), 1_000);
    for (let attempt = 0; attempt < 3; attempt++) subject.attempt(true, "refused");
    assert.equal(await verdict, "outage");
    assert.equal(await subject.verdictAfter(performance.now(), 1_000), "outage");
  });

  test("unknown when neither happens within the wait", async () => {
    assert.equal(await breaker().verdictAfter(performance.now(), 20), "unknown");
  });
});

describe("pause through outages", () => {
  const record = { shardId: "s", sequenceNumber: "1", partitionKey: "k" } as SourceRecord;
  const outageFailure: Enrichment = {
    ok: false,
    kind: "network",
    reason: "ECONNREFUSED",
    attempts: 3,
    startedAt: 0,
  };
  const control = () => {
    const log: string[] = [];
    return {
      log,
      call: {
        suspendTimeout: () => log.push("suspend"),
        resumeTimeout: () => log.push("resume"),
        waitFor: <T>(waiting: Promise<T>) => waiting,
      },
    };
  };

  test("a record failing as an outage with no answer after it is tried again once the breaker lets it, its timeout suspended meanwhile", async () => {
    const subject = breaker(50);
    const results: Enrichment[] = [
      outageFailure,
      { ok: true, data: new Uint8Array(), partitionKey: "k" },
    ];
    const invoke = pauseThroughOutages(
      () => {
        subject.attempt(results.length > 1, "ECONNREFUSED");
        subject.attempt(results.length > 1, "ECONNREFUSED");
        subject.attempt(results.length > 1, "ECONNREFUSED");
        return Promise.resolve(results.shift() as Enrichment);
      },
      subject,
      1_000,
    );
    const { log, call } = control();
    const result = await invoke(record, call);
    assert.equal(result.ok, true);
    assert.deepEqual(
      log,
      ["suspend", "resume", "suspend", "resume"],
      "while the verdict is out, and while the breaker is open",
    );
  });

  test("an outage error followed by another call's answer, and a failure of the record's own, follow the failure policy", async () => {
    const subject = breaker();
    const notFound: Enrichment = {
      ok: false,
      kind: "status",
      status: 404,
      reason: "HTTP 404",
      attempts: 1,
      startedAt: 0,
    };
    assert.deepEqual(
      await pauseThroughOutages(
        () => Promise.resolve(notFound),
        subject,
        1_000,
      )(record, control().call),
      notFound,
    );
    // Another call is answered after this one failed: the endpoint is up.
    const answeredMeanwhile = pauseThroughOutages(
      () => {
        setTimeout(() => {
          subject.attempt(false);
        }, 10);
        return Promise.resolve(outageFailure);
      },
      subject,
      1_000,
    );
    assert.deepEqual(await answeredMeanwhile(record, control().call), outageFailure);
  });
});
