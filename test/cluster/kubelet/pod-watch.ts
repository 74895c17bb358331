// The pods bound to this node, kept in step with the API: a list, then a watch from its
// resourceVersion. A watch that ends is resumed; one that fails (410 Gone, a dropped connection)
// is replaced by a new list after a back-off; and a full re-list every resyncMs catches a watch
// that went silent. Each list reports which known pods are gone.
import { setTimeout as delay } from "node:timers/promises";
import type { KubeApi, WatchEvent } from "../kube-api.ts";
import type { ObjectList, Pod } from "./types.ts";

export interface PodWatchHandlers {
  /** A pod's current version (added, modified, or seen on a list). */
  pod(pod: Pod): void;
  /** A pod that was deleted from the API, by uid. */
  gone(uid: string): void;
  error(message: string, error: unknown): void;
}

export function watchNodePods(
  api: KubeApi,
  nodeName: string,
  handlers: PodWatchHandlers,
  options: { resyncMs: number; signal: AbortSignal },
): Promise<void> {
  const selector = `fieldSelector=${encodeURIComponent(`spec.nodeName=${nodeName}`)}`;
  const known = new Set<string>();
  const { signal } = options;
  const aborted = (): boolean => signal.aborted;

  const list = async (): Promise<string> => {
    const pods = await api.get<ObjectList<Pod>>(`/api/v1/pods?${selector}`);
    const present = new Set(pods.items.map((pod) => pod.metadata.uid));
    for (const uid of known) {
      if (!present.has(uid)) {
        known.delete(uid);
        handlers.gone(uid);
      }
    }
    for (const pod of pods.items) {
      known.add(pod.metadata.uid);
      handlers.pod(pod);
    }
    return pods.metadata.resourceVersion;
  };

  const watchUntilResync = async (from: string): Promise<void> => {
    let resourceVersion = from;
    const resyncAt = Date.now() + options.resyncMs;
    while (!signal.aborted && Date.now() < resyncAt) {
      const seconds = Math.max(1, Math.ceil((resyncAt - Date.now()) / 1000));
      // Bounded watches: the server ends each one by the resync time at the latest.
      const path =
        `/api/v1/pods?${selector}&watch=true&allowWatchBookmarks=true` +
        `&resourceVersion=${resourceVersion}&timeoutSeconds=${String(seconds)}`;
      const outcome = { expired: false };
      await api.watch<Pod & { code?: number }>(
        path,
        (event: WatchEvent<Pod & { code?: number }>) => {
          if (event.type === "ERROR") {
            outcome.expired = true; // usually 410 Gone: the resourceVersion is too old; list again
            return;
          }
          if (event.object.metadata.resourceVersion !== undefined) {
            resourceVersion = event.object.metadata.resourceVersion;
          }
          if (event.type === "BOOKMARK") return;
          if (event.type === "DELETED") {
            known.delete(event.object.metadata.uid);
            handlers.gone(event.object.metadata.uid);
            return;
          }
          known.add(event.object.metadata.uid);
          handlers.pod(event.object);
        },
        signal,
      );
      if (outcome.expired) return;
    }
  };

  const run = async (): Promise<void> => {
    let failures = 0;
    while (!signal.aborted) {
      try {
        await watchUntilResync(await list());
        failures = 0;
      } catch (error) {
        if (aborted()) return;
        failures++;
        handlers.error("pod watch failed; listing again after a back-off", error);
        await delay(Math.min(200 * 2 ** failures, 5_000), undefined, { signal }).catch(
          () => undefined,
        );
      }
    }
  };
  return run();
}
