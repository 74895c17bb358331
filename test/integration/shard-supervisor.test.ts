// The shard supervisor against the real Kinesis emulator, with a coordinator standing in for an API
// server that froze: checkpoint writes fail, the shard is lost, then granted back. Reading resumes
// after what this processor had already written, not from the old checkpoint on the Lease.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { pino } from "pino";
import { createCheckpointer } from "../../processor/checkpoint/checkpointer.ts";
import type { ShardCoordinator } from "../../processor/checkpoint/coordinator.ts";
import { acknowledge } from "../../processor/checkpoint/tracker.ts";
import type { SourceRecord } from "../../processor/kinesis/shard-reader.ts";
import { createProcessorMetrics } from "../../processor/metrics/processor-metrics.ts";
import { createShardSupervisor } from "../../processor/pipeline/shard-supervisor.ts";
import {
  createStreams,
  jsonRecords,
  produce,
  startKinesisEmulator,
  type KinesisEmulator,
} from "../support/test-bed.ts";
import { waitFor } from "../support/wait-for.ts";

let emulator: KinesisEmulator;
before(async () => {
  emulator = await startKinesisEmulator();
});
after(async () => {
  await emulator.stop();
});

/**
 * A supervisor of one shard whose coordinator stands in for a frozen API server: it grants the
 * shard while `owning()`, every checkpoint write fails, and `lose` takes the shard away.
 */
function superviseFrozen(
  stream: string,
  owning: () => boolean,
  submit: (record: SourceRecord) => undefined,
): {
  supervisor: ReturnType<typeof createShardSupervisor>;
  checkpointer: ReturnType<typeof createCheckpointer>;
  lose: (shardId: string, reason: string) => void;
} {
  let lose: (shardId: string, reason: string) => void = () => undefined;
  const coordinator: ShardCoordinator = {
    syncIntervalMs: 100,
    sync: (listed) =>
      Promise.resolve({
        checkpoints: new Map(),
        owned: new Set(owning() ? listed.map((shard) => shard.shardId) : []),
      }),
    put: () => Promise.reject(new Error("the API server does not answer")),
    release: () => Promise.resolve(),
    onLost: (listener) => {
      lose = listener;
    },
    onHandoffRequested: () => undefined,
    handOver: () => Promise.resolve(),
  };
  const checkpointer = createCheckpointer(coordinator, () => undefined);
  const supervisor = createShardSupervisor({
    client: emulator.client,
    source: {
      stream,
      startPosition: { type: "TRIM_HORIZON" },
      maxRecordsPerFetch: 1_000,
      idleTimeBetweenReadsMs: 200,
      shardDiscoveryIntervalMs: 1_000,
    },
    startPosition: { type: "TRIM_HORIZON" },
    maxPendingRecords: 1_000,
    coordinator,
    checkpointer,
    readings: new Map(),
    submit,
    handoverDrainMs: 0,
    metrics: createProcessorMetrics("test", { defaultMetrics: false }),
    logger: pino({ level: "silent" }),
  });
  return {
    supervisor,
    checkpointer,
    lose: (shardId, reason) => {
      lose(shardId, reason);
    },
  };
}

const submittedCount = (submitted: readonly string[], count: number, what: string) =>
  waitFor(
    () => Promise.resolve(submitted.length),
    (seen) => seen >= count,
    { timeoutMs: 10_000, what },
  );

test("a shard lost and granted back resumes after what was written meanwhile, though no checkpoint could be", async () => {
  const streams = await createStreams(emulator, 1);
  await produce(emulator, streams.source, jsonRecords(100));
  let owning = true;
  const submitted: string[] = [];
  // Written at once: the sink acknowledges every record.
  const { supervisor, checkpointer, lose } = superviseFrozen(
    streams.source,
    () => owning,
    (record) => {
      submitted.push(record.sequenceNumber);
      acknowledge(record.receipt);
      return undefined;
    },
  );
  supervisor.start();
  await submittedCount(submitted, 100, "the first 100 records read");
  void checkpointer.flush(supervisor.trackers());
  owning = false;
  lose("shardId-000000000000", "not renewed within the lease duration");
  await produce(emulator, streams.source, jsonRecords(50, 20, 100));
  owning = true;
  await submittedCount(submitted, 150, "the next 50 records read");
  await new Promise((resolve) => setTimeout(resolve, 500));
  await supervisor.stop();
  assert.equal(submitted.length, 150, "nothing written before the loss was read again");
  assert.equal(new Set(submitted).size, 150);
});

