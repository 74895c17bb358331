// Who read which shard when, as the endpoint saw it: each call names a record (so its shard) and
// comes from one processor. Two processors reading one shard at once show as spans of calls that
// overlap in time; a hand-over or a failover shows as one span ending before the next begins.
import { createHash } from "node:crypto";

export interface ShardRead {
  shardId: string;
  reader: string;
  /** When the endpoint had the call (one clock for every reader: the endpoint's). */
  at: number;
}

interface Span {
  reader: string;
  from: number;
  to: number;
}

export interface ReadOverlap {
  /** Over all shards, milliseconds during which two readers' spans of one shard overlapped. */
  ms: number;
  /** Calls a reader made inside another reader's span of the same shard. */
  intruding: number;
}

/** The shard of a partition key: the MD5 of the key, as a 128-bit number, in its hash key range. */
export function shardOfKey(
  key: string,
  shards: readonly { shardId: string; start: bigint; end: bigint }[],
): string {
  const hash = BigInt(`0x${createHash("md5").update(key).digest("hex")}`);
  const shard = shards.find((candidate) => candidate.start <= hash && hash <= candidate.end);
  if (shard === undefined) throw new Error(`no shard covers the key ${key}`);
  return shard.shardId;
}

/** Each reader's spans of one shard: its calls, merged where less than `gapMs` apart. */
export function readingSpans(reads: readonly ShardRead[], gapMs: number): Span[] {
  const spans: Span[] = [];
  const open = new Map<string, Span>();
  for (const read of [...reads].sort((a, b) => a.at - b.at)) {
    const span = open.get(read.reader);
    if (span !== undefined && read.at - span.to < gapMs) {
      span.to = read.at;
    } else {
      const started = { reader: read.reader, from: read.at, to: read.at };
      open.set(read.reader, started);
      spans.push(started);
    }
  }
  return spans;
}

/** Time covered by at least two of the spans (one reader's spans never overlap each other). */
function doublyCovered(spans: readonly Span[]): number {
  const edges = spans
    .flatMap((span) => [
      { at: span.from, step: 1 },
      { at: span.to, step: -1 },
    ])
    .sort((a, b) => a.at - b.at || a.step - b.step);
  let covered = 0;
  let active = 0;
  let since = 0;
  for (const edge of edges) {
    if (active >= 2) covered += edge.at - since;
    active += edge.step;
    since = edge.at;
  }
  return covered;
}

export function readOverlap(reads: readonly ShardRead[], gapMs: number): ReadOverlap {
  const byShard = Map.groupBy(reads, (read) => read.shardId);
  let ms = 0;
  let intruding = 0;
  for (const shardReads of byShard.values()) {
    const spans = readingSpans(shardReads, gapMs);
    ms += doublyCovered(spans);
    intruding += shardReads.filter((read) =>
      spans.some((span) => span.reader !== read.reader && span.from < read.at && read.at < span.to),
    ).length;
  }
  return { ms, intruding };
}
