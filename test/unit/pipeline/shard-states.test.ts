// Every shard's state, kept by the lifecycle table: an accepted event moves the shard and the
// state its status shows, a refused one changes nothing, and an idle shard is forgotten.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ShardReadings } from "../../../processor/pipeline/shard-readings.ts";
import { createShardStates } from "../../../processor/pipeline/shard-states.ts";
import { newReading } from "../../../processor/pipeline/start-reading.ts";

test("an accepted event moves the shard, and its reading shows the state it maps to", () => {
  const readings: ShardReadings = new Map();
  const states = createShardStates(readings);
  assert.equal(states.fire("shard-0", "owned"), true);
  const reading = newReading("shard-0", undefined);
  readings.set("shard-0", reading);
  assert.equal(states.stateOf("shard-0"), "reading");
  assert.equal(states.fire("shard-0", "asked"), true);
  assert.equal(states.stateOf("shard-0"), "handingOver");
  assert.equal(reading.status.state, "draining", "a shard handed over drains");
});

test("a refused event changes nothing, neither the state nor what the status shows", () => {
  const readings: ShardReadings = new Map();
  const states = createShardStates(readings);
  states.fire("shard-0", "owned");
  const reading = newReading("shard-0", undefined);
  readings.set("shard-0", reading);
  assert.equal(states.fire("shard-0", "owned"), false, "no second reader of a shard read");
  assert.equal(states.fire("shard-0", "endWritten"), false, "no end written before it was read");
  assert.equal(states.stateOf("shard-0"), "reading");
  assert.equal(reading.status.state, "reading");
  assert.equal(states.fire("shard-1", "lost"), false, "a loss of a shard not read here");
  assert.deepEqual(states.known(), ["shard-0"]);
});

test("a shard back to idle is forgotten; a shard dropped or finished is remembered", () => {
  const states = createShardStates(new Map());
  for (const event of ["owned", "asked", "handOverEnded"] as const) states.fire("handed", event);
  for (const event of ["owned", "lost"] as const) states.fire("dropped", event);
  for (const event of ["owned", "readToEnd", "endWritten"] as const) states.fire("ended", event);
  assert.equal(states.stateOf("handed"), "idle");
  assert.deepEqual(states.known(), ["dropped", "ended"]);
  states.fire("ended", "unlisted");
  assert.deepEqual(states.known(), ["dropped"], "a finished shard gone from the stream");
});
