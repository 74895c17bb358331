// The endpoint's view of who read a shard when: two readers at once must show, a clean hand-over
// and a later return must not.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { readOverlap, shardOfKey, type ShardRead } from "../support/shard-readers.ts";

const calls = (reader: string, times: number[], shardId = "s"): ShardRead[] =>
  times.map((at) => ({ shardId, reader, at }));

describe("shard readers seen from the endpoint", () => {
  test("a failover (one stops, the other starts later) and a return overlap nothing", () => {
    const reads = [
      ...calls("a", [0, 250, 500]),
      ...calls("b", [6_000, 6_250, 6_500]),
      ...calls("a", [9_000, 9_250]),
    ];
    assert.deepEqual(readOverlap(reads, 1_000), { ms: 0, intruding: 0 });
  });

  test("two readers of one shard at once overlap by the time both read", () => {
    const reads = [...calls("a", [0, 250, 500, 750, 1_000]), ...calls("b", [400, 650, 900])];
    assert.deepEqual(readOverlap(reads, 1_000), { ms: 500, intruding: 5 });
  });

  test("a single late call inside the other reader's span counts", () => {
    const reads = [
      ...calls("a", [0, 250]),
      ...calls("b", [2_000, 2_250, 2_750]),
      ...calls("a", [2_500]),
    ];
    assert.deepEqual(readOverlap(reads, 1_000), { ms: 0, intruding: 1 });
  });

  test("readers of different shards never overlap", () => {
    const reads = [...calls("a", [0, 250, 500], "s1"), ...calls("b", [0, 250, 500], "s2")];
    assert.deepEqual(readOverlap(reads, 1_000), { ms: 0, intruding: 0 });
  });

  test("a key's shard is the one whose hash key range holds the MD5 of the key", () => {
    const half = 2n ** 127n;
    const ranges = [
      { shardId: "low", start: 0n, end: half - 1n },
      { shardId: "high", start: half, end: 2n ** 128n - 1n },
    ];
    // MD5("a") = 0cc175b9…, MD5("b") = 92eb5ffe…
    assert.equal(shardOfKey("a", ranges), "low");
    assert.equal(shardOfKey("b", ranges), "high");
  });
});
