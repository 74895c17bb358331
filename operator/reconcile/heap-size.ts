// The processor's V8 heap, sized from its container's memory limit. Node does not always derive
// its heap limit from the container's: on cgroup v1 nodes a processor with a 256Mi limit got a
// 259 MiB heap limit (test/e2e/memory-limit.test.ts), so the garbage collector would let the heap
// grow until the kernel's OOM killer ended the pod. Three quarters of the limit go to the old
// generation; the rest is for the young generation, buffers outside the heap, code and the runtime.
// The young generation is sized too, so that it is the same on every node: V8 derives it from the
// memory it sees: 64 MiB semi-spaces on a large host (two of them, 128 MiB of RSS under load),
// 1 MiB in a 256Mi pod of the test cluster, where every scavenge copies the records in flight
// again, and often. A 32nd of the limit per semi-space (8 MiB at 256Mi) holds a processor at
// capacity 1,000 under 200 MiB of RSS for 1.1 to 1.4x the CPU per record of 64 MiB semi-spaces
// (docs/benchmarks.md, Memory).
import type { V1ResourceRequirements } from "@kubernetes/client-node";

const heapShare = 0.75;
const semiSpaceShare = 1 / 32;
/** Beyond 16 MiB the scavenges save little more CPU. */
const maxSemiSpaceMiB = 16;
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

/** Node flags for the processor container: heap sizes when its memory is limited. */
export function heapFlags(resources: V1ResourceRequirements): string[] {
  const limit = resources.limits?.memory;
  const bytes = typeof limit === "string" ? quantityBytes(limit) : undefined;
  if (bytes === undefined) return [];
  const mib = bytes / 2 ** 20;
  // V8 takes semi-spaces in powers of two (it rounds 6 up to 8): the one at or below the share.
  const semiSpace = Math.min(
    maxSemiSpaceMiB,
    2 ** Math.floor(Math.log2(Math.max(1, mib * semiSpaceShare))),
  );
  return [
    `--max-old-space-size=${String(Math.floor(mib * heapShare))}`,
    `--max-semi-space-size=${String(semiSpace)}`,
  ];
}
