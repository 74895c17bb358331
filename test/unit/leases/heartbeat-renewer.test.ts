// A processor's heartbeat: the Lease's shape (pure conversions, figures parsed with zod), and the
// renewer's judgement of when the processor must stop reading, on simulated time against an
// in-memory Lease API.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, mock, test } from "node:test";
import { pino } from "pino";
import {
  heartbeatAnnotations,
  heartbeatLeaseName,
  newHeartbeatLease,
  renewedHeartbeat,
  toHeartbeat,
} from "../../../processor/leases/heartbeat-lease.ts";
import { createHeartbeatRenewer } from "../../../processor/leases/heartbeat-renewer.ts";
import { createInMemoryLeaseStore } from "../../support/in-memory-lease-store.ts";
import { figures, spec } from "./heartbeat-fixture.ts";

describe("the heartbeat Lease", () => {
  test("round trip: name from the pod, holder, duration, figures", () => {
    const created = newHeartbeatLease(spec, new Date("2026-11-30T04:00:00Z"));
    const view = toHeartbeat(created);
    assert.ok(view !== undefined);
    assert.equal(view.name, "orders-heartbeat-orders-processor-7d9c6b5f4-2kq8w");
    assert.equal(view.holder, spec.processor);
    assert.equal(view.leaseDurationSeconds, 5);
    const renewed = toHeartbeat(
      renewedHeartbeat(view, 5, figures, new Date("2026-11-30T04:00:02Z")),
    );
    assert.ok(renewed !== undefined);
    assert.deepEqual(renewed.progress, figures);
    assert.equal(renewed.renewTime?.toISOString(), "2026-11-30T04:00:02.000Z");
  });

  test("a worker id that is no DNS name still gives a valid Lease name", () => {
    assert.match(heartbeatLeaseName("orders", "My_Host.local_"), /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });

  test("figures of the wrong shape read as none; a Lease without the processor annotation is no heartbeat", () => {
    const lease = newHeartbeatLease(spec, new Date());
    assert.ok(lease.metadata?.annotations !== undefined);
    lease.metadata.annotations[heartbeatAnnotations.progress] = JSON.stringify({
      ...figures,
      lagMillis: { "shardId-000000000000": "slow" },
    });
    assert.equal(toHeartbeat(lease)?.progress, undefined);
    lease.metadata.annotations[heartbeatAnnotations.progress] = "not json";
    assert.equal(toHeartbeat(lease)?.progress, undefined);
    lease.metadata.annotations = { [heartbeatAnnotations.progress]: JSON.stringify(figures) };
    assert.equal(toHeartbeat(lease), undefined);
  });
});

describe("the heartbeat renewer", () => {
  beforeEach(() => {
    mock.timers.enable({ apis: ["setTimeout", "setInterval"] });
  });
  afterEach(() => {
    mock.timers.reset();
  });

  const setup = () => {
    const store = createInMemoryLeaseStore();
    const connection = store.connect();
    let clock = 0;
    const lapses: { at: number; reason: string }[] = [];
    const renewer = createHeartbeatRenewer({
      api: connection.api,
      lease: spec,
      renewIntervalMs: 2_000,
      progress: () => figures,
      onLapse: (reason) => lapses.push({ at: clock, reason }),
      logger: pino({ level: "silent" }),
      now: () => clock,
    });
    const advance = async (ms: number): Promise<void> => {
      for (let step = 0; step < ms / 100; step++) {
        clock += 100;
        mock.timers.tick(100);
        for (let turn = 0; turn < 10; turn++) await new Promise((r) => setImmediate(r));
      }
    };
    const stop = async (): Promise<void> => {
      connection.fault = "none";
      const stopped = renewer.stop();
      await advance(2_000);
      await stopped;
    };
    return { store, connection, renewer, lapses, advance, stop, now: () => clock };
  };

  test("renews every interval and writes the figures; stopping deletes the heartbeat", async () => {
    const { store, renewer, lapses, advance, stop } = setup();
    await renewer.start();
    assert.ok(renewer.live());
    const name = renewer.name;
    const versions = new Set<string>();
    for (let second = 0; second < 10; second++) {
      await advance(1_000);
      versions.add(store.leases.get(name)?.metadata?.resourceVersion ?? "");
    }
    assert.ok(versions.size >= 4, `renewed ${String(versions.size)} times in 10 s`);
    assert.deepEqual(toHeartbeat(store.leases.get(name) ?? {})?.progress, figures);
    assert.deepEqual(lapses, []);
    await stop();
    assert.equal(store.leases.has(name), false);
  });

  test("calls that hang: it lapses at the last acknowledged renewal's send time + 0.9 of the duration", async () => {
    const { connection, renewer, lapses, advance, stop, now } = setup();
    await renewer.start();
    await advance(3_000);
    // The renewal at 2 s was the last one answered.
    connection.fault = "hang";
    const hungAt = now();
    await advance(6_000);
    assert.equal(lapses.length, 1);
    const lapsedAt = lapses[0]?.at ?? 0;
    assert.ok(lapsedAt <= 2_000 + 4_500 + 250, `lapsed at ${String(lapsedAt)} ms`);
    assert.ok(lapsedAt > hungAt, "not before the calls hung");
    assert.equal(renewer.live(), false);
    // Answers again: the next renewal makes it live again.
    connection.fault = "none";
    await advance(3_000);
    assert.equal(renewer.live(), true);
    await stop();
  });

  test("its heartbeat deleted by someone else: it lapses at once and creates it again", async () => {
    const { store, renewer, lapses, advance, stop } = setup();
    await renewer.start();
    store.leases.delete(renewer.name);
    await advance(2_100);
    assert.equal(lapses.length, 1);
    assert.match(lapses[0]?.reason ?? "", /deleted/);
    await advance(2_000);
    assert.ok(store.leases.has(renewer.name), "created again");
    assert.equal(renewer.live(), true);
    await stop();
  });
});
