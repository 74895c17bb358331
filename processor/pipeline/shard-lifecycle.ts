// The life of one shard in one processor, as the KCL gives each shard consumer explicit states: a
// transition table instead of flags spread over the supervisor. The supervisor fires an event
// when something happens to a shard (a sync confirms it ours, its reader reached the end, another
// processor asked for it, its Lease was lost) and acts only when the table accepts it; a refused
// event changes nothing (a loss of a shard not read here, a second request for a shard already
// being handed over). A shard without a state is idle.
export const shardStates = [
  "idle",
  /** A reader runs. */
  "reading",
  /** Read to its end: waiting for every record to be acknowledged, then SHARD_END is written. */
  "ending",
  /** Asked for by another processor: the reader stopped; draining, checkpoint, hand-over write. */
  "handingOver",
  /** Lost while handing over: nothing more is written; read again only once the hand-over ended. */
  "dropping",
  /** Its Lease was lost or not confirmed: the reader stopped; what it read is still counted. */
  "dropped",
  /** SHARD_END written: never read again, remembered until it leaves the stream's listing. */
  "finished",
  /** Its reader stopped on its own (the processor stops, or the engine refused a record). */
  "stopped",
] as const;
export type ShardState = (typeof shardStates)[number];

export const shardEvents = [
  /** A sync confirms the Lease held and the shard readable. */
  "owned",
  /** The reader reached the end of a closed shard. */
  "readToEnd",
  /** SHARD_END was written after every record was acknowledged. */
  "endWritten",
  /** Another processor asked for the shard. */
  "asked",
  /** The hand-over ended: written, or failed (then the Lease is adopted back if it names us). */
  "handOverEnded",
  /** The coordinator lost the Lease (taken, deleted, the heartbeat lapsed). */
  "lost",
  /** A sync no longer lists the shard as owned. */
  "disowned",
  /** The reader stopped without reaching the end. */
  "readerStopped",
  /** The shard left the stream's listing. */
  "unlisted",
] as const;
export type ShardEvent = (typeof shardEvents)[number];

/** Every accepted transition; any other (state, event) pair is refused. */
export const transitions: Readonly<
  Record<ShardState, Readonly<Partial<Record<ShardEvent, ShardState>>>>
> = {
  idle: { owned: "reading", asked: "handingOver" },
  reading: {
    readToEnd: "ending",
    asked: "handingOver",
    lost: "dropped",
    disowned: "dropped",
    readerStopped: "stopped",
  },
  // A sync that no longer lists an ending shard whose records are all acknowledged is not a loss
  // (its SHARD_END released the Lease): the supervisor does not fire it then.
  ending: { endWritten: "finished", asked: "handingOver", lost: "dropped", disowned: "dropped" },
  // A shard lost while handed over is read again only once the hand-over ended: the hand-over
  // must not write its checkpoint, or the asker in, over a shard read again here.
  handingOver: { handOverEnded: "idle", lost: "dropping" },
  dropping: { handOverEnded: "dropped" },
  dropped: { owned: "reading", asked: "handingOver", unlisted: "idle" },
  finished: { unlisted: "idle" },
  stopped: { lost: "dropped", disowned: "dropped", asked: "handingOver" },
};

/** The state after `event`, or undefined when the state refuses it. */
export function next(state: ShardState, event: ShardEvent): ShardState | undefined {
  return transitions[state][event];
}

/** Whether a reader may run: only while reading. */
export const mayRead = (state: ShardState): boolean => state === "reading";

/** Whether this processor may write the shard's checkpoint (the reader's records are its own). */
export const mayCheckpoint = (state: ShardState): boolean =>
  state === "reading" || state === "ending" || state === "handingOver" || state === "stopped";

/** The state shown in the processor's status. */
export function shownState(state: ShardState): "reading" | "draining" | "finished" | "stopped" {
  if (state === "reading" || state === "finished") return state;
  if (state === "ending" || state === "handingOver" || state === "dropping") return "draining";
  return "stopped";
}
