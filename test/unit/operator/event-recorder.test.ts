import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ApiException,
  type EventsV1Event,
  type EventsV1EventSeries,
  type V1ObjectReference,
} from "@kubernetes/client-node";
import {
  createEventRecorder,
  forgetStale,
  isomorphicKey,
  jobEvent,
  repeatCount,
  seriesWindowMs,
  type EventSink,
  type Recorded,
} from "../../../operator/controller/event-recorder.ts";
import type { JobObject } from "../../../operator/reconcile/reconcile-job.ts";
import { seededRandom } from "../seeded-random.ts";

const reporter = { controller: "asyncenrichment.dev/operator", instance: "test" };
const minute = 60_000;

const jobNamed = (name: string, uid = `uid-${name}`): JobObject => ({
  apiVersion: "asyncenrichment.dev/v1alpha1",
  kind: "AsyncEnrichmentJob",
  metadata: { name, namespace: "shop", uid },
});

/** Events as an API server keeps them, by namespace/name: 409 on a taken name, 404 on a missing one. */
function eventStore() {
  const events = new Map<string, EventsV1Event>();
  const writes: { verb: "create" | "patch"; name: string; series?: EventsV1EventSeries }[] = [];
  const failNext: { create?: Error; patch?: Error } = {};
  const refused = (verb: "create" | "patch"): Error | undefined => {
    const failure = failNext[verb];
    failNext[verb] = undefined;
    return failure;
  };
  const sink: EventSink = {
    create(event) {
      const failure = refused("create");
      if (failure !== undefined) return Promise.reject(failure);
      const key = `${event.metadata?.namespace ?? ""}/${event.metadata?.name ?? ""}`;
      if (events.has(key)) return Promise.reject(new ApiException(409, "AlreadyExists", {}, {}));
      events.set(key, structuredClone(event));
      writes.push({ verb: "create", name: event.metadata?.name ?? "", series: event.series });
      return Promise.resolve();
    },
    patchSeries(namespace, name, series) {
      const failure = refused("patch");
      if (failure !== undefined) return Promise.reject(failure);
      const stored = events.get(`${namespace}/${name}`);
      if (stored === undefined) return Promise.reject(new ApiException(404, "NotFound", {}, {}));
      stored.series = structuredClone(series);
      writes.push({ verb: "patch", name, series });
      return Promise.resolve();
    },
  };
  return {
    sink,
    events,
    writes,
    failOnce: (verb: "create" | "patch", error: Error) => (failNext[verb] = error),
  };
}

/** A recorder on a clock the test moves. */
function recorderAt(store: ReturnType<typeof eventStore>, maxEntries?: number) {
  let nowMs = Date.parse("2026-11-30T12:00:00Z");
  const record = createEventRecorder(store.sink, reporter, {
    now: () => new Date(nowMs),
    ...(maxEntries === undefined ? {} : { maxEntries }),
  });
  return { record, advance: (ms: number) => (nowMs += ms) };
}

const setBack =
  "spec.parallelism was set to 5 by hand, but spec.autoscaling owns it: set back to 3.";

test("an Event repeated within the window patches its series (count 2, 3, 4) instead of creating another", async () => {
  const store = eventStore();
  const { record, advance } = recorderAt(store);
  const job = jobNamed("orders");
  for (let occurrence = 0; occurrence < 4; occurrence++) {
    await record(job, "Warning", "AutoscalingOwnsParallelism", setBack);
    advance(30_000);
  }
  assert.deepEqual(
    store.writes.map(({ verb, series }) => [verb, series?.count]),
    [
      ["create", undefined],
      ["patch", 2],
      ["patch", 3],
      ["patch", 4],
    ],
  );
  assert.equal(store.events.size, 1);
  const [stored] = store.events.values();
  assert.equal(stored?.series?.count, 4);
  assert.equal(
    stored.series.lastObservedTime.getTime() - stored.eventTime.getTime(),
    90_000,
    "lastObservedTime is the last occurrence's",
  );
});