test("a shard granted back while the records of its last reading are still in flight resumes after them once they settle, not before them", async () => {
  const streams = await createStreams(emulator, 1);
  await produce(emulator, streams.source, jsonRecords(100));
  let owning = true;
  const submitted: string[] = [];
  const inFlight: SourceRecord[] = [];
  // The first 100 records stay in flight (their calls have not answered yet); later ones are
  // written at once.
  const { supervisor, lose } = superviseFrozen(
    streams.source,
    () => owning,
    (record) => {
      submitted.push(record.sequenceNumber);
      if (submitted.length <= 100) inFlight.push(record);
      else acknowledge(record.receipt);
      return undefined;
    },
  );
  supervisor.start();
  await submittedCount(submitted, 100, "the first 100 records read");
  owning = false;
  lose("shardId-000000000000", "the heartbeat lapsed");
  owning = true;
  // Several syncs grant the shard back while its records are in flight.
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (const record of inFlight) acknowledge(record.receipt);
  await produce(emulator, streams.source, jsonRecords(50, 20, 100));
  await submittedCount(submitted, 150, "the next 50 records read");
  await new Promise((resolve) => setTimeout(resolve, 500));
  await supervisor.stop();
  assert.equal(new Set(submitted).size, submitted.length, "no record submitted twice");
  assert.equal(submitted.length, 150);
});

test("the rate-limit share counts a shard from the sync that confirms it until the moment it is lost or handed over", async () => {
  const streams = await createStreams(emulator, 4);
  let owned = new Set<string>();
  let lose: (shardId: string, reason: string) => void = () => undefined;
  let askFor: (shardId: string) => void = () => undefined;
  const coordinator: ShardCoordinator = {
    syncIntervalMs: 100,
    sync: () => Promise.resolve({ checkpoints: new Map(), owned: new Set(owned) }),
    put: () => Promise.resolve(),
    release: () => Promise.resolve(),
    onLost: (listener) => {
      lose = listener;
    },
    onHandoffRequested: (listener) => {
      askFor = listener;
    },
    handOver: () => Promise.resolve(),
  };
  const shares: [held: number, open: number][] = [];
  const supervisor = createShardSupervisor({
    client: emulator.client,
    source: {
      stream: streams.source,
      startPosition: { type: "TRIM_HORIZON" },
      maxRecordsPerFetch: 1_000,
      idleTimeBetweenReadsMs: 200,
      shardDiscoveryIntervalMs: 1_000,
    },
    startPosition: { type: "TRIM_HORIZON" },
    maxPendingRecords: 1_000,
    coordinator,
    checkpointer: createCheckpointer(coordinator, () => undefined),
    readings: new Map(),
    submit: (record: SourceRecord) => {
      acknowledge(record.receipt);
      return undefined;
    },
    handoverDrainMs: 0,
    metrics: createProcessorMetrics("test", { defaultMetrics: false }),
    logger: pino({ level: "silent" }),
    onShares: (held, open) => shares.push([held, open]),
  });
  const shard = (index: number): string => `shardId-00000000000${String(index)}`;
  const latest = (): [number, number] | undefined => shares.at(-1);
  try {
    supervisor.start();
    await waitFor(latest, (share) => share !== undefined, {
      timeoutMs: 10_000,
      what: "a first share",
    });
    assert.deepEqual(latest(), [0, 4], "nothing held yet: no share of the 4 open shards");
    owned = new Set([shard(0), shard(1), shard(2)]);
    await waitFor(latest, (share) => share?.[0] === 3, {
      timeoutMs: 5_000,
      what: "3 shards counted once a sync confirms them",
    });
    lose(shard(2), "taken over");
    assert.deepEqual(latest(), [2, 4], "a lost shard stops counting at once, before any sync");
    owned.delete(shard(2));
    askFor(shard(1));
    assert.deepEqual(latest(), [1, 4], "a shard asked for stops counting before it is drained");
    owned.delete(shard(1));
    owned.add(shard(3));
    await waitFor(latest, (share) => share?.[0] === 2, {
      timeoutMs: 5_000,
      what: "the new shard counted at the next sync",
    });
    assert.ok(
      shares.every(([held]) => held <= 3),
      "never more than the shards confirmed held",
    );
  } finally {
    await supervisor.stop();
  }
});
