// Each pod gets its own loopback address 127.0.<n>.<m> (all of 127/8 reaches lo on Linux, no setup
// needed), never 127.0.0.1, so two pods can both listen on :8080 like pods on a real network.
// Each kubelet starts at a random <n> so kubelets of concurrent test runs rarely overlap.
import { randomInt } from "node:crypto";

export interface PodIpAllocator {
  allocate(uid: string): string;
  release(uid: string): void;
}

export function createPodIpAllocator(): PodIpAllocator {
  const byUid = new Map<string, string>();
  const inUse = new Set<string>();
  const size = 254 * 254;
  let next = randomInt(size);
  return {
    allocate(uid) {
      const existing = byUid.get(uid);
      if (existing !== undefined) return existing;
      for (let tries = 0; tries < size; tries++) {
        const index = next;
        next = (next + 1) % size;
        const ip = `127.0.${1 + Math.floor(index / 254)}.${1 + (index % 254)}`;
        if (!inUse.has(ip)) {
          inUse.add(ip);
          byUid.set(uid, ip);
          return ip;
        }
      }
      throw new Error("no free loopback pod address");
    },
    release(uid) {
      const ip = byUid.get(uid);
      if (ip === undefined) return;
      byUid.delete(uid);
      inUse.delete(ip);
    },
  };
}
