// The API calls of the shard coordination, on the job's Leases. Every call has a deadline, so one
// hung request cannot stop the syncs behind it; the list may take up to a heartbeat duration (it
// decides nothing about this processor's own shards, and many Leases list slowly on a busy API
// server). A replace carries the resourceVersion read, so it is fenced.
import type { CoordinationV1Api, V1Lease } from "@kubernetes/client-node";
import { bounded } from "./api-deadline.ts";
import {
  HEARTBEAT_HELD_SECONDS,
  changedLease,
  toShardLease,
  type LeaseChange,
  type ShardLease,
} from "./shard-lease.ts";

export interface ShardLeaseCallsOptions {
  api: CoordinationV1Api;
  namespace: string;
  labels: Record<string, string>;
  deadlineMs: number;
  listDeadlineMs: number;
  /** The wall clock written as renewTime. */
  wallClock: () => Date;
}

export type ShardLeaseCalls = ReturnType<typeof shardLeaseCalls>;

export function shardLeaseCalls(options: ShardLeaseCallsOptions) {
  const { api, namespace, deadlineMs } = options;
  const labelSelector = Object.entries(options.labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
  return {
    /** Writes a change over the version of the Lease read; 409 if anyone wrote it since. */
    async replace(lease: ShardLease, change: LeaseChange): Promise<ShardLease> {
      const body = changedLease(lease, change, HEARTBEAT_HELD_SECONDS, options.wallClock());
      const updated = toShardLease(
        await bounded(
          api.replaceNamespacedLease({ name: lease.name, namespace, body }),
          deadlineMs,
          `updating Lease ${lease.name}`,
        ),
      );
      if (updated === undefined) throw new Error(`Lease ${lease.name} lost its shard annotation`);
      return updated;
    },
    async read(name: string): Promise<ShardLease | undefined> {
      return toShardLease(
        await bounded(
          api.readNamespacedLease({ name, namespace }),
          deadlineMs,
          `reading Lease ${name}`,
        ),
      );
    },
    async create(body: V1Lease): Promise<ShardLease | undefined> {
      return toShardLease(
        await bounded(
          api.createNamespacedLease({ namespace, body }),
          deadlineMs,
          "creating a Lease",
        ),
      );
    },
    /** The job's Leases: shard Leases and heartbeats. */
    async list(): Promise<V1Lease[]> {
      const list = await bounded(
        api.listNamespacedLease({
          namespace,
          ...(labelSelector === "" ? {} : { labelSelector }),
        }),
        options.listDeadlineMs,
        "listing the job's Leases",
      );
      return list.items;
    },
  };
}
