// Leader election scenarios against an in-memory Lease API whose connections can be cut or hung:
// faults the real API server cannot be made to show on demand. Timings are client-go's defaults
// (15 s, 10 s, 2 s) scaled down to a 2 s lease, wide enough for timers on a loaded 2-core machine;
// every acting interval is recorded on one monotonic clock so overlaps can be measured.
import assert from "node:assert/strict";
import { test } from "node:test";
import { pino } from "pino";
import {
  checkTimings,
  mayTake,
  observe,
  runLeaderElection,
  type ElectionOutcome,
  type LeaderElectionTimings,
} from "../../../operator/leader/leader-election.ts";
import {
  createInMemoryLeaseServer,
  type Connection,
  type InMemoryLeaseServer,
} from "../../support/in-memory-lease-api.ts";
import { waitFor } from "../../support/wait-for.ts";
import { within } from "../../support/within.ts";

const timings: LeaderElectionTimings = {
  leaseDurationMs: 2_000,
  renewDeadlineMs: 1_400,
  retryPeriodMs: 200,
};
const minutes = 60_000;
/** Timer slack allowed on a loaded 2-core machine. */
const slackMs = 250;

interface Interval {
  from: number;
  to?: number;
}

interface Replica {
  identity: string;
  connection: Connection;
  intervals: Interval[];
  acting: () => boolean;
  outcome: Promise<ElectionOutcome>;
  stop: () => Promise<ElectionOutcome>;
}

function startReplica(
  server: InMemoryLeaseServer,
  identity: string,
  options: { wallClockOffsetMs?: number; timings?: LeaderElectionTimings } = {},
): Replica {
  const connection = server.connect();
  const stop = new AbortController();
  const intervals: Interval[] = [];
  const outcome = runLeaderElection(
    {
      leases: connection,
      identity,
      ...(options.timings ?? timings),
      logger: pino({ level: "silent" }),
      wallClock: () => new Date(Date.now() + (options.wallClockOffsetMs ?? 0)),
    },
    (acting) => {
      const interval: Interval = { from: performance.now() };
      intervals.push(interval);
      return new Promise<void>((resolve) => {
        acting.addEventListener(
          "abort",
          () => {
            interval.to = performance.now();
            resolve();
          },
          { once: true },
        );
      });
    },
    stop.signal,
  );
  return {
    identity,
    connection,
    intervals,
    acting: () => intervals.at(-1)?.to === undefined && intervals.length > 0,
    outcome,
    stop: () => {
      stop.abort();
      return outcome;
    },
  };
}

const untilActing = (replica: Replica, timeoutMs: number): Promise<boolean> =>
  waitFor(replica.acting, Boolean, {
    timeoutMs,
    what: `${replica.identity} to lead`,
    intervalMs: 5,
  });

/** Watches a window of time and returns whether `condition` ever held in it. */
const everWithin = async (windowMs: number, condition: () => boolean): Promise<boolean> => {
  const end = performance.now() + windowMs;
  let seen = false;
  await waitFor(
    () => (seen ||= condition()),
    () => performance.now() >= end,
    { timeoutMs: windowMs + 1_000, what: "the window to pass", intervalMs: 5 },
  );
  return seen;
};

const overlaps = (a: Interval[], b: Interval[]): boolean =>
  a.some((x) => b.some((y) => x.from < (y.to ?? Infinity) && y.from < (x.to ?? Infinity)));

test("a standby does not take a renewed Lease however far apart the wall clocks are", async () => {
  const server = createInMemoryLeaseServer();
  // The leader's renewTime reads ten minutes stale to the standby.
  const leader = startReplica(server, "behind", { wallClockOffsetMs: -5 * minutes });
  await untilActing(leader, 2_000);
  const standby = startReplica(server, "ahead", { wallClockOffsetMs: 5 * minutes });
  try {
    const standbyActed = await everWithin(2 * timings.leaseDurationMs, standby.acting);
    assert.equal(standbyActed, false, "the standby took a Lease renewed all along");
    assert.deepEqual(
      leader.intervals.map((interval) => interval.to),
      [undefined],
      "the leader led throughout",
    );
  } finally {
    await Promise.all([leader.stop(), standby.stop()]);
  }
});

