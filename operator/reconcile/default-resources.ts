// Requests and a memory limit for processor pods whose job names no resources, so they are not
// BestEffort (the first evicted) and Node's heap has a limit to follow (Node sizes its heap from
// the container's cgroup limit). A processor holds what is in flight, never the backlog: a base for
// Node and its clients, each call in flight (the record, request and response bodies, retry
// state), and the records being batched for PutRecords (a batch filling while one is written).
// Estimates for records of a few KiB; a job with larger records names its own resources.
import type { V1ResourceRequirements } from "@kubernetes/client-node";

const baseMiB = 192;
const perCallKiB = 64;
const perBatchedRecordKiB = 16;
const cpuRequest = "100m";

export interface ResourceInputs {
  capacity: number;
  batching: { maxRecords: number };
}

export function defaultResources(spec: ResourceInputs): V1ResourceRequirements {
  const kib = spec.capacity * perCallKiB + 2 * spec.batching.maxRecords * perBatchedRecordKiB;
  const memory = `${String(baseMiB + Math.ceil(kib / 1024))}Mi`;
  // Memory request equal to the limit: the scheduler reserves what the pod may use. No CPU limit:
  // throttling a processor only lengthens its calls and grows its lag.
  return { requests: { cpu: cpuRequest, memory }, limits: { memory } };
}
