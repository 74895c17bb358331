// The lease planner (planAcquisitions): which shards a processor takes at a renewal, and which it
// asks others for, as a pure function of the Leases it listed.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { planAcquisitions, type BalancePlan } from "../../../processor/leases/balance.ts";
import { type ShardLease } from "../../../processor/leases/shard-lease.ts";
import { listedLease, shardId as id } from "./listed-lease.ts";
import { seededRandom } from "../seeded-random.ts";

/** A shard's Lease as listed: held by `holder` ("" when free), asked for by `handoffTo`. */
const lease = (shard: number, holder = "", handoffTo = ""): ShardLease =>
  listedLease(shard, { holder, handoffTo });

/** Leases for shards from..from+count-1, all held by `holder`. */
const range = (from: number, count: number, holder = ""): ShardLease[] =>
  Array.from({ length: count }, (_, index) => lease(from + index, holder));

const ids = (leases: readonly ShardLease[]): string[] => leases.map((entry) => entry.shardId);

interface Options {
  expired?: (entry: ShardLease) => boolean;
  maxSteals?: number;
  readable?: ReadonlySet<string>;
}

const plan = (me: string, leases: ShardLease[], options: Options = {}): BalancePlan =>
  planAcquisitions({
    me,
    leases,
    readable: options.readable ?? new Set(ids(leases)),
    expired: options.expired ?? (() => false),
    maxSteals: options.maxSteals ?? 100,
  });

/** Holders named "dead-..." have not renewed: their Leases expired. */
const deadExpired = (entry: ShardLease): boolean => entry.holder.startsWith("dead");