test("lastObservedTime goes out with microseconds, as the API server's MicroTime requires", async () => {
  const store = eventStore();
  const { record } = recorderAt(store);
  await record(jobNamed("orders"), "Warning", "AutoscalingOwnsParallelism", setBack);
  await record(jobNamed("orders"), "Warning", "AutoscalingOwnsParallelism", setBack);
  const patch = store.writes.find((write) => write.verb === "patch");
  assert.match(
    JSON.stringify({ series: patch?.series }),
    /^\{"series":\{"count":2,"lastObservedTime":"2026-11-30T12:00:00\.000000Z"\}\}$/,
  );
});

test("a different note, reason, type or object is a new Event, each with its own series", async () => {
  const store = eventStore();
  const { record } = recorderAt(store);
  const orders = jobNamed("orders");
  await record(orders, "Warning", "AutoscalingOwnsParallelism", setBack);
  await record(orders, "Warning", "AutoscalingOwnsParallelism", setBack.replace("5", "7"));
  await record(orders, "Warning", "ScaleFailed", setBack);
  await record(orders, "Normal", "AutoscalingOwnsParallelism", setBack);
  await record(jobNamed("payments"), "Warning", "AutoscalingOwnsParallelism", setBack);
  await record(
    jobNamed("orders", "uid-recreated"),
    "Warning",
    "AutoscalingOwnsParallelism",
    setBack,
  );
  assert.deepEqual(
    store.writes.map((write) => write.verb),
    Array<string>(6).fill("create"),
  );
  await record(orders, "Warning", "ScaleFailed", setBack);
  assert.deepEqual(store.writes.at(-1)?.verb, "patch");
  assert.equal(store.writes.at(-1)?.series?.count, 2, "only the ScaleFailed Event's series moved");
});

test("a repeat more than 6 minutes after the last occurrence starts a new Event; steady repeats keep one series", async () => {
  const store = eventStore();
  const { record, advance } = recorderAt(store);
  const job = jobNamed("orders");
  for (let occurrence = 0; occurrence < 8; occurrence++) {
    await record(job, "Warning", "SecretNotFound", "Secret scoring-token is missing.");
    advance(5 * minute);
  }
  assert.equal(store.events.size, 1, "every 5 minutes for 40 minutes: one series");
  assert.equal([...store.events.values()][0]?.series?.count, 8);
  advance(seriesWindowMs + 1 - 5 * minute);
  await record(job, "Warning", "SecretNotFound", "Secret scoring-token is missing.");
  assert.equal(store.events.size, 2);
  assert.equal(store.writes.at(-1)?.verb, "create");
  assert.equal(store.writes.at(-1)?.series, undefined, "the new Event starts without a series");
});

test("a series whose Event was deleted is created again under its name with the count so far", async () => {
  const store = eventStore();
  const { record } = recorderAt(store);
  const job = jobNamed("orders");
  await record(job, "Warning", "AutoscalingOwnsParallelism", setBack);
  await record(job, "Warning", "AutoscalingOwnsParallelism", setBack);
  const [name] = store.events.keys();
  store.events.clear();
  await record(job, "Warning", "AutoscalingOwnsParallelism", setBack);
  assert.deepEqual([...store.events.keys()], [name]);
  assert.equal(store.events.get(name ?? "")?.series?.count, 3);
  assert.equal(store.events.get(name ?? "")?.note, setBack);
  await record(job, "Warning", "AutoscalingOwnsParallelism", setBack);
  assert.equal(store.events.get(name ?? "")?.series?.count, 4, "and patched from then on");
});

test("a patch refused for another reason fails the call and leaves the count where it was", async () => {
  const store = eventStore();
  const { record } = recorderAt(store);
  const job = jobNamed("orders");
  await record(job, "Warning", "AutoscalingOwnsParallelism", setBack);
  store.failOnce("patch", new ApiException(503, "ServiceUnavailable", {}, {}));
  await assert.rejects(record(job, "Warning", "AutoscalingOwnsParallelism", setBack), {
    code: 503,
  });
  await record(job, "Warning", "AutoscalingOwnsParallelism", setBack);
  assert.equal([...store.events.values()][0]?.series?.count, 2);
  assert.equal(store.events.size, 1);
});

