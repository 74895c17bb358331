// The batch rule of ordered mode. A partial PutRecords failure retries only the entries that
// failed, so an entry sent in the same call after another of its key could land first. A call
// therefore carries at most one entry per routing key (the explicit hash key when the entry has
// one, as an aggregate does, else its partition key); the others keep their place for the next.
import type { PutEntry } from "./sink-packing.ts";

export interface BatchLimits {
  maxRecords: number;
  maxBytes: number;
}

export interface KeyOrderedBatch {
  batch: PutEntry[];
  bytes: number;
  /** Entries left for later calls, in their order. */
  left: PutEntry[];
}

const routingKey = (entry: PutEntry): string => entry.explicitHashKey ?? `k:${entry.partitionKey}`;

export function takeKeyOrderedBatch(
  entries: readonly PutEntry[],
  limits: BatchLimits,
): KeyOrderedBatch {
  const batch: PutEntry[] = [];
  const left: PutEntry[] = [];
  const keys = new Set<string>();
  let bytes = 0;
  let index = 0;
  for (; index < entries.length; index++) {
    const entry = entries[index] as PutEntry;
    if (batch.length === limits.maxRecords) break;
    if (batch.length > 0 && bytes + entry.bytes > limits.maxBytes) break;
    const key = routingKey(entry);
    if (keys.has(key)) {
      left.push(entry);
      continue;
    }
    keys.add(key);
    bytes += entry.bytes;
    batch.push(entry);
  }
  for (; index < entries.length; index++) left.push(entries[index] as PutEntry);
  return { batch, bytes, left };
}
