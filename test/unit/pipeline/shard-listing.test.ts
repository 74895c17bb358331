// The stream's listing, reused between discovery intervals and listed again after one, or after a
// listing failed.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ShardInfo } from "../../../processor/kinesis/shard-lineage.ts";
import { createShardListing } from "../../../processor/pipeline/shard-listing.ts";

const shard = (shardId: string): ShardInfo => ({
  shardId,
  parentShardId: undefined,
  adjacentParentShardId: undefined,
  hashKeyRange: undefined,
  closed: false,
});

/** A listing on a clock the test moves, whose calls answer from `answers` in turn. */
function listing(answers: (ShardInfo[] | Error)[]) {
  let clock = 0;
  let calls = 0;
  const shards = createShardListing({
    list: () => {
      const answer = answers[calls++];
      if (answer === undefined) throw new Error("listed more often than expected");
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
    intervalMs: 10_000,
    now: () => clock,
  });
  return {
    shards,
    calls: () => calls,
    at: (ms: number) => {
      clock = ms;
    },
  };
}

const signal = new AbortController().signal;

test("the first call lists; later calls reuse the listing until the interval has passed", async () => {
  const { shards, calls, at } = listing([[shard("a")], [shard("a"), shard("b")]]);
  assert.deepEqual(await shards.current(signal), { shards: [shard("a")], fresh: true });
  at(9_999);
  assert.deepEqual(await shards.current(signal), { shards: [shard("a")], fresh: false });
  assert.equal(calls(), 1);
  at(10_000);
  assert.deepEqual(await shards.current(signal), {
    shards: [shard("a"), shard("b")],
    fresh: true,
  });
  assert.equal(calls(), 2);
});

test("a listing that fails is tried again at the next call, not an interval later", async () => {
  const { shards, calls, at } = listing([
    new Error("no answer"),
    [shard("a")],
    new Error("throttled"),
    [shard("b")],
  ]);
  await assert.rejects(shards.current(signal), /no answer/);
  assert.deepEqual(await shards.current(signal), { shards: [shard("a")], fresh: true });
  at(10_000);
  await assert.rejects(shards.current(signal), /throttled/);
  assert.deepEqual(await shards.current(signal), { shards: [shard("b")], fresh: true });
  assert.equal(calls(), 4);
});
