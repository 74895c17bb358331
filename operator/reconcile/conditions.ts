// Kubernetes-style conditions: lastTransitionTime moves only when status flips, so a resync that
// finds the same state writes the same condition and the status stays byte-for-byte equal.
import type { Condition } from "../api/status-schema.ts";

export type ConditionType = "Ready" | "Progressing" | "Degraded";

export interface ConditionUpdate {
  type: ConditionType;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
}

export function setCondition(
  existing: readonly Condition[],
  update: ConditionUpdate,
  observedGeneration: number,
  now: Date,
): Condition[] {
  const previous = existing.find((condition) => condition.type === update.type);
  const lastTransitionTime =
    previous !== undefined && previous.status === update.status
      ? previous.lastTransitionTime
      : now.toISOString().replace(/\.\d{3}Z$/, "Z");
  const next: Condition = { ...update, observedGeneration, lastTransitionTime };
  return [...existing.filter((condition) => condition.type !== update.type), next].sort((a, b) =>
    a.type.localeCompare(b.type),
  );
}
