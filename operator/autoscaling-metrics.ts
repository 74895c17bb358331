// The autoscaler's decisions as Prometheus series, per job: the parallelism it runs and the one
// the latest figures call for, the rates behind them, and what limits it. A job that is deleted or
// stops autoscaling loses its series. Labelled job_name as the processors' series are (a label
// named job or namespace would clash with Prometheus' target labels).
import { Gauge, type Registry } from "prom-client";
import { limitedByValues, type AutoscalingStatus } from "./api/autoscaling-status-schema.ts";

export function createAutoscalingMetrics(
  registry: Registry,
): (key: string, status: AutoscalingStatus | undefined) => void {
  const parallelism = new Gauge({
    name: "aej_operator_autoscaling_parallelism",
    help: "Processor pods of an autoscaled job: current (what runs) and recommended (what the figures call for).",
    labelNames: ["job_namespace", "job_name", "kind"] as const,
    registers: [registry],
  });
  const rates = new Gauge({
    name: "aej_operator_autoscaling_records_per_second",
    help: "The autoscaler's figures: incoming (estimated), catch_up (backlog / catchUpSeconds) and per_pod (one pod's processing rate).",
    labelNames: ["job_namespace", "job_name", "kind"] as const,
    registers: [registry],
  });
  const limitedBy = new Gauge({
    name: "aej_operator_autoscaling_limited_by",
    help: "1 for what sets an autoscaled job's recommendation (Lag, Shards, EndpointBudget, RateLimit, MaxParallelism, MinParallelism, IneffectiveScaleUp).",
    labelNames: ["job_namespace", "job_name", "reason"] as const,
    registers: [registry],
  });
  return (key, status) => {
    const [namespace = "", name = ""] = key.split("/");
    const job = { job_namespace: namespace, job_name: name };
    for (const kind of ["current", "recommended"]) parallelism.remove({ ...job, kind });
    for (const kind of ["incoming", "catch_up", "per_pod"]) rates.remove({ ...job, kind });
    for (const reason of limitedByValues) limitedBy.remove({ ...job, reason });
    if (status === undefined) return;
    parallelism.set({ ...job, kind: "current" }, status.current);
    if (status.recommended !== undefined)
      parallelism.set({ ...job, kind: "recommended" }, status.recommended);
    const figures = {
      incoming: status.incomingPerSecond,
      catch_up: status.catchUpPerSecond,
      per_pod: status.perPodPerSecond,
    };
    for (const [kind, value] of Object.entries(figures))
      if (value !== undefined) rates.set({ ...job, kind }, value);
    for (const reason of limitedByValues)
      limitedBy.set({ ...job, reason }, status.limitedBy === reason ? 1 : 0);
  };
}
