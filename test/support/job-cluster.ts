// The e2e bed for a job on the test cluster: the cluster with the CRDs, the Kinesis emulator and
// the job's streams (pods reach it through a relay), its credentials as a Secret, and the operator
// as a process of this machine, started again if it exits (a leader cut off from the API server
// exits, and its Deployment would restart it).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { startKinesisEmulator, type KinesisEmulator } from "../../demo/kinesis-emulator.ts";
import { crdPath } from "../../operator/api/crd.ts";
import { SHARD_END } from "../../processor/checkpoint/store.ts";
import { annotations } from "../../processor/leases/shard-lease.ts";
import { startCluster, type TestCluster } from "../cluster/test-cluster.ts";
import { startOperator, type Operator } from "./operator-process.ts";
import { createStreams, type Streams } from "./test-bed.ts";
import { createEmulatorSecret, emulatorSecretName } from "./emulator-secret.ts";

export interface ShardHolder {
  shardId: string;
  holder: string;
  transitions: number;
  /** The holder renews a heartbeat (and wrote itself in as such). */
  heartbeatHeld: boolean;
}

export interface JobCluster {
  cluster: TestCluster;
  emulator: KinesisEmulator;
  streams: Streams;
  /** The emulator's URL for pods. */
  emulatorForPods: string;
  kubectl(...args: string[]): Promise<string>;
  apply(manifest: object): Promise<void>;
  /** An AsyncEnrichmentJob reading `streams` from the emulator, with the given spec on top. */
  job(name: string, spec: Record<string, unknown>): object;
  /** The job's processor pods, also those being deleted. */
  processorPods(job: string): Promise<V1Pod[]>;
  /** The host pid of a pod's processor container. */
  containerPid(pod: V1Pod): number;
  /** The job's open shard Leases (not its heartbeats, not finished shards). */
  shardHolders(job: string): Promise<ShardHolder[]>;
  /** Starts the operator again if it exited; says whether it had. */
  reviveOperator(): Promise<boolean>;
  stop(): Promise<void>;
}

interface LeaseObject {
  metadata: { annotations?: Record<string, string> };
  spec: { holderIdentity?: string; leaseTransitions?: number };
}

export async function startJobCluster(options: {
  name: string;
  shards: number;
}): Promise<JobCluster> {
  const cluster = await startCluster({ name: options.name });
  cluster.installCrds(crdPath);
  const emulator = await startKinesisEmulator();
  const streams = await createStreams(emulator, options.shards);
  const emulatorForPods = (await cluster.relay(emulator.endpoint)).url;
  const kubectl = (...args: string[]): Promise<string> => cluster.kubectlAsync(...args);
  const startOurOperator = (): Promise<Operator> =>
    startOperator(cluster, `operator-${options.name}`, { PROCESSOR_IMAGE: cluster.image });
  let operator = await startOurOperator();
  await createEmulatorSecret(kubectl);
  let manifests = 0;
  const listJson = async <T>(...args: string[]): Promise<T[]> =>
    (JSON.parse(await kubectl("get", ...args, "-o", "json")) as { items: T[] }).items;

  return {
    cluster,
    emulator,
    streams,
    emulatorForPods,
    kubectl,
    async apply(manifest) {
      const folder = join(cluster.directory, "manifests");
      mkdirSync(folder, { recursive: true });
      const file = join(folder, `${String(++manifests)}.json`);
      writeFileSync(file, JSON.stringify(manifest));
      await kubectl("apply", "-f", file);
    },
    job: (name, spec) => ({
      apiVersion: "asyncenrichment.dev/v1alpha1",
      kind: "AsyncEnrichmentJob",
      metadata: { name, namespace: "default" },
      spec: {
        aws: {
          region: "us-east-1",
          endpoint: emulatorForPods,
          credentialsSecretRef: { name: emulatorSecretName },
        },
        source: { stream: streams.source },
        sink: { stream: streams.sink },
        deadLetter: { stream: streams.deadLetter },
        ...spec,
      },
    }),
    processorPods: (job) =>
      listJson<V1Pod>(
        "pods",
        "-l",
        `asyncenrichment.dev/job=${job},app.kubernetes.io/component=processor`,
      ),
    // The container's own process, seen from this machine: signals and nsenter reach it.
    containerPid: (pod) =>
      cluster.node.containerPid(pod.status?.containerStatuses?.[0]?.containerID ?? ""),
    async shardHolders(job) {
      return (await listJson<LeaseObject>("leases", "-l", `asyncenrichment.dev/job=${job}`))
        .filter(
          (lease) =>
            lease.metadata.annotations?.[annotations.shardId] !== undefined &&
            lease.metadata.annotations[annotations.checkpoint] !== SHARD_END,
        )
        .map((lease) => {
          const holder = lease.spec.holderIdentity ?? "";
          return {
            shardId: lease.metadata.annotations?.[annotations.shardId] ?? "",
            holder,
            transitions: lease.spec.leaseTransitions ?? 0,
            heartbeatHeld:
              holder !== "" && lease.metadata.annotations?.[annotations.heartbeatHolder] === holder,
          };
        });
    },
    async reviveOperator() {
      if (operator.child.exitCode === null && operator.child.signalCode === null) return false;
      operator = await startOurOperator();
      return true;
    },
    async stop() {
      await operator.stop();
      await cluster.stop();
      await emulator.stop();
    },
  };
}
