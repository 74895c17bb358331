// The heartbeat renewer as a whole, on simulated time against an in-memory Lease API, in seeded
// random runs: calls that hang, are held and applied late, or are refused; its Lease deleted or
// written by another client; renewals asked for beside the schedule's, so answers overlap. At
// every step it may be live only before the send time of the latest write the API server
// acknowledged plus 4.5 s (the others' earliest expiry, less the margin), the guard timer lapses
// it within its period after that, and lapses and renewals are reported in turn: one lapse per
// time it was live.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, mock, test } from "node:test";
import type { CoordinationV1Api } from "@kubernetes/client-node";
import { pino } from "pino";
import { createHeartbeatRenewer } from "../../../processor/leases/heartbeat-renewer.ts";
import { guardPeriodMs, readableUntil } from "../../../processor/leases/heartbeat-validity.ts";
import {
  createInMemoryLeaseStore,
  type ConnectionFault,
} from "../../support/in-memory-lease-store.ts";
import { seededRandom } from "../seeded-random.ts";

const spec = {
  namespace: "shop",
  prefix: "orders",
  processor: "orders-processor-7d9c6b5f4-2kq8w",
  labels: {},
  owner: undefined,
  leaseDurationSeconds: 5,
};
const durationMs = spec.leaseDurationSeconds * 1000;
const stepMs = 100;
const faults: ConnectionFault[] = ["none", "none", "none", "hang", "freeze", "refuse"];

/** One run; returns how often it was live when asked, and how many lapses it reported. */
async function run(seed: number): Promise<{ liveSteps: number; lapses: number }> {
  const random = seededRandom(seed);
  const store = createInMemoryLeaseStore();
  const connection = store.connect();
  let clock = 0;
  /** The latest send time of a create or update the API server answered with success. */
  let latestAcknowledged = Number.NEGATIVE_INFINITY;
  const acknowledging =
    <R>(call: (request: R) => Promise<unknown>) =>
    async (request: R): Promise<unknown> => {
      const sent = clock;
      const answer = await call(request);
      latestAcknowledged = Math.max(latestAcknowledged, sent);
      return answer;
    };
  const api = {
    createNamespacedLease: acknowledging((r) => connection.api.createNamespacedLease(r)),
    replaceNamespacedLease: acknowledging((r) => connection.api.replaceNamespacedLease(r)),
    readNamespacedLease: (r) => connection.api.readNamespacedLease(r),
    deleteNamespacedLease: (r) => connection.api.deleteNamespacedLease(r),
  } as Pick<
    CoordinationV1Api,
    | "createNamespacedLease"
    | "replaceNamespacedLease"
    | "readNamespacedLease"
    | "deleteNamespacedLease"
  >;
  /** Renewals and lapses as reported, in order. */
  const reports: ("renewed" | "lapsed")[] = [];
  const logger = pino(
    { level: "info" },
    {
      write: (line: string) => {
        if (line.includes("shards may be read")) reports.push("renewed");
      },
    },
  );
  const renewer = createHeartbeatRenewer({
    api: api as CoordinationV1Api,
    lease: spec,
    renewIntervalMs: 2_000,
    progress: () => undefined,
    onLapse: () => reports.push("lapsed"),
    logger,
    now: () => clock,
  });
  const advance = async (): Promise<void> => {
    clock += stepMs;
    mock.timers.tick(stepMs);
    for (let turn = 0; turn < 10; turn++) await new Promise((r) => setImmediate(r));
  };

  let liveSteps = 0;
  void renewer.start();
  for (let step = 0; step < 1_500; step++) {
    const event = random();
    if (event < 0.01) {
      connection.thaw();
      connection.fault = faults[Math.floor(random() * faults.length)] ?? "none";
    } else if (event < 0.02) {
      connection.thaw();
    } else if (event < 0.025) {
      store.leases.delete(renewer.name);
    } else if (event < 0.03) {
      const stored = store.leases.get(renewer.name);
      if (stored !== undefined) store.put(stored);
    } else if (event < 0.04) {
      void renewer.renew();
    }
    await advance();
    const context = `seed ${String(seed)} at ${String(clock)} ms`;
    if (clock >= readableUntil(latestAcknowledged, durationMs) + guardPeriodMs(durationMs)) {
      assert.notEqual(reports.at(-1), "renewed", `lapsed by the guard timer: ${context}`);
    }
    const alternating = reports.map((_, index) => (index % 2 === 0 ? "renewed" : "lapsed"));
    assert.deepEqual(reports, alternating, `renewals and lapses in turn: ${context}`);
    // Asked now and then, as a reader asks before it reads: the guard timer lapses it meanwhile.
    if (random() < 0.5) {
      const live = renewer.live();
      if (live) liveSteps++;
      if (clock >= readableUntil(latestAcknowledged, durationMs)) {
        assert.equal(live, false, `live past its latest acknowledged renewal: ${context}`);
      }
      assert.equal(live, reports.at(-1) === "renewed", `live as last reported: ${context}`);
    }
  }
  connection.thaw();
  const stopped = renewer.stop();
  for (let step = 0; step < 30; step++) await advance();
  await stopped;
  return { liveSteps, lapses: reports.filter((report) => report === "lapsed").length };
}

describe("the heartbeat renewer under faults", () => {
  beforeEach(() => {
    mock.timers.enable({ apis: ["setTimeout", "setInterval"] });
  });
  afterEach(() => {
    mock.timers.reset();
  });

  test("seeded random runs: never live past the latest acknowledged send time + 4.5 s; one lapse per time live", async (t) => {
    let liveSteps = 0;
    let lapses = 0;
    const runs = 12;
    for (let seed = 1; seed <= runs; seed++) {
      const outcome = await run(seed);
      liveSteps += outcome.liveSteps;
      lapses += outcome.lapses;
    }
    t.diagnostic(
      `live at ${String(liveSteps)} of about ${String(runs * 750)} asks, ${String(lapses)} lapses`,
    );
    assert.ok(liveSteps > runs * 750 * 0.3, "live for a good part of the runs");
    assert.ok(lapses >= runs, "lapsing in every run on average");
  });
});