describe("taking free leases", () => {
  test("a newcomer alone with every lease free takes ceil(readable / 1): all of them", () => {
    const result = plan("pod-a", range(0, 7));
    assert.equal(result.workers, 1);
    assert.equal(result.fairShare, 7);
    assert.equal(result.take.length, 7);
    assert.deepEqual(result.steal, []);
  });

  test("with others live it takes its fair share ceil(readable / workers) of the free ones, and no more", () => {
    // 11 readable shards: b holds 2, c holds 1, 8 are free. Workers a, b, c: share ceil(11/3) = 4.
    const leases = [...range(0, 2, "pod-b"), lease(2, "pod-c"), ...range(3, 8)];
    const result = plan("pod-a", leases);
    assert.equal(result.workers, 3);
    assert.equal(result.fairShare, 4);
    assert.equal(result.take.length, 4);
    assert.ok(result.take.every((entry) => entry.holder === ""));
    assert.equal(new Set(ids(result.take)).size, 4, "no lease twice");
    assert.deepEqual(result.steal, []);
  });

  test("it counts what it holds already: it takes only the rest of its share", () => {
    // 9 shards, a holds 1 and b holds 2: share ceil(9/2) = 5, so a takes 4 of the 6 free.
    const leases = [lease(0, "pod-a"), ...range(1, 2, "pod-b"), ...range(3, 6)];
    const result = plan("pod-a", leases);
    assert.equal(result.fairShare, 5);
    assert.equal(result.take.length, 4);
    assert.ok(!ids(result.take).includes(id(0)), "not its own lease again");
  });

  test("a crashed holder's expired shards are taken up to the share among holders, even while a newcomer holding nothing asks", () => {
    // a and b hold 2 each, dead-x's 2 expired, newcomer n asks b for one: workers a, b, n
    // (share 2), but a takes up to the share among holders, ceil(6/2) = 3.
    const leases = [
      ...range(0, 2, "pod-a"),
      lease(2, "pod-b", "pod-n"),
      lease(3, "pod-b"),
      ...range(4, 2, "dead-x"),
    ];
    const result = plan("pod-a", leases, { expired: (entry) => entry.holder === "dead-x" });
    assert.equal(result.fairShare, 2);
    assert.equal(result.take.length, 1);
    assert.ok(result.take.every((entry) => entry.holder === "dead-x"));
    assert.deepEqual(result.steal, []);
  });

  test("at or above its fair share it takes and asks nothing", () => {
    const leases = [...range(0, 3, "pod-a"), ...range(3, 2, "pod-b"), lease(5)];
    // 6 shards over 2 workers: share 3, a holds 3.
    const result = plan("pod-a", leases);
    assert.deepEqual(result.take, []);
    assert.deepEqual(result.steal, []);
  });

  test('released leases (holder "") come before expired ones, whatever the rotation', () => {
    // 16 shards: a holds 4, b holds 7, dead-x's 3 expired, 2 released. Share ceil(16/2) = 8:
    // a needs 4 of the 5 free, and both released ones must be among them, first.
    const leases = [
      ...range(0, 3, "dead-x"),
      ...range(3, 2),
      ...range(5, 7, "pod-b"),
      ...range(12, 4, "pod-a"),
    ];
    for (const me of ["pod-a", "a", "orders-processor-7c9d5-x2k4p", "zz-top"]) {
      const mine = leases.map((entry) =>
        entry.holder === "pod-a" ? { ...entry, holder: me } : entry,
      );
      const result = plan(me, mine, { expired: deadExpired });
      assert.equal(result.workers, 2, `${me}: dead-x does not count`);
      assert.equal(result.take.length, 4, me);
      assert.deepEqual(
        result.take.map((entry) => entry.holder),
        ["", "", "dead-x", "dead-x"],
        `${me}: released first`,
      );
    }
  });

  test("when one lease is needed it is the released one; when two, released then expired", () => {
    // 6 shards over a and b: share 3. a holds 2 and needs 1: the released shard 5, not 0.
    const needOne = [
      lease(0, "dead-x"),
      ...range(1, 2, "pod-a"),
      ...range(3, 2, "pod-b"),
      lease(5),
    ];
    assert.deepEqual(ids(plan("pod-a", needOne, { expired: deadExpired }).take), [id(5)]);
    // a holds 1 and needs 2: both, the released one first.
    const needTwo = [lease(0, "dead-x"), lease(1, "pod-a"), ...range(2, 3, "pod-b"), lease(5)];
    assert.deepEqual(ids(plan("pod-a", needTwo, { expired: deadExpired }).take), [id(5), id(0)]);
  });

  test("a lease held by another processor and not expired is never taken", () => {
    const random = seededRandom(7);
    const holders = ["", "pod-b", "pod-c", "dead-x", "pod-a"];
    for (let round = 0; round < 300; round++) {
      const count = 1 + Math.floor(random() * 20);
      const leases = Array.from({ length: count }, (_, shard) =>
        lease(shard, holders[Math.floor(random() * holders.length)] ?? ""),
      );
      const maxSteals = Math.floor(random() * 4);
      const result = plan("pod-a", leases, { expired: deadExpired, maxSteals });
      const mine = leases.filter((entry) => entry.holder === "pod-a").length;
      assert.ok(
        mine + result.take.length <= Math.max(mine, result.fairShare),
        "no more than the share",
      );
      assert.ok(result.steal.length <= maxSteals, "no more asks than maxSteals");
      for (const taken of result.take) {
        assert.ok(
          taken.holder === "" || deadExpired(taken),
          `round ${round}: took ${taken.shardId} held live by ${taken.holder}`,
        );
      }
      for (const asked of result.steal) {
        assert.ok(asked.holder !== "" && asked.holder !== "pod-a" && !deadExpired(asked));
      }
      assert.ok(result.take.length === 0 || result.steal.length === 0, "takes or asks, not both");
    }
  });

  test("only held, unexpired leases: nothing is taken", () => {
    const result = plan("pod-a", range(0, 4, "pod-b"), { maxSteals: 0 });
    assert.deepEqual(result.take, []);
    assert.deepEqual(result.steal, []);
  });
});

