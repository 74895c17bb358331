// The shard coordinator a config asks for: shard Leases shared by a job's pods, or one processor
// with its checkpoints in a plain store (the demo, tests).
import { CoordinationV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { ProcessorConfig } from "../config/schema.ts";
import { loadKubeConfig } from "../leases/kube-config.ts";
import { createLeaseCoordinator } from "../leases/lease-coordinator.ts";
import type { ProcessorMetrics } from "../metrics/processor-metrics.ts";
import type { ShardCoordinator, ShardCounters } from "./coordinator.ts";
import { createSingleWorkerCoordinator } from "./single-worker.ts";
import { createMemoryCheckpointStore, type CheckpointStore } from "./store.ts";

export interface CoordinatorParts {
  workerId: string;
  /** What a shard's Lease reports about it at each write. */
  counters: (shardId: string) => ShardCounters | undefined;
  kubeConfig: KubeConfig | undefined;
  checkpointStore: CheckpointStore | undefined;
  metrics: ProcessorMetrics;
  logger: Logger;
}

export function coordinatorFor(config: ProcessorConfig, parts: CoordinatorParts): ShardCoordinator {
  const coordination = config.coordination;
  if (coordination.type === "memory") {
    return createSingleWorkerCoordinator(
      parts.checkpointStore ?? createMemoryCheckpointStore(),
      config.source.shardDiscoveryIntervalMs,
    );
  }
  return createLeaseCoordinator({
    api: (parts.kubeConfig ?? loadKubeConfig()).makeApiClient(CoordinationV1Api),
    config: coordination,
    workerId: parts.workerId,
    counters: parts.counters,
    logger: parts.logger,
    observer: parts.metrics.leaseObserver,
  });
}
