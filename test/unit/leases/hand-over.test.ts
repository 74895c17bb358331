// The hand-over's decisions, as pure functions: what became of a request this processor made,
// and which held shards others newly ask for.
import assert from "node:assert/strict";
import { test } from "node:test";
import { newRequests, requestOutcome } from "../../../processor/leases/hand-over.ts";
import { type ShardLease } from "../../../processor/leases/shard-lease.ts";
import { listedLease, shardId as id } from "./listed-lease.ts";

const lease = (shard: number, holder: string, handoffTo = ""): ShardLease =>
  listedLease(shard, { holder, handoffTo });

test("a request is settled once the shard is ours, released, gone, or asked for by another", () => {
  assert.equal(requestOutcome(undefined, "pod-a", 0, 5_000), "settled");
  assert.equal(requestOutcome(lease(0, "pod-a"), "pod-a", 0, 5_000), "settled");
  assert.equal(requestOutcome(lease(0, ""), "pod-a", 0, 5_000), "settled");
  assert.equal(requestOutcome(lease(0, "pod-b", "pod-c"), "pod-a", 0, 5_000), "settled");
});

test("a request still on the Lease waits for the holder's duration, then is overdue", () => {
  const asked = lease(0, "pod-b", "pod-a");
  assert.equal(requestOutcome(asked, "pod-a", 4_999, 5_000), "waiting");
  assert.equal(requestOutcome(asked, "pod-a", 5_000, 5_000), "overdue");
});

test("held shards asked for by another are new requests once, and never our own asks", () => {
  const listed = new Map([
    [id(0), lease(0, "pod-a", "pod-b")],
    [id(1), lease(1, "pod-a", "pod-a")],
    [id(2), lease(2, "pod-a")],
    [id(3), lease(3, "pod-a", "pod-c")],
  ]);
  const held = [id(0), id(1), id(2), id(3)];
  assert.deepEqual(
    newRequests(held, listed, "pod-a", () => false),
    [
      { shardId: id(0), asker: "pod-b" },
      { shardId: id(3), asker: "pod-c" },
    ],
  );
  assert.deepEqual(
    newRequests(held, listed, "pod-a", (shardId) => shardId === id(0)),
    [{ shardId: id(3), asker: "pod-c" }],
    "one already being handed over is not asked again",
  );
});