describe("asking for held leases when nothing is free", () => {
  test("3/3/1: the one holding 1 asks the busiest for one shard", () => {
    const leases = [...range(0, 3, "pod-b"), ...range(3, 3, "pod-c"), lease(6, "pod-a")];
    const result = plan("pod-a", leases);
    assert.equal(result.fairShare, 3);
    assert.deepEqual(result.take, []);
    assert.equal(result.steal.length, 1);
    assert.equal(result.steal[0]?.holder, "pod-b", "from one busiest holder only");
    // Then 3/2/2: the busiest holds only one more than a, and it stays so.
    const settled = [...range(0, 3, "pod-b"), ...range(3, 2, "pod-c"), ...range(5, 2, "pod-a")];
    assert.deepEqual(plan("pod-a", settled).steal, [], "3/2/2 stays");
  });

  test("it asks only those above the fair share for their surplus", () => {
    // b 5, c 3, a 0: 8 shards over 3, share 3: b has 2 above it, c none.
    const leases = [...range(0, 5, "pod-b"), ...range(5, 3, "pod-c")];
    const result = plan("pod-a", leases);
    assert.equal(result.fairShare, 3);
    assert.equal(result.steal.length, 2);
    assert.ok(result.steal.every((entry) => entry.holder === "pod-b"));
  });

  test("a shard another processor asked for already is left to it", () => {
    const leases = [
      lease(0, "pod-b", "pod-c"),
      lease(1, "pod-b", "pod-c"),
      ...range(2, 2, "pod-b"),
    ];
    const result = plan("pod-a", leases);
    assert.ok(result.steal.length > 0);
    assert.ok(result.steal.every((entry) => entry.handoffTo === ""));
  });

  test("3/3/1 with maxSteals 0 asks nothing", () => {
    const leases = [...range(0, 3, "pod-b"), ...range(3, 3, "pod-c"), lease(6, "pod-a")];
    assert.deepEqual(plan("pod-a", leases, { maxSteals: 0 }).steal, []);
  });

  test("2/2/2: balanced, nobody asks", () => {
    const leases = [...range(0, 2, "pod-b"), ...range(2, 2, "pod-c"), ...range(4, 2, "pod-a")];
    const result = plan("pod-a", leases);
    assert.deepEqual(result.take, []);
    assert.deepEqual(result.steal, []);
  });

  test("3/2 with me at 2: one more than me is not worth a hand-over", () => {
    const leases = [...range(0, 3, "pod-b"), ...range(3, 2, "pod-a")];
    const result = plan("pod-a", leases);
    assert.equal(result.fairShare, 3);
    assert.deepEqual(result.steal, []);
  });

  test("2/2/1: the busiest holds only one more, nobody asks", () => {
    const leases = [...range(0, 2, "pod-b"), ...range(2, 2, "pod-c"), lease(4, "pod-a")];
    assert.deepEqual(plan("pod-a", leases).steal, []);
  });

  test("asks at most maxSteals at a time", () => {
    // b holds 9, a none: share ceil(9/2) = 5, so a wants 5 and b has 4 above the share.
    const leases = range(0, 9, "pod-b");
    for (const maxSteals of [0, 1, 2, 3, 4, 10]) {
      const result = plan("pod-a", leases, { maxSteals });
      assert.equal(result.steal.length, Math.min(maxSteals, 4), `maxSteals ${maxSteals}`);
      assert.ok(result.steal.every((entry) => entry.holder === "pod-b"));
      assert.equal(new Set(ids(result.steal)).size, result.steal.length, "no lease twice");
    }
  });

  test("with maxSteals 1 the one shard asked comes from the busiest holder", () => {
    // b 5, c 4, a 0: 9 shards over 3, share 3: both are above it, b the most.
    const leases = [...range(0, 4, "pod-c"), ...range(4, 5, "pod-b")];
    const result = plan("pod-a", leases, { maxSteals: 1 });
    assert.deepEqual(
      result.steal.map((entry) => entry.holder),
      ["pod-b"],
    );
  });

  test("never asks for its own leases, for free ones, or for more than its share", () => {
    // a 1, b 6: 7 shards over 2, share 4: a wants 3, b has 2 above the share.
    const leases = [lease(0, "pod-a"), ...range(1, 6, "pod-b")];
    const result = plan("pod-a", leases);
    assert.equal(result.steal.length, 2);
    assert.ok(result.steal.every((entry) => entry.holder === "pod-b"));
  });
});

