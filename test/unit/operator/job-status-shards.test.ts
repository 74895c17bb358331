// The shard part of a job's status: Ready once every readable shard has a live holder, Degraded
// when a holder reports that reading the source fails, and the figures the Leases carry.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { jobSpecSchema } from "../../../operator/api/job-schema.ts";
import { jobStatusSchema } from "../../../operator/api/status-schema.ts";
import { jobStatus, type Observed } from "../../../operator/reconcile/job-status.ts";
import type { Job } from "../../../operator/reconcile/job.ts";
import type { ShardProgressSummary } from "../../../operator/reconcile/shard-progress.ts";
import { summarizeAt } from "./summarize-at.ts";
import {
  changedLease,
  newShardLease,
  toShardLease,
  type ShardProgress,
} from "../../../processor/leases/shard-lease.ts";

const job: Job = {
  namespace: "shop",
  name: "orders",
  uid: "uid-1",
  generation: 2,
  spec: jobSpecSchema.parse({
    aws: { region: "eu-west-1" },
    source: { stream: "orders" },
    sink: { stream: "out" },
    endpoint: { url: "http://scoring" },
    parallelism: 2,
  }),
};

const now = new Date("2026-11-25T04:00:00Z");

const shards: ShardProgressSummary = {
  shards: 4,
  owned: 4,
  unowned: [],
  processors: [
    { pod: "orders-processor-a", shards: 2 },
    { pod: "orders-processor-b", shards: 2 },
  ],
  concurrencyLimit: undefined,
  readable: 0,
  loads: [],
  maxLagMillis: 750,
  recordsInPerSecond: 420,
  recordsPerSecond: 410,
  failedPerSecond: 0,
  failure: undefined,
  readError: undefined,
  endpointOutage: undefined,
};

/** Every pod ready and on the current spec: only the shards decide Ready. */
const allReady = (more: Partial<ShardProgressSummary> = {}): Observed => ({
  desiredReplicas: 2,
  replicas: 2,
  readyReplicas: 2,
  updatedReplicas: 2,
  selector: "asyncenrichment.dev/job=orders",
  podProblems: [],
  missingSecrets: [],
  shards: { ...shards, ...more },
});

const status = (observed: Observed) => jobStatus(job, [], observed, now);
const condition = (result: ReturnType<typeof jobStatus>, type: string) =>
  result.conditions?.find((entry) => entry.type === type);

describe("Ready, with every pod ready", () => {
  test("no shard Lease yet: False, WaitingForShards", () => {
    const result = status(allReady({ shards: 0, owned: 0, processors: [] }));
    const ready = condition(result, "Ready");
    assert.equal(ready?.status, "False");
    assert.equal(ready.reason, "WaitingForShards");
    assert.match(ready.message, /2 of 2 processors ready; no shard Lease yet/);
    assert.match(ready.message, /spec\.leases\.renewIntervalMs \(\d+ ms\)/);
    assert.equal(result.phase, "Running", "not a problem: the processors are starting");
    assert.equal(condition(result, "Degraded")?.status, "False");
  });

  test("some shards unowned: False, ShardsUnowned naming them", () => {
    const result = status(
      allReady({ owned: 2, unowned: ["shardId-000000000001", "shardId-000000000003"] }),
    );
    const ready = condition(result, "Ready");
    assert.equal(ready?.status, "False");
    assert.equal(ready.reason, "ShardsUnowned");
    assert.match(
      ready.message,
      /2 of 4 shards have no live holder \(shardId-000000000001, shardId-000000000003\)/,
    );
    assert.match(ready.message, /spec\.leases\.leaseDurationSeconds \(\d+ s\)/);
    assert.match(ready.message, /kubectl logs -n shop -l asyncenrichment\.dev\/job=orders/);
    assert.equal(result.phase, "Running");
  });

  test("many shards unowned: the count is whole, the list names the first five", () => {
    const unowned = Array.from(
      { length: 8 },
      (_, shard) => `shardId-${String(shard).padStart(12, "0")}`,
    );
    const result = status(allReady({ shards: 10, owned: 2, unowned }));
    const message = condition(result, "Ready")?.message ?? "";
    assert.match(message, /8 of 10 shards have no live holder/);
    for (const shardId of unowned.slice(0, 5)) assert.ok(message.includes(shardId), shardId);
    for (const shardId of unowned.slice(5)) assert.ok(!message.includes(shardId), shardId);
  });

  test("every shard held: True, ProcessorsReady", () => {
    const result = status(allReady());
    const ready = condition(result, "Ready");
    assert.equal(ready?.status, "True");
    assert.equal(ready.reason, "ProcessorsReady");
    assert.equal(ready.message, "2 of 2 processors ready, holding all 4 shards.");
    assert.equal(result.phase, "Running");
  });

  test("every readable shard held while a child waits for its parent: the message does not claim all", () => {
    const result = status(allReady({ shards: 3, owned: 2, unowned: [] }));
    assert.equal(condition(result, "Ready")?.status, "True");
    assert.doesNotMatch(condition(result, "Ready")?.message ?? "", /holding all 3 shards/);
  });

  test("while pods roll out, Ready is about the pods, whatever the shards say", () => {
    const rolling: Observed = { ...allReady({ shards: 0 }), readyReplicas: 1, updatedReplicas: 1 };
    assert.equal(condition(status(rolling), "Ready")?.reason, "ProcessorsNotReady");
  });

  test("Ready flips with the shards, and its transition time with it", () => {
    const waiting = status(allReady({ shards: 0, owned: 0, processors: [] }));
    const later = new Date(now.getTime() + 30_000);
    const held = jobStatus(job, waiting.conditions ?? [], allReady(), later);
    assert.equal(condition(held, "Ready")?.status, "True");
    assert.equal(condition(held, "Ready")?.lastTransitionTime, "2026-11-25T04:00:30Z");
    assert.equal(condition(held, "Progressing")?.lastTransitionTime, "2026-11-25T04:00:00Z");
  });
});

