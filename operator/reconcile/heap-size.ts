// The processor's V8 heap, sized from its container's memory limit. Node does not always derive
// its heap limit from the container's: on cgroup v1 nodes a processor with a 256Mi limit got a
// 259 MiB heap limit (test/e2e/memory-limit.test.ts), so the garbage collector would let the heap
// grow until the kernel's OOM killer ended the pod. Three quarters of the limit go to the old
// generation; the rest is for the young generation, buffers outside the heap, code and the runtime.
import type { V1ResourceRequirements } from "@kubernetes/client-node";

const heapShare = 0.75;
const units: Record<string, number> = {
  "": 1,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** Bytes of a Kubernetes quantity such as 256Mi, 1G or 268435456; undefined if unreadable. */
export function quantityBytes(quantity: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)([kKMGT]i?|)$/.exec(quantity.trim());
  const unit = units[match?.[2] ?? "-"];
  return match === null || unit === undefined ? undefined : Number(match[1]) * unit;
}

/** Node flags for the processor container: a heap limit when its memory is limited. */
export function heapFlags(resources: V1ResourceRequirements): string[] {
  const limit = resources.limits?.memory;
  const bytes = typeof limit === "string" ? quantityBytes(limit) : undefined;
  if (bytes === undefined) return [];
  return [`--max-old-space-size=${String(Math.floor((bytes * heapShare) / 2 ** 20))}`];
}