describe("which shards and which processors count", () => {
  test("shards not in readable are never taken nor asked for", () => {
    const leases = range(0, 10);
    const readable = new Set([id(2), id(5), id(7)]);
    const result = plan("pod-a", leases, { readable });
    assert.equal(result.fairShare, 3, "only readable shards are shared");
    assert.deepEqual(ids(result.take).sort(), [id(2), id(5), id(7)]);

    // Held ones: b holds 6, 3 of them readable. a asks only among the readable.
    const held = range(0, 6, "pod-b");
    const some = new Set([id(0), id(2), id(4)]);
    const asked = plan("pod-a", held, { readable: some });
    assert.equal(asked.fairShare, 2);
    assert.ok(asked.steal.length > 0);
    assert.ok(asked.steal.every((entry) => some.has(entry.shardId)));
  });

  test("an unreadable free shard is not taken even when the processor is below its share", () => {
    const leases = [...range(0, 4, "pod-b"), lease(4), lease(5)];
    const readable = new Set([...ids(range(0, 4)), id(4)]);
    const result = plan("pod-a", leases, { readable });
    assert.deepEqual(ids(result.take), [id(4)]);
  });

  test("workers are me and the live holders: expired holders do not count", () => {
    // b live with 2, dead-x and dead-y expired with 2 each, a none: workers a, b: share 3.
    const leases = [...range(0, 2, "pod-b"), ...range(2, 2, "dead-x"), ...range(4, 2, "dead-y")];
    const result = plan("pod-a", leases, { expired: deadExpired });
    assert.equal(result.workers, 2);
    assert.equal(result.fairShare, 3);
    assert.equal(result.take.length, 3);
    assert.ok(result.take.every((entry) => entry.holder.startsWith("dead")));
  });

  test("a processor that asked for a shard counts as live, though it holds nothing yet", () => {
    // b holds 6, c asks for one: workers a, b, c, share ceil(6/3) = 2, so a asks for 2, not 3.
    const leases = [lease(0, "pod-b", "pod-c"), ...range(1, 5, "pod-b")];
    const result = plan("pod-a", leases);
    assert.equal(result.workers, 3);
    assert.equal(result.fairShare, 2);
    assert.equal(result.steal.length, 2);
  });

  test("me counts once, whether it holds nothing or several leases", () => {
    assert.equal(plan("pod-a", range(0, 4, "pod-b")).workers, 2);
    const leases = [...range(0, 4, "pod-b"), ...range(4, 3, "pod-a")];
    assert.equal(plan("pod-a", leases).workers, 2);
  });

  test("a holder counts once however many leases it holds", () => {
    const leases = [...range(0, 5, "pod-b"), ...range(5, 3, "pod-c"), ...range(8, 4)];
    const result = plan("pod-a", leases);
    assert.equal(result.workers, 3);
    assert.equal(result.fairShare, 4);
  });
});

describe("rotation", () => {
  test("two processors starting together try different free leases first", () => {
    const leases = range(0, 8);
    const first = (me: string): string | undefined => plan(me, leases).take[0]?.shardId;
    assert.notEqual(first("pod-a"), first("pod-b"));
    assert.equal(first("pod-a"), first("pod-a"), "the same name starts at the same place");
  });

  test("Deployment pod names spread their first lease over the free ones", () => {
    const random = seededRandom(11);
    const alphabet = "bcdfghjklmnpqrstvwxz2456789";
    const names = Array.from(
      { length: 20 },
      () =>
        `orders-processor-7c9d5f6b8-${Array.from(
          { length: 5 },
          () => alphabet[Math.floor(random() * alphabet.length)],
        ).join("")}`,
    );
    const leases = range(0, 16);
    const firsts = new Set(names.map((me) => plan(me, leases).take[0]?.shardId));
    assert.ok(firsts.size >= 8, `20 pods started at only ${firsts.size} of 16 leases`);
  });

  test("the rotation never skips a lease: a processor alone still takes every free one", () => {
    for (const me of ["pod-a", "pod-b", "x"]) {
      assert.deepEqual(ids(plan(me, range(0, 5)).take).sort(), ids(range(0, 5)));
    }
  });
});
