import assert from "node:assert/strict";
import { test } from "node:test";
import { Registry } from "prom-client";
import { createAutoscalingMetrics } from "../../../operator/autoscaling-metrics.ts";

test("an autoscaled job's parallelism, figures and limit are series, gone when it stops autoscaling", async () => {
  const registry = new Registry();
  const observe = createAutoscalingMetrics(registry);
  observe("shop/orders", {
    current: 3,
    recommended: 5,
    limitedBy: "EndpointBudget",
    incomingPerSecond: 130,
    catchUpPerSecond: 12.5,
    perPodPerSecond: 38,
  });
  const text = await registry.metrics();
  const series = (name: string, labels: string): string =>
    `${name}{job_namespace="shop",job_name="orders",${labels}}`;
  assert.match(
    text,
    new RegExp(`${series("aej_operator_autoscaling_parallelism", 'kind="current"')} 3`),
  );
  assert.match(
    text,
    new RegExp(`${series("aej_operator_autoscaling_parallelism", 'kind="recommended"')} 5`),
  );
  assert.match(
    text,
    new RegExp(`${series("aej_operator_autoscaling_records_per_second", 'kind="per_pod"')} 38`),
  );
  assert.match(
    text,
    new RegExp(`${series("aej_operator_autoscaling_limited_by", 'reason="EndpointBudget"')} 1`),
  );
  assert.match(
    text,
    new RegExp(`${series("aej_operator_autoscaling_limited_by", 'reason="Lag"')} 0`),
  );
  observe("shop/orders", undefined);
  assert.doesNotMatch(await registry.metrics(), /job_name="orders"/);
});