test("a failed create remembers nothing: the retry creates", async () => {
  const store = eventStore();
  const { record } = recorderAt(store);
  const job = jobNamed("orders");
  store.failOnce("create", new ApiException(500, "InternalError", {}, {}));
  await assert.rejects(record(job, "Warning", "SecretNotFound", "missing"), { code: 500 });
  await record(job, "Warning", "SecretNotFound", "missing");
  assert.deepEqual(
    store.writes.map(({ verb, series }) => [verb, series?.count]),
    [["create", undefined]],
  );
});

test("past maxEntries recent Events the least recently seen is forgotten: its repeat creates anew", async () => {
  const store = eventStore();
  const { record, advance } = recorderAt(store, 3);
  for (const name of ["a", "b", "c"]) {
    await record(jobNamed(name), "Normal", "ScaledUp", "Parallelism 1 -> 2.");
    advance(1_000);
  }
  await record(jobNamed("a"), "Normal", "ScaledUp", "Parallelism 1 -> 2.");
  await record(jobNamed("d"), "Normal", "ScaledUp", "Parallelism 1 -> 2.");
  await record(jobNamed("a"), "Normal", "ScaledUp", "Parallelism 1 -> 2.");
  await record(jobNamed("b"), "Normal", "ScaledUp", "Parallelism 1 -> 2.");
  assert.deepEqual(
    store.writes.slice(3).map(({ verb, name }) => [verb, name.split(".")[0]]),
    [
      ["patch", "a"],
      ["create", "d"],
      ["patch", "a"],
      ["create", "b"],
    ],
    "a was seen again and kept; b, the least recently seen, was forgotten for d",
  );
});

test("isomorphicKey ignores the Event's name and time, and tells apart everything else it names", () => {
  const at = new Date("2026-11-30T12:00:00Z");
  const base = jobEvent(jobNamed("orders"), "Warning", "ScaleFailed", "refused", reporter, at);
  const later = jobEvent(
    jobNamed("orders"),
    "Warning",
    "ScaleFailed",
    "refused",
    reporter,
    new Date(at.getTime() + minute),
  );
  assert.notEqual(base.metadata?.name, later.metadata?.name);
  assert.equal(isomorphicKey(base), isomorphicKey(later));
  const changed = (change: (event: EventsV1Event) => void): EventsV1Event => {
    const event = jobEvent(jobNamed("orders"), "Warning", "ScaleFailed", "refused", reporter, at);
    change(event);
    return event;
  };
  const regardingOf = (event: EventsV1Event): V1ObjectReference => {
    assert.ok(event.regarding);
    return event.regarding;
  };
  const variants = [
    changed((event) => (event.type = "Normal")),
    changed((event) => (event.reason = "ScaledUp")),
    changed((event) => (event.note = "other")),
    changed((event) => (event.action = "Scale")),
    changed((event) => (event.reportingController = "other")),
    changed((event) => (event.reportingInstance = "other")),
    changed((event) => (regardingOf(event).uid = "other")),
    changed((event) => (regardingOf(event).name = "other")),
    changed((event) => (regardingOf(event).namespace = "other")),
    changed((event) => (regardingOf(event).kind = "Other")),
  ];
  const keys = new Set([base, ...variants].map(isomorphicKey));
  assert.equal(keys.size, variants.length + 1);
});

test("jobEvent regards the job and truncates its note to the API's 1024 characters", () => {
  const event = jobEvent(
    jobNamed("orders"),
    "Normal",
    "ScaledUp",
    "x".repeat(2000),
    reporter,
    new Date(0),
  );
  assert.equal(event.note?.length, 1024);
  assert.deepEqual(event.regarding, {
    apiVersion: "asyncenrichment.dev/v1alpha1",
    kind: "AsyncEnrichmentJob",
    name: "orders",
    namespace: "shop",
    uid: "uid-orders",
  });
  assert.match(event.metadata?.name ?? "", /^orders\.[0-9a-f]+$/);
});

