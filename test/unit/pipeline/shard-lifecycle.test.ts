// The per-shard state machine of a processor: every accepted transition, every refused one, and
// seeded random runs that drive a shard through random events with a model of its Lease and of
// another processor, checking what the table exists for: a reader runs only in a state that
// allows it, one processor reads the shard at a time, and its checkpoint never goes back.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  mayCheckpoint,
  mayRead,
  next,
  shardEvents,
  shardStates,
  transitions,
  type ShardEvent,
  type ShardState,
} from "../../../processor/pipeline/shard-lifecycle.ts";
import { seededRandom } from "../seeded-random.ts";

/** The specification, written out apart from the table: [from, event, to, why]. */
const accepted: [ShardState, ShardEvent, ShardState, string][] = [
  ["idle", "owned", "reading", "a sync confirms the shard ours: read it"],
  ["idle", "asked", "handingOver", "held but not read yet: hand the Lease over"],
  ["reading", "readToEnd", "ending", "a closed shard read to its end waits for its acks"],
  ["reading", "asked", "handingOver", "asked for: stop reading and drain"],
  ["reading", "lost", "dropped", "the Lease was lost: stop reading at once"],
  ["reading", "disowned", "dropped", "a sync no longer lists it ours: stop reading"],
  ["reading", "readerStopped", "stopped", "the reader stopped on its own"],
  ["ending", "endWritten", "finished", "SHARD_END written: done"],
  ["ending", "asked", "handingOver", "asked for before the end was written"],
  ["ending", "lost", "dropped", "lost before SHARD_END was written: not ours to write"],
  ["ending", "disowned", "dropped", "no longer listed ours with records unacknowledged"],
  ["handingOver", "handOverEnded", "idle", "handed over (or the write failed): not ours"],
  ["handingOver", "lost", "dropping", "lost while draining: write nothing more"],
  ["dropping", "handOverEnded", "dropped", "the hand-over ended: it may be read again"],
  ["dropped", "owned", "reading", "ours again: resume after what was written"],
  ["dropped", "asked", "handingOver", "the Lease is still held: hand it over"],
  ["dropped", "unlisted", "idle", "gone from the stream"],
  ["finished", "unlisted", "idle", "gone from the stream: forget it"],
  ["stopped", "lost", "dropped", "a stopped reader's shard lost"],
  ["stopped", "disowned", "dropped", "a stopped reader's shard no longer ours"],
  ["stopped", "asked", "handingOver", "hand over what the stopped reader acknowledged"],
];

describe("shard lifecycle transitions", () => {
  for (const [from, event, to, why] of accepted) {
    test(`${from} --${event}--> ${to}: ${why}`, () => {
      assert.equal(next(from, event), to);
    });
  }
  for (const state of shardStates) {
    for (const event of shardEvents) {
      if (accepted.some(([from, on]) => from === state && on === event)) continue;
      test(`${state} refuses ${event}`, () => {
        assert.equal(next(state, event), undefined);
      });
    }
  }
  test("the table holds the specified transitions and no others", () => {
    const inTable = Object.values(transitions).reduce(
      (count, row) => count + Object.keys(row).length,
      0,
    );
    assert.equal(inTable, accepted.length);
  });
  test("a reader may run only while reading; finished, dropped, dropping and idle never checkpoint", () => {
    assert.deepEqual(shardStates.filter(mayRead), ["reading"]);
    assert.deepEqual(shardStates.filter(mayCheckpoint), [
      "reading",
      "ending",
      "handingOver",
      "stopped",
    ]);
  });
});

type Next = (state: ShardState, event: ShardEvent) => ShardState | undefined;
const END = Number.POSITIVE_INFINITY;

/**
 * One shard, driven by random events as the supervisor meets them, with the effects the
 * supervisor gives an accepted event: start a reader and its tracker on `owned`, stop the reader
 * when leaving `reading`, keep the tracker (and write its checkpoint) only where the state allows, hand over unless lost meanwhile. Its Lease is
 * held by this processor ("me"), another one, or nobody. Returns the first broken invariant.
 */
