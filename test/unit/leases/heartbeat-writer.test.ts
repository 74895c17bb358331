// The heartbeat's writes against an in-memory Lease API: created once, then renewed by updates
// fenced by the version written last; adopted after a container restart; written or deleted by
// someone else, it answers that once and starts again from what is stored; its own renewal
// applied after its deadline is no one else's write.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { V1Lease } from "@kubernetes/client-node";
import {
  heartbeatAnnotations,
  newHeartbeatLease,
  toHeartbeat,
} from "../../../processor/leases/heartbeat-lease.ts";
import { createHeartbeatWriter } from "../../../processor/leases/heartbeat-writer.ts";
import { createInMemoryLeaseStore } from "../../support/in-memory-lease-store.ts";
import { figures, spec } from "./heartbeat-fixture.ts";

function setup(deadlineMs = 2_000) {
  const store = createInMemoryLeaseStore();
  const connection = store.connect();
  let wall = new Date("2026-11-30T04:00:00Z");
  const writer = createHeartbeatWriter({
    api: connection.api,
    lease: spec,
    deadlineMs,
    progress: () => figures,
    wallClock: () => wall,
  });
  const stored = (): V1Lease | undefined => store.leases.get(writer.name);
  const version = (): string | undefined => stored()?.metadata?.resourceVersion;
  const later = (seconds: number): void => {
    wall = new Date(wall.getTime() + seconds * 1000);
  };
  return { store, connection, writer, stored, version, later };
}

const codeOf = (error: unknown): number | undefined => (error as { code?: number }).code;

describe("the heartbeat writer", () => {
  test("creates the heartbeat, then renews it over the version it wrote, with the figures", async () => {
    const { store, writer, stored, version, later } = setup();
    await writer.write();
    assert.equal(version(), "1", "created, not renewed yet");
    assert.equal(stored()?.spec?.holderIdentity, spec.processor);
    later(2);
    await writer.write();
    await writer.write();
    assert.equal(version(), "3");
    const beat = toHeartbeat(stored() ?? {});
    assert.ok(beat !== undefined);
    assert.deepEqual(beat.progress, figures);
    assert.equal(beat.renewTime?.toISOString(), "2026-11-30T04:00:02.000Z");
    assert.equal(
      new Date(stored()?.spec?.acquireTime ?? 0).toISOString(),
      "2026-11-30T04:00:00.000Z",
    );
    assert.equal(store.leases.size, 1);
  });

  test("adopts the heartbeat its previous container left: reads it on the 409 and renews that version", async () => {
    const { store, writer, stored, version } = setup();
    const left = newHeartbeatLease(spec, new Date("2026-11-30T03:00:00Z"));
    store.put(left);
    store.put(left);
    await writer.write();
    assert.equal(version(), "3", "the stored version renewed");
    assert.equal(
      new Date(stored()?.spec?.acquireTime ?? 0).toISOString(),
      "2026-11-30T03:00:00.000Z",
      "acquired when first created",
    );
    assert.deepEqual(toHeartbeat(stored() ?? {})?.progress, figures);
  });

  test("written by another client: rejects once with the 409, then renews what is stored", async () => {
    const { store, writer, stored, version } = setup();
    await writer.write();
    store.put(stored() ?? {});
    await assert.rejects(writer.write(), (error) => codeOf(error) === 409);
    assert.equal(version(), "2", "the other client's write stands");
    await writer.write();
    assert.equal(version(), "3");
  });

  test("its own renewal applied after its deadline: the next one's 409 is its own, so it renews from what is stored without rejecting", async () => {
    const { store, connection, writer, stored, version, later } = setup(20);
    await writer.write();
    later(1);
    // A slow API server: the renewal gets no answer in time, and is applied later.
    connection.fault = "freeze";
    await assert.rejects(writer.write(), /got no answer within 20 ms/);
    connection.thaw();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(version(), "2", "applied after all");
    later(1);
    await writer.write();
    assert.equal(version(), "3", "renewed over its own late write");
    assert.equal(toHeartbeat(stored() ?? {})?.renewTime?.toISOString(), "2026-11-30T04:00:02.000Z");

    // A renewal with no answer that never lands, then another client's write: still a conflict.
    later(1);
    connection.fault = "hang";
    await assert.rejects(writer.write(), /got no answer/);
    connection.fault = "none";
    const foreign = structuredClone(stored() ?? {});
    foreign.spec ??= {};
    foreign.spec.renewTime = new Date("2026-11-30T05:00:00Z");
    store.put(foreign);
    await assert.rejects(writer.write(), (error) => codeOf(error) === 409);
  });

  test("deleted: rejects once with the 404, then creates it again", async () => {
    const { store, writer, version } = setup();
    await writer.write();
    await writer.write();
    store.leases.delete(writer.name);
    await assert.rejects(writer.write(), (error) => codeOf(error) === 404);
    assert.equal(store.leases.has(writer.name), false);
    await writer.write();
    assert.equal(version(), "3", "created again");
  });

  test("a Lease of its name that is no heartbeat is refused, never overwritten", async () => {
    const { store, writer, stored, version } = setup();
    const other = newHeartbeatLease(spec, new Date());
    if (other.metadata !== undefined) other.metadata.annotations = {};
    store.put(other);
    await assert.rejects(writer.write(), /is not a heartbeat/);
    assert.equal(version(), "1");
    assert.equal(stored()?.metadata?.annotations?.[heartbeatAnnotations.processor], undefined);
  });

  test("remove deletes the heartbeat; one already gone is fine", async () => {
    const { store, writer } = setup();
    await writer.write();
    await writer.remove();
    assert.equal(store.leases.has(writer.name), false);
    await writer.remove();
  });
});