test("repeatCount: within the window (its end included) the next count, past it or unseen none", () => {
  const seen: Recorded = {
    event: { regarding: {}, eventTime: new Date(0) },
    count: 1,
    lastObservedMs: 0,
  };
  assert.equal(repeatCount(undefined, 0, seriesWindowMs), undefined);
  assert.equal(repeatCount(seen, 1, seriesWindowMs), 2);
  assert.equal(repeatCount({ ...seen, count: 7 }, seriesWindowMs, seriesWindowMs), 8);
  assert.equal(repeatCount(seen, seriesWindowMs + 1, seriesWindowMs), undefined);
});

test("forgetStale keeps exactly the most recently seen entries within the window, at most maxEntries (seeded)", () => {
  for (let seed = 1; seed <= 50; seed++) {
    const random = seededRandom(seed);
    const windowMs = 1_000;
    const maxEntries = 1 + Math.floor(random() * 20);
    const recent = new Map<string, Recorded>();
    const lastSeen = new Map<string, number>();
    let nowMs = 0;
    for (let step = 0; step < 500; step++) {
      nowMs += Math.floor(random() * 200);
      const key = `job-${String(Math.floor(random() * 60))}`;
      recent.delete(key);
      recent.set(key, {
        event: { regarding: {}, eventTime: new Date(nowMs) },
        count: 1,
        lastObservedMs: nowMs,
      });
      // Re-inserted, so that among equal times the one touched last sorts last, as in the map.
      lastSeen.delete(key);
      lastSeen.set(key, nowMs);
      forgetStale(recent, nowMs, windowMs, maxEntries);
      const expected = [...lastSeen]
        .filter(([, at]) => nowMs - at <= windowMs)
        .sort(([, a], [, b]) => a - b)
        .slice(-maxEntries)
        .map(([name]) => name);
      assert.ok(recent.size <= maxEntries, `seed ${String(seed)}: ${String(recent.size)} entries`);
      assert.deepEqual(
        new Set(recent.keys()),
        new Set(expected),
        `seed ${String(seed)} step ${String(step)}`,
      );
    }
  }
});

/** Each stored Event's first and last occurrence, by isomorphic key, in order of creation. */
function seriesByKey(
  events: Iterable<EventsV1Event>,
): Map<string, { first: number; last: number }[]> {
  const byKey = new Map<string, { first: number; last: number }[]>();
  for (const event of events) {
    const first = event.eventTime.getTime();
    const spans = byKey.get(isomorphicKey(event)) ?? [];
    spans.push({ first, last: event.series?.lastObservedTime.getTime() ?? first });
    byKey.set(
      isomorphicKey(event),
      spans.sort((a, b) => a.first - b.first),
    );
  }
  return byKey;
}

test("over random occurrences the stored counts add up to them, and no Event repeats one still in its window (seeded)", async () => {
  for (let seed = 1; seed <= 20; seed++) {
    const random = seededRandom(seed);
    const store = eventStore();
    // Odd seeds remember every key (24 here); even ones as few as one, forgetting some series.
    const remembersAll = seed % 2 === 1;
    const { record, advance } = recorderAt(store, remembersAll ? 64 : 1 + Math.floor(random() * 8));
    const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)] as T;
    const occurrences = 300;
    for (let step = 0; step < occurrences; step++) {
      advance(Math.floor(random() * 4 * minute));
      await record(
        jobNamed(pick(["orders", "payments", "returns"])),
        pick(["Normal", "Warning"] as const),
        pick(["ScaledUp", "AutoscalingOwnsParallelism"]),
        pick(["set back to 3", "set back to 5"]),
      );
    }
    const stored = [...store.events.values()];
    const total = stored.reduce((sum, event) => sum + (event.series?.count ?? 1), 0);
    assert.equal(total, occurrences, `seed ${String(seed)}`);
    assert.ok(stored.length < occurrences, `seed ${String(seed)}: some repeats were aggregated`);
    if (!remembersAll) continue;
    for (const spans of seriesByKey(stored).values())
      for (let index = 1; index < spans.length; index++)
        assert.ok(
          (spans[index]?.first ?? 0) - (spans[index - 1]?.last ?? 0) > seriesWindowMs,
          `seed ${String(seed)}: a new Event within the window of the last`,
        );
  }
});