describe("Degraded", () => {
  test("a read error: Degraded True, SourceReadFailing, phase Degraded", () => {
    const result = status(
      allReady({
        readError: {
          shardId: "shardId-000000000002",
          error: "ResourceNotFoundException: Stream orders not found",
        },
      }),
    );
    assert.equal(result.phase, "Degraded");
    const degraded = condition(result, "Degraded");
    assert.equal(degraded?.status, "True");
    assert.equal(degraded.reason, "SourceReadFailing");
    assert.match(degraded.message, /Reading shard shardId-000000000002 of orders fails/);
    assert.match(degraded.message, /ResourceNotFoundException: Stream orders not found/);
    assert.match(degraded.message, /spec\.source\.stream/);
    assert.equal(condition(result, "Ready")?.status, "True", "the shards are still held");
  });

  test("an endpoint outage: Degraded True, EndpointUnavailable, saying records wait in the stream; before failing records", () => {
    const result = status(
      allReady({
        endpointOutage: { pod: "orders-processor-a", reason: "ECONNREFUSED: connect refused" },
        failedPerSecond: 2,
        failure: { shardId: "shardId-000000000001", reason: "HTTP 404" },
      }),
    );
    assert.equal(result.phase, "Degraded");
    const degraded = condition(result, "Degraded");
    assert.equal(degraded?.reason, "EndpointUnavailable");
    assert.match(degraded.message, /is not answering \(orders-processor-a: ECONNREFUSED/);
    assert.match(degraded.message, /records wait in orders/);
    assert.equal(condition(result, "Ready")?.status, "True", "the shards are still held");
  });

  test("a TLS failure pausing the job: EndpointUnavailable carries what to set, not 'check the service is up'", () => {
    const reason =
      "UNABLE_TO_VERIFY_LEAF_SIGNATURE: TLS: the endpoint's certificate is signed by an unknown authority: set endpoint.tls.ca (caFile in a processor config) to the CA that signed it";
    const degraded = condition(
      status(allReady({ endpointOutage: { pod: "orders-processor-a", reason } })),
      "Degraded",
    );
    assert.equal(degraded?.reason, "EndpointUnavailable");
    assert.match(
      degraded.message,
      /fails the TLS handshake \(orders-processor-a: UNABLE_TO_VERIFY/,
    );
    assert.match(degraded.message, /set endpoint\.tls\.ca/);
    assert.match(degraded.message, /Fix spec\.endpoint\.tls/);
    assert.doesNotMatch(degraded.message, /up and reachable/);
  });

  test("a read error is reported before failing records", () => {
    const result = status(
      allReady({
        readError: { shardId: "shardId-000000000002", error: "AccessDeniedException" },
        failedPerSecond: 5,
        failure: { shardId: "shardId-000000000001", reason: "HTTP 503" },
      }),
    );
    assert.equal(condition(result, "Degraded")?.reason, "SourceReadFailing");
    assert.equal(result.failedPerSecond, 5, "the figure is still reported");
  });

  test("a read error with shards unowned: Degraded, and not Ready", () => {
    const result = status(
      allReady({
        owned: 3,
        unowned: ["shardId-000000000003"],
        readError: { shardId: "shardId-000000000002", error: "AccessDeniedException" },
      }),
    );
    assert.equal(result.phase, "Degraded");
    assert.equal(condition(result, "Ready")?.reason, "ShardsUnowned");
  });
});

describe("figures", () => {
  test("the status carries shards, ownedShards, processors, lag and rates", () => {
    const result = status(allReady({ owned: 3, unowned: ["shardId-000000000003"] }));
    assert.equal(result.shards, 4);
    assert.equal(result.ownedShards, 3);
    assert.deepEqual(result.processors, shards.processors);
    assert.equal(result.maxLagMillis, 750);
    assert.equal(result.recordsInPerSecond, 420);
    assert.equal(result.recordsPerSecond, 410);
    assert.equal(result.failedPerSecond, 0);
    assert.equal(result.replicas, 2);
    assert.equal(result.readyReplicas, 2);
    assert.equal(result.observedGeneration, 2);
    assert.ok(jobStatusSchema.safeParse(result).success, "the CRD's status schema accepts it");
  });

  test("no lag reported: maxLagMillis is left out, not written as undefined", () => {
    const result = status(allReady({ maxLagMillis: undefined }));
    assert.ok(!Object.hasOwn(result, "maxLagMillis"));
    assert.ok(jobStatusSchema.safeParse(result).success);
  });

  test("from Leases to status: summarizeShards feeds jobStatus", () => {
    const figures = (worker: string, more: Partial<ShardProgress> = {}): ShardProgress => ({
      worker,
      recordsIn: 100,
      recordsOut: 100,
      inPerSecond: 20,
      outPerSecond: 19,
      failedPerSecond: 0,
      lastFailure: undefined,
      millisBehindLatest: 100,
      lastError: undefined,
      at: now.toISOString(),
      ...more,
    });
    const lease = (shard: number, holder: string, millisAgo: number, progress: ShardProgress) => {
      const fresh = toShardLease(
        newShardLease({
          namespace: "shop",
          prefix: "orders",
          shardId: `shardId-${String(shard).padStart(12, "0")}`,
          parents: [],
          labels: { "asyncenrichment.dev/job": "orders" },
          owner: undefined,
          leaseDurationSeconds: 40,
        }),
      );
      assert.ok(fresh !== undefined);
      return changedLease(fresh, { holder, progress }, 40, new Date(now.getTime() - millisAgo));
    };
    const summary = summarizeAt(
      [
        lease(0, "orders-processor-b", 1_000, figures("orders-processor-b")),
        lease(
          1,
          "orders-processor-a",
          2_000,
          figures("orders-processor-a", { millisBehindLatest: 900 }),
        ),
        lease(2, "orders-processor-gone", 60_000, figures("orders-processor-gone")),
      ],
      now,
    );
    const result = status({ ...allReady(), shards: summary });
    assert.equal(result.shards, 3);
    assert.equal(result.ownedShards, 2);
    assert.deepEqual(result.processors, [
      { pod: "orders-processor-a", shards: 1 },
      { pod: "orders-processor-b", shards: 1 },
    ]);
    assert.equal(result.maxLagMillis, 900);
    assert.equal(result.recordsInPerSecond, 40);
    assert.equal(result.recordsPerSecond, 38);
    const ready = condition(result, "Ready");
    assert.equal(ready?.reason, "ShardsUnowned");
    assert.match(ready.message, /1 of 3 shards have no live holder \(shardId-000000000002\)/);
    assert.ok(jobStatusSchema.safeParse(result).success);
  });
});
