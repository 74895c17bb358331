// One processor's heartbeat as the heartbeat tests write it: its Lease spec and its figures.
import type { ProcessorProgress } from "../../../processor/leases/heartbeat-lease.ts";

export const spec = {
  namespace: "shop",
  prefix: "orders",
  processor: "orders-processor-7d9c6b5f4-2kq8w",
  labels: { "asyncenrichment.dev/job": "orders" },
  owner: undefined,
  leaseDurationSeconds: 5,
};

export const figures: ProcessorProgress = {
  worker: spec.processor,
  inPerSecond: 10,
  outPerSecond: 9,
  failedPerSecond: 0,
  lagMillis: { "shardId-000000000000": 250 },
  at: "2026-11-30T04:00:00.000Z",
};
