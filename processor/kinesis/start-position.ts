// Where a shard without a checkpoint starts. LATEST is fixed once, to a moment (the job's
// creation, or this processor's start), and read as AT_TIMESTAMP from then on: the shard's first
// iterator, an iterator re-opened after an error before any record was read, a restart, a shard
// handed to another processor, and the children of a split or a merge (whose records all arrive
// after the split) all start from that same moment, so none skips what arrived in between. A
// plain LATEST would skip it each time (the KCL starts children at TRIM_HORIZON for this reason).
import type { StartPosition } from "../config/schema.ts";

export type FixedStartPosition = Exclude<StartPosition, { type: "LATEST" }>;

export function fixStartPosition(position: StartPosition, latestFrom: Date): FixedStartPosition {
  return position.type === "LATEST"
    ? { type: "AT_TIMESTAMP", timestamp: latestFrom.toISOString() }
    : position;
}