test("a standby whose wall clock is ten minutes behind takes an abandoned Lease one lease duration after first seeing it", async () => {
  const server = createInMemoryLeaseServer();
  server.put({
    metadata: { name: "async-enrichment-operator", namespace: "default" },
    spec: {
      holderIdentity: "crashed",
      leaseDurationSeconds: timings.leaseDurationMs / 1_000,
      renewTime: new Date(),
      acquireTime: new Date(),
      leaseTransitions: 1,
    },
  });
  const started = performance.now();
  const standby = startReplica(server, "behind", { wallClockOffsetMs: -10 * minutes });
  try {
    await untilActing(standby, 5_000);
    const tookAfter = (standby.intervals[0]?.from ?? 0) - started;
    assert.ok(tookAfter >= timings.leaseDurationMs, `took it after ${String(tookAfter)} ms`);
    assert.ok(
      tookAfter <= timings.leaseDurationMs + timings.retryPeriodMs + slackMs,
      `took it only after ${String(tookAfter)} ms`,
    );
    assert.equal(server.current()?.spec?.holderIdentity, "behind");
    assert.equal(server.current()?.spec?.leaseTransitions, 2);
  } finally {
    await standby.stop();
  }
});

test("a leader whose API calls hang stops acting at its renew deadline, not later", async () => {
  const server = createInMemoryLeaseServer();
  const leader = startReplica(server, "leader");
  await untilActing(leader, 2_000);
  const hungAt = performance.now();
  leader.connection.fault = "hang";
  const outcome = await within(leader.outcome, 4_000, "the election to end");
  assert.equal(outcome, "lost");
  const stoppedAfter = (leader.intervals[0]?.to ?? Infinity) - hungAt;
  // Its last successful renewal was sent at most a retry period (and a call) before the hang.
  assert.ok(
    stoppedAfter <= timings.renewDeadlineMs + slackMs,
    `acted ${String(stoppedAfter)} ms into the hang`,
  );
  assert.ok(
    stoppedAfter >= timings.renewDeadlineMs - 2 * timings.retryPeriodMs - slackMs,
    `gave up ${String(stoppedAfter)} ms into the hang, before its renew deadline`,
  );
});

test("a leader cut off from the API server stops acting before a standby takes over", async () => {
  const server = createInMemoryLeaseServer();
  const leader = startReplica(server, "leader");
  await untilActing(leader, 2_000);
  const standby = startReplica(server, "standby");
  try {
    // The standby has seen the Lease renewed before the cut.
    await waitFor(() => server.current()?.metadata?.resourceVersion, Boolean, {
      timeoutMs: 1_000,
      what: "a renewal",
    });
    const cutAt = performance.now();
    leader.connection.fault = "hang";
    await untilActing(standby, 5_000);
    const leaderStopped = leader.intervals[0]?.to ?? Infinity;
    const standbyStarted = standby.intervals[0]?.from ?? 0;
    assert.equal(overlaps(leader.intervals, standby.intervals), false);
    assert.ok(
      standbyStarted - leaderStopped >= timings.leaseDurationMs - timings.renewDeadlineMs - slackMs,
      `no one acted for only ${String(standbyStarted - leaderStopped)} ms`,
    );
    assert.ok(
      standbyStarted - cutAt <= timings.leaseDurationMs + 2 * timings.retryPeriodMs + slackMs,
      `the standby took over ${String(standbyStarted - cutAt)} ms after the cut`,
    );
  } finally {
    await standby.stop();
  }
});

test("a leader keeps leading through a failed renewal", async () => {
  const server = createInMemoryLeaseServer();
  const leader = startReplica(server, "leader");
  try {
    await untilActing(leader, 2_000);
    const before = Number(server.current()?.metadata?.resourceVersion);
    leader.connection.refuseNextCall();
    await waitFor(
      () => Number(server.current()?.metadata?.resourceVersion),
      (v) => v >= before + 5,
      {
        timeoutMs: 3_000,
        what: "five renewals after the failed one",
      },
    );
    assert.equal(leader.intervals.length, 1, "leadership was given up and taken again");
    assert.equal(leader.acting(), true);
  } finally {
    await leader.stop();
  }
});