function run(seed: number, steps: number, transition: Next): string | undefined {
  const random = seededRandom(seed);
  let state: ShardState = "idle";
  let readers = 0;
  /** What the current reading acknowledged, while it has one. */
  let tracker: number | undefined;
  let handOverPending = false;
  const lease = { holder: "" as "" | "me" | "other", checkpoint: 0 };
  const fire = (event: ShardEvent): boolean => {
    const to = transition(state, event);
    if (to === undefined) return false;
    if (state === "reading" && to !== "reading") readers--;
    if (event === "owned") {
      readers++;
      tracker = lease.checkpoint;
    }
    if (!mayCheckpoint(to)) tracker = undefined;
    state = to;
    return true;
  };
  const write = (checkpoint: number): string | undefined => {
    if (checkpoint < lease.checkpoint) {
      return `checkpoint went back from ${String(lease.checkpoint)} to ${String(checkpoint)}`;
    }
    lease.checkpoint = checkpoint;
    return undefined;
  };
  const actions: (() => string | undefined)[] = [
    () => {
      // A sync.
      if (lease.holder === "me" && lease.checkpoint !== END) fire("owned");
      else if (lease.holder !== "me") fire("disowned");
      return undefined;
    },
    () => {
      // Our heartbeat lapses, or a write finds the Lease taken: the coordinator drops the shard.
      if (lease.holder !== "me") return undefined;
      lease.holder = "";
      fire("lost");
      return undefined;
    },
    () => {
      if (lease.holder === "" && lease.checkpoint !== END)
        lease.holder = random() < 0.5 ? "me" : "other";
      return undefined;
    },
    () => {
      // The other processor reads on and checkpoints, or releases the shard.
      if (lease.holder !== "other") return undefined;
      if (random() < 0.3) lease.holder = "";
      else lease.checkpoint += 1 + Math.floor(random() * 5);
      return undefined;
    },
    () => {
      if (readers > 0 && tracker !== undefined) tracker += Math.floor(random() * 5);
      if (readers > 0 && random() < 0.05) fire(random() < 0.5 ? "readToEnd" : "readerStopped");
      return undefined;
    },
    () => {
      // A checkpoint flush, or SHARD_END once every record of an ending shard was acknowledged.
      if (lease.holder !== "me" || tracker === undefined) return undefined;
      if (state === "ending" && random() < 0.3) {
        const broken = write(END);
        lease.holder = "";
        fire("endWritten");
        return broken;
      }
      return write(tracker);
    },
    () => {
      if (lease.holder === "me" && fire("asked")) handOverPending = true;
      return undefined;
    },
    () => {
      // The hand-over task ends: drained, it writes its checkpoint and the asker in, unless lost.
      // Draining takes a while: the Lease may change hands meanwhile.
      if (!handOverPending || random() < 0.8) return undefined;
      handOverPending = false;
      let broken: string | undefined;
      if (state === "handingOver" && lease.holder === "me") {
        broken = tracker === undefined ? undefined : write(tracker);
        lease.holder = "other";
      }
      fire("handOverEnded");
      return broken;
    },
    () => {
      if (lease.checkpoint === END) fire("unlisted");
      return undefined;
    },
  ];
  for (let step = 0; step < steps; step++) {
    const action = actions[Math.floor(random() * actions.length)] as () => string | undefined;
    const broken = action();
    if (broken !== undefined) return `step ${String(step)}: ${broken}`;
    if (readers > 1) return `step ${String(step)}: two readers of the shard here`;
    if ((readers === 1) !== mayRead(state)) {
      return `step ${String(step)}: ${String(readers)} readers in state ${state}`;
    }
    if (readers === 1 && lease.holder === "other") {
      return `step ${String(step)}: read here and by the other processor`;
    }
  }
  return undefined;
}

describe("shard lifecycle under random events", () => {
  test("200 seeded runs: a reader only while reading, one reader at a time, checkpoints never go back", () => {
    for (let seed = 1; seed <= 200; seed++) {
      assert.equal(run(seed, 2_000, next), undefined, `seed ${String(seed)}`);
    }
  });

  test("the random runs catch a table that accepts `owned` while reading (a second reader)", () => {
    const broken: Next = (state, event) =>
      state === "reading" && event === "owned" ? "reading" : next(state, event);
    const failures = [1, 2, 3, 4, 5].map((seed) => run(seed, 2_000, broken));
    assert.ok(failures.some((failure) => failure?.includes("two readers") === true));
  });

  test("the random runs catch a table that ignores a loss while reading (two processors read)", () => {
    const broken: Next = (state, event) =>
      state === "reading" && event === "lost" ? "reading" : next(state, event);
    const failures = [1, 2, 3, 4, 5].map((seed) => run(seed, 2_000, broken));
    assert.ok(failures.some((failure) => failure?.includes("other processor") === true));
  });

  test("the random runs catch a hand-over that still writes after a loss (the checkpoint goes back)", () => {
    const broken: Next = (state, event) =>
      state === "handingOver" && event === "lost" ? "handingOver" : next(state, event);
    const failures = [1, 2, 3, 4, 5, 6, 7, 8].map((seed) => run(seed, 2_000, broken));
    assert.ok(failures.some((failure) => failure?.includes("went back") === true));
  });
});
