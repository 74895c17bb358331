// Applies desired objects with server-side apply under one field manager, and only when the live
// object differs from what we want: a resync of an unchanged job sends no write at all.
import {
  PatchStrategy,
  type KubernetesObject,
  type KubernetesObjectApi,
} from "@kubernetes/client-node";

export const fieldManager = "async-enrichment-operator";

/** Whether every field we set has that value in the live object (fields others set are ignored). */
export function isSubset(desired: unknown, live: unknown): boolean {
  if (desired === undefined) return true;
  if (Array.isArray(desired)) {
    return (
      Array.isArray(live) &&
      desired.length === live.length &&
      desired.every((item, index) => isSubset(item, live[index]))
    );
  }
  if (typeof desired === "object" && desired !== null) {
    if (typeof live !== "object" || live === null) return false;
    return Object.entries(desired).every(([key, value]) =>
      isSubset(value, (live as Record<string, unknown>)[key]),
    );
  }
  // The API server returns quantities and ports in canonical form; compare as strings.
  if (desired === live) return true;
  const scalar = (value: unknown): value is string | number =>
    typeof value === "string" || typeof value === "number";
  return scalar(desired) && scalar(live) && String(desired) === String(live);
}

export interface Applier {
  /** Applies when the live object (from a cache, or undefined) differs; returns whether it wrote. */
  apply(desired: KubernetesObject, live: KubernetesObject | undefined): Promise<boolean>;
}

export function createApplier(
  client: KubernetesObjectApi,
  onWrite: (kind: string) => void = () => undefined,
): Applier {
  return {
    async apply(desired, live) {
      // Objects listed by an informer carry no apiVersion and kind: compare the rest.
      const comparable = { ...desired, apiVersion: undefined, kind: undefined };
      if (live !== undefined && isSubset(comparable, live)) return false;
      await client.patch(
        desired,
        undefined,
        undefined,
        fieldManager,
        true,
        PatchStrategy.ServerSideApply,
      );
      onWrite(desired.kind ?? "");
      return true;
    },
  };
}