test("a stopping leader releases the Lease and its standby takes over within a retry period", async () => {
  const long = { ...timings, leaseDurationMs: 15_000 };
  const server = createInMemoryLeaseServer();
  const leader = startReplica(server, "leader", { timings: long });
  await untilActing(leader, 2_000);
  const standby = startReplica(server, "standby", { timings: long });
  try {
    await waitFor(
      () => server.current()?.metadata?.resourceVersion,
      (v) => Number(v) >= 3,
      {
        timeoutMs: 1_000,
        what: "the standby to have seen a renewal",
      },
    );
    const stoppedAt = performance.now();
    assert.equal(await leader.stop(), "stopped");
    await untilActing(standby, 2_000);
    const tookAfter = (standby.intervals[0]?.from ?? Infinity) - stoppedAt;
    assert.ok(
      tookAfter <= 2 * timings.retryPeriodMs + slackMs,
      `took over ${String(tookAfter)} ms after the stop`,
    );
    assert.equal(overlaps(leader.intervals, standby.intervals), false);
  } finally {
    await standby.stop();
  }
});

test("candidates racing for a free Lease: one leads, the others never act", async () => {
  const server = createInMemoryLeaseServer();
  const replicas = ["a", "b", "c"].map((name) => startReplica(server, name));
  try {
    await waitFor(
      () => replicas.filter((replica) => replica.acting()).length,
      (n) => n > 0,
      {
        timeoutMs: 2_000,
        what: "a leader",
        intervalMs: 5,
      },
    );
    const everLed = () => replicas.filter((replica) => replica.intervals.length > 0);
    const second = await everWithin(timings.leaseDurationMs, () => everLed().length > 1);
    assert.equal(second, false, "a second candidate acted");
    const [leader] = everLed();
    assert.ok(leader);
    assert.equal(leader.intervals.length, 1);
    assert.equal(server.current()?.spec?.holderIdentity, leader.identity);
  } finally {
    await Promise.all(replicas.map((replica) => replica.stop()));
  }
});

test("a leader that finds another holder on the Lease stops acting at once", async () => {
  const server = createInMemoryLeaseServer();
  const leader = startReplica(server, "leader");
  await untilActing(leader, 2_000);
  const overwritten = server.current() ?? {};
  overwritten.spec = { holderIdentity: "usurper", leaseDurationSeconds: 2 };
  server.put(overwritten);
  const overwrittenAt = performance.now();
  assert.equal(await within(leader.outcome, 2_000, "the election to end"), "lost");
  const stoppedAfter = (leader.intervals[0]?.to ?? Infinity) - overwrittenAt;
  assert.ok(
    stoppedAfter <= 3 * timings.retryPeriodMs + slackMs,
    `acted ${String(stoppedAfter)} ms on`,
  );
});

test("expiry is timed from the first sight of a version, not restarted by reading it again", () => {
  const lease = {
    metadata: { resourceVersion: "7" },
    spec: { holderIdentity: "other", leaseDurationSeconds: 15 },
  };
  const first = observe(undefined, lease, 1_000);
  const again = observe(first, structuredClone(lease), 9_000);
  assert.equal(again.sinceMs, 1_000);
  assert.equal(mayTake(again, "me", 15_999), false);
  assert.equal(mayTake(again, "me", 16_000), true);
  const renewed = observe(again, { ...lease, metadata: { resourceVersion: "8" } }, 16_000);
  assert.equal(mayTake(renewed, "me", 16_000), false);
});

test("a free or own Lease may be taken at once", () => {
  const at = (holderIdentity: string) =>
    observe(undefined, { metadata: { resourceVersion: "1" }, spec: { holderIdentity } }, 0);
  assert.equal(mayTake(at(""), "me", 0), true);
  assert.equal(mayTake(at("me"), "me", 0), true);
  assert.equal(mayTake(at("other"), "me", 0), false);
});

test("timings where a leader could outlive its Lease are refused", () => {
  assert.throws(() => {
    checkTimings({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 });
  }, /renewDeadlineMs must be shorter/);
  assert.throws(() => {
    checkTimings({ leaseDurationMs: 15_000, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 });
  }, /retryPeriodMs must be shorter/);
});
