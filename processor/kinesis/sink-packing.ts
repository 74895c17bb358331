// How the sink turns records into PutRecords entries: one entry per record, or, with aggregation
// on, KPL aggregates of many records (processor/kinesis/kpl/aggregator.ts) packed per shard.
//
// Records share an aggregate only when they go to the same shard (see the aggregator), so packing
// needs the sink stream's shard map: without one, only records of the same hash key could share an
// aggregate, which saves nothing when keys are distinct. The map comes from ListShards, at the
// start and every minute, and is dropped at once when PutRecords puts an aggregate on another
// shard than the one it was packed for (a split or a merge since): consumers that filter by hash
// key range, as KCL does, skip such an aggregate, so its records are packed again (per hash key,
// which lands right whatever the map) and sent again, as the KPL does. Until a map is known, or if
// ListShards fails, records are packed per hash key: correct, only less compact.
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import type { Receipt } from "../checkpoint/tracker.ts";
import { aborted } from "../util/pause.ts";
import { createAggregator, type Aggregate, type ShardHashKeyRange } from "./kpl/aggregator.ts";
import { listOpenShardRanges, sameShardMap } from "./open-shard-ranges.ts";

export interface SinkEntry {
  readonly data: Uint8Array;
  readonly partitionKey: string;
  readonly receipt: Receipt;
}

/** One PutRecords entry and the records it carries: acknowledged together once it is written. */
export type PutEntry = Aggregate<SinkEntry>;

export interface EntryPacker {
  /** Takes a record; returns the entries it completed (often none), in the order to send them. */
  add(record: SinkEntry): readonly PutEntry[];
  /** Completes every open entry. */
  flush(): readonly PutEntry[];
  /** Records taken and not yet in a returned entry. */
  readonly pendingRecords: number;
  /**
   * Given the shard PutRecords wrote an entry to: undefined if its records are where they belong,
   * else the entries that carry them again.
   */
  misplaced(entry: PutEntry, shardId: string | undefined): readonly PutEntry[] | undefined;
}

/** Without aggregation: each record is an entry of its own. */
export function plainPacker(): EntryPacker {
  return {
    add(record) {
      return [
        {
          data: record.data,
          partitionKey: record.partitionKey,
          explicitHashKey: undefined,
          records: [record],
          bytes: record.data.length + Buffer.byteLength(record.partitionKey),
          shardId: undefined,
        },
      ];
    },
    flush: () => [],
    pendingRecords: 0,
    misplaced: () => undefined,
  };
}

export interface AggregatingPackerOptions {
  client: KinesisClient;
  stream: string;
  maxBytes: number;
  maxRecords: number;
  /** Stops shard map refreshes. */
  signal: AbortSignal;
  /** How often the shard map is listed again. */
  refreshIntervalMs?: number | undefined;
  /** After a failed ListShards, how long until the next try. */
  retryIntervalMs?: number | undefined;
  /** ListShards failed: records are packed per hash key until it works. */
  onShardMapError(reason: string): void;
}

export function aggregatingPacker(options: AggregatingPackerOptions): EntryPacker {
  const { client, stream, maxBytes, maxRecords, signal } = options;
  const refreshIntervalMs = options.refreshIntervalMs ?? 60_000;
  const retryIntervalMs = options.retryIntervalMs ?? 10_000;
  const aggregator = (shards?: readonly ShardHashKeyRange[]) =>
    createAggregator<SinkEntry>({ maxBytes, maxRecords, shards });

  let current = aggregator();
  let currentMap: readonly ShardHashKeyRange[] | undefined;
  /** A map to pack by from the next record on (undefined shards: per hash key). */
  let next: { shards: readonly ShardHashKeyRange[] | undefined } | undefined;
  let refreshing = false;
  let nextRefreshAt = 0;

  const refresh = (): void => {
    if (refreshing || signal.aborted) return;
    refreshing = true;
    listOpenShardRanges(client, stream, signal)
      .then(
        (shards) => {
          nextRefreshAt = performance.now() + refreshIntervalMs;
          const known = next === undefined ? currentMap : next.shards;
          if (known === undefined || !sameShardMap(known, shards)) next = { shards };
        },
        (error: unknown) => {
          nextRefreshAt = performance.now() + retryIntervalMs;
          if (aborted(signal)) return;
          options.onShardMapError(
            error instanceof Error ? `${error.name}: ${error.message}` : String(error),
          );
        },
      )
      .finally(() => {
        refreshing = false;
      });
  };

  /** Completes what was packed by the old map and packs by the new one from now on. */
  const switchMap = (): readonly PutEntry[] => {
    if (next === undefined) return [];
    const completed = current.flush();
    currentMap = next.shards;
    next = undefined;
    current = aggregator(currentMap);
    return completed;
  };

  refresh();
  return {
    add(record) {
      if (performance.now() >= nextRefreshAt) refresh();
      if (next === undefined) return current.add(record);
      return [...switchMap(), ...current.add(record)];
    },
    flush() {
      return [...switchMap(), ...current.flush()];
    },
    get pendingRecords() {
      return current.pendingRecords;
    },
    misplaced(entry, shardId) {
      if (entry.shardId === undefined || shardId === undefined || shardId === entry.shardId) {
        return undefined;
      }
      // The map is stale: pack per hash key until a fresh one is listed, which starts now. Only
      // entries packed by a map can signal this, so it costs a ListShards per map at most.
      if (currentMap !== undefined || next?.shards !== undefined) next = { shards: undefined };
      refresh();
      if (entry.records.length === 1) return undefined; // a plain record is read wherever it is
      const repacker = aggregator();
      return [...entry.records.flatMap((record) => repacker.add(record)), ...repacker.flush()];
    },
  };
}
