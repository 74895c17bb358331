// The control plane faulted under running processors, on the real control plane and a real node:
// two processor pods share a 4-shard stream at 120 records/s through shard Leases, at the default
// heartbeat timing, and call an endpoint on the node's address that sees which pod sent each
// record. The API server frozen (SIGSTOP) for a minute, killed and started again a minute later,
// paused for less than a lease; one pod cut off from the API server (its packets dropped in its
// network namespace); etcd killed and started again. Each test checks, from the endpoint's view,
// that no shard was read by two pods at once, that nothing was lost and that duplicates stay
// within their bound, prints its figures, and leaves the node and the pods healthy for the next.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { after, before, describe, test, type TestContext } from "node:test";
import { ListShardsCommand } from "@aws-sdk/client-kinesis";
import type { V1Node, V1Pod } from "@kubernetes/client-node";
import { readAllRecords } from "../../demo/stream-tools.ts";
import { leaseTimingFields } from "../../processor/config/schema.ts";
import { kubernetesServiceIp, nodeIp } from "../cluster/node-network.ts";
import { nodeUnsupported } from "../cluster/node-support.ts";
import { startJobCluster, type JobCluster, type ShardHolder } from "../support/job-cluster.ts";
import { startScriptedEndpoint } from "../support/scripted-endpoint.ts";
import { readOverlap, shardOfKey, type ShardRead } from "../support/shard-readers.ts";
import { waitForArrivals } from "../support/sink-arrivals.ts";
import { startSteadyProducer, type SteadyProducer } from "../support/steady-producer.ts";
import { waitFor } from "../support/wait-for.ts";

const execFileAsync = promisify(execFile);

const job = "faults";
const shards = 4;
const parallelism = 2;
const produceRate = 120;
const checkpointIntervalMs = 1_000;
const capacity = 20;
// The default heartbeat timing, as users get it.
const leaseDurationMs = leaseTimingFields.leaseDurationSeconds.parse(undefined) * 1000;
const renewIntervalMs = leaseTimingFields.renewIntervalMs.parse(undefined);
/** A processor reads until its last acknowledged renewal + 0.9 of the duration. */
const readUntilMs = leaseDurationMs * 0.9;
/** Failover: others see the last heartbeat up to one sync late, wait the duration, act at a sync. */
const failoverBoundMs = leaseDurationMs + 2 * renewIntervalMs;
/** What the assertions allow beyond a bound for a loaded 2-core machine's scheduling. */
const slackMs = 3_000;
/** Each fault may replay what was read since the last checkpoint and until the Lease expired. */
const duplicateBound = Math.ceil((produceRate * (leaseDurationMs + checkpointIntervalMs)) / 1000);
/** Calls of one pod for one shard less apart than this are one span of reading it (a shard gets records every 250 ms). */
const spanGapMs = 1_000;

interface FaultWindow {
  /** performance.now() (the endpoint's clock) when the fault began, and when it was undone: SIGCONT, the process started again, the packets let through. */
  start: number;
  end: number;
  /** For a component started again: from its start until the API server answered /readyz. */
  readyAfterMs?: number;
}

interface FaultFigures extends FaultWindow {
  reads: ShardRead[];
  overlap: ReturnType<typeof readOverlap>;
  duplicates: number;
  /** Lease transitions during the fault and the recovery. */
  moves: number;
  holdersBefore: ShardHolder[];
  holdersAfter: ShardHolder[];
  produced: number;
}

const byShard = (holders: ShardHolder[]): Record<string, string> =>
  Object.fromEntries(holders.map((lease) => [lease.shardId, lease.holder]));
const transitions = (holders: ShardHolder[]): number =>
  holders.reduce((sum, lease) => sum + lease.transitions, 0);

/** From a fault's start to the last call the endpoint had before it was undone. */
function stoppedAfterMs(figures: FaultFigures): number {
  const during = figures.reads.filter((read) => read.at >= figures.start && read.at < figures.end);
  return Math.max(0, ...during.map((read) => read.at - figures.start));
}

/** From the fault's undoing until every shard was read again (the slowest shard). */
function resumedAfterMs(figures: FaultFigures): number {
  const shardIds = new Set(figures.reads.map((read) => read.shardId));
  return Math.max(
    ...[...shardIds].map((shardId) => {
      const first = figures.reads.find(
        (read) => read.shardId === shardId && read.at >= figures.end,
      );
      return first === undefined ? Infinity : first.at - figures.end;
    }),
  );
}

function reportCommon(t: TestContext, what: string, figures: FaultFigures): void {
  t.diagnostic(
    `${what}: ${String(figures.produced)} records produced so far, ${String(figures.duplicates)} duplicates (bound ${String(duplicateBound)}), ${String(figures.moves)} Lease moves`,
  );
  t.diagnostic(
    `${what}: two readers of one shard at once: ${figures.overlap.ms.toFixed(0)} ms, ${String(figures.overlap.intruding)} calls inside another pod's span`,
  );
}

function assertCommon(figures: FaultFigures): void {
  assert.equal(figures.overlap.ms, 0, "no shard read by two pods at once");
  assert.equal(figures.overlap.intruding, 0, "no call inside another pod's span of its shard");
  assert.ok(
    figures.duplicates <= duplicateBound,
    `${String(figures.duplicates)} duplicates (bound ${String(duplicateBound)})`,
  );
}

describe("the control plane faulted under running processors", { skip: nodeUnsupported() }, () => {
  let bed: JobCluster;
  let endpoint: Awaited<ReturnType<typeof startScriptedEndpoint>>;
  let producer: SteadyProducer | undefined;
  let shardRanges: { shardId: string; start: bigint; end: bigint }[] = [];
  /** What puts the cluster back as it was, should a test stop midway. */
  const undo = new Map<string, () => unknown>();
  const kubectl = (...args: string[]): Promise<string> => bed.kubectl(...args);

  const runningPods = async (): Promise<V1Pod[]> =>
    (await bed.processorPods(job)).filter(
      (pod) => pod.metadata?.deletionTimestamp === undefined && pod.status?.phase === "Running",
    );

  /** The node Ready and untainted, the pods Ready, every shard held evenly by a live pod. */
  const healthy = async (t: TestContext): Promise<void> => {
    const started = performance.now();
    await waitFor(
      async () => {
        try {
          if (await bed.reviveOperator()) t.diagnostic("the operator had exited; started again");
          const node = JSON.parse(
            await kubectl("get", "node", bed.cluster.nodeName, "-o", "json"),
          ) as V1Node;
          const pods = await runningPods();
          const names = new Set(pods.map((pod) => pod.metadata?.name ?? ""));
          const holders = await bed.shardHolders(job);
          const counts = new Map<string, number>();
          for (const lease of holders) {
            if (lease.heartbeatHeld && names.has(lease.holder)) {
              counts.set(lease.holder, (counts.get(lease.holder) ?? 0) + 1);
            }
          }
          return {
            nodeReady: node.status?.conditions?.find((c) => c.type === "Ready")?.status,
            taints: (node.spec?.taints ?? []).map((taint) => taint.key),
            ready: pods.filter((pod) =>
              pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
            ).length,
            held: [...counts.values()],
          };
        } catch (error) {
          return { error: String(error) };
        }
      },
      (state) =>
        "nodeReady" in state &&
        state.nodeReady === "True" &&
        state.taints.length === 0 &&
        state.ready === parallelism &&
        state.held.length === parallelism &&
        state.held.every((count) => count === shards / parallelism),
      {
        timeoutMs: 180_000,
        what: "the node Ready, the pods Ready and holding the shards evenly",
        intervalMs: 1_000,
      },
    );
    t.diagnostic(`healthy again after ${(performance.now() - started).toFixed(0)} ms`);
  };

  /** Each call the endpoint had since `from`, as a read of a shard by a pod. */
  const readsSince = (from: number, pods: V1Pod[]): ShardRead[] => {
    const podByIp = new Map(pods.map((pod) => [pod.status?.podIP ?? "", pod.metadata?.name]));
    return endpoint.requests.slice(from).map((request) => {
      const { key } = JSON.parse(request.body) as { key: string };
      return {
        shardId: shardOfKey(key, shardRanges),
        reader: podByIp.get(request.from.replace(/^::ffff:/, "")) ?? request.from,
        at: request.at,
      };
    });
  };

  /** Runs a fault under load, waits for the cluster's health and every record, measures. */
  const underFault = async (
    t: TestContext,
    fault: () => Promise<FaultWindow>,
  ): Promise<FaultFigures> => {
    await healthy(t);
    const running = producer;
    assert.ok(running !== undefined, "the producer runs");
    const { duplicates: duplicatesBefore } = await waitForArrivals(
      bed.emulator,
      bed.streams,
      running.produced,
    );
    const holdersBefore = await bed.shardHolders(job);
    const podsBefore = await runningPods();
    const firstRequest = endpoint.requests.length;
    const window = await fault();
    await healthy(t);
    const produced = running.produced;
    const { duplicates } = await waitForArrivals(bed.emulator, bed.streams, produced);
    const holdersAfter = await bed.shardHolders(job);
    const reads = readsSince(firstRequest, [...podsBefore, ...(await bed.processorPods(job))]);
    return {
      ...window,
      reads,
      overlap: readOverlap(reads, spanGapMs),
      duplicates: duplicates - duplicatesBefore,
      moves: transitions(holdersAfter) - transitions(holdersBefore),
      holdersBefore,
      holdersAfter,
      produced,
    };
  };

  /** Sends a signal to the API server for `holdMs`, then SIGCONT, undone in `after` too. */
  const freezeApiServer = async (holdMs: number): Promise<FaultWindow> => {
    const pid = bed.cluster.pidOf("kube-apiserver");
    const thaw = (): void => {
      process.kill(pid, "SIGCONT");
    };
    undo.set("kube-apiserver frozen", thaw);
    const start = performance.now();
    process.kill(pid, "SIGSTOP");
    try {
      await sleep(holdMs);
    } finally {
      thaw();
      undo.delete("kube-apiserver frozen");
    }
    return { start, end: performance.now() };
  };

  /** Kills a component, starts it again `downMs` later; `end` is when the API server is ready. */
  const crashComponent = async (
    component: "kube-apiserver" | "etcd",
    downMs: number,
  ): Promise<FaultWindow> => {
    const start = performance.now();
    await bed.cluster.killComponent(component);
    undo.set(`${component} killed`, () => bed.cluster.startComponent(component));
    await sleep(downMs);
    const end = performance.now();
    await bed.cluster.startComponent(component);
    undo.delete(`${component} killed`);
    return { start, end, readyAfterMs: performance.now() - end };
  };

  before(async () => {
    bed = await startJobCluster({ name: "control-plane-faults", shards });
    shardRanges = (
      (await bed.emulator.client.send(new ListShardsCommand({ StreamName: bed.streams.source })))
        .Shards ?? []
    ).map((shard) => ({
      shardId: shard.ShardId ?? "",
      start: BigInt(shard.HashKeyRange?.StartingHashKey ?? "0"),
      end: BigInt(shard.HashKeyRange?.EndingHashKey ?? "0"),
    }));
    // On the node's address, not behind a relay: each call comes from its pod's own address.
    endpoint = await startScriptedEndpoint(() => ({ delayMs: 5 }), nodeIp);
    producer = startSteadyProducer(bed.emulator.client, bed.streams.source, {
      perSecond: produceRate,
      keys: 40,
    });
    // The endpoint tells a record's shard by its key's hash, as Kinesis placed it.
    const placed = await waitFor(
      () => readAllRecords(bed.emulator.client, bed.streams.source),
      (records) => records.length >= 40,
      { timeoutMs: 10_000, what: "a record of every key in the source" },
    );
    for (const record of placed) {
      assert.equal(shardOfKey(record.partitionKey, shardRanges), record.shardId);
    }
    await bed.apply(
      bed.job(job, {
        endpoint: { url: endpoint.url, timeoutMs: 2_000 },
        parallelism,
        capacity,
        ordering: "ordered",
        checkpointIntervalMs,
      }),
    );
  });

  after(async () => {
    for (const [what, action] of undo) {
      try {
        await action();
      } catch (error) {
        process.stderr.write(`undoing ${what} failed: ${String(error)}\n`);
      }
    }
    await producer?.stop();
    await bed.stop();
    await endpoint.close();
  });

  test("the API server paused for 3 s, less than a lease: no holder changes, nothing replayed", async (t) => {
    const figures = await underFault(t, () => freezeApiServer(3_000));
    reportCommon(t, "3 s pause", figures);
    const lapses = (
      await Promise.all(
        (await runningPods()).map(async (pod) =>
          (await kubectl("logs", pod.metadata?.name ?? "", "-c", "processor"))
            .split("\n")
            .filter((line) => line.includes("heartbeat lapsed")),
        ),
      )
    ).flat().length;
    t.diagnostic(
      `3 s pause: longest pause of a shard's reading ${longestGapMs(figures).toFixed(0)} ms, heartbeat lapses in the pods' logs so far: ${String(lapses)}`,
    );
    assertCommon(figures);
    assert.deepEqual(byShard(figures.holdersAfter), byShard(figures.holdersBefore));
    assert.equal(figures.moves, 0, "no Lease changed hands");
    assert.equal(figures.duplicates, 0, "nothing replayed");
  });

  test("the API server frozen (SIGSTOP) for 60 s: every pod stops reading within 0.9 of a lease, resumes after SIGCONT; nothing lost, duplicates bounded", async (t) => {
    const figures = await underFault(t, () => freezeApiServer(60_000));
    reportCommon(t, "60 s freeze", figures);
    const stoppedMs = stoppedAfterMs(figures);
    const resumedMs = resumedAfterMs(figures);
    t.diagnostic(
      `60 s freeze: reading stopped ${stoppedMs.toFixed(0)} ms after SIGSTOP (bound ${String(readUntilMs)} ms), every shard read again ${resumedMs.toFixed(0)} ms after SIGCONT`,
    );
    assertCommon(figures);
    assert.ok(stoppedMs <= readUntilMs + 1_000, `reading stopped ${stoppedMs.toFixed(0)} ms in`);
    assert.ok(resumedMs <= 30_000, `every shard read again ${resumedMs.toFixed(0)} ms after`);
  });

  test("the API server killed and started again 60 s later: the same", async (t) => {
    const figures = await underFault(t, () => crashComponent("kube-apiserver", 60_000));
    reportCommon(t, "API server down 60 s", figures);
    const stoppedMs = stoppedAfterMs(figures);
    const resumedMs = resumedAfterMs(figures);
    t.diagnostic(
      `API server down: killed, started again ${(figures.end - figures.start).toFixed(0)} ms later, /readyz ${(figures.readyAfterMs ?? 0).toFixed(0)} ms after that; reading stopped ${stoppedMs.toFixed(0)} ms after the kill (bound ${String(readUntilMs)} ms), every shard read again ${resumedMs.toFixed(0)} ms after the start`,
    );
    assertCommon(figures);
    assert.ok(stoppedMs <= readUntilMs + 1_000, `reading stopped ${stoppedMs.toFixed(0)} ms in`);
    assert.ok(resumedMs <= 30_000, `every shard read again ${resumedMs.toFixed(0)} ms after`);
  });

  test("one pod cut off from the API server for 20 s: the other takes its shards within the heartbeat bound, never both reading one; it rejoins after", async (t) => {
    let victim = "";
    let victimShards: string[] = [];
    const figures = await underFault(t, async () => {
      const pods = await runningPods();
      const pod = pods[0];
      assert.ok(pod !== undefined);
      victim = pod.metadata?.name ?? "";
      victimShards = (await bed.shardHolders(job))
        .filter((lease) => lease.holder === victim)
        .map((lease) => lease.shardId);
      const pid = bed.containerPid(pod);
      // Both the Service address the pod dials and the API server's own, after kube-proxy's DNAT.
      const rules = [
        ["-d", kubernetesServiceIp, "--dport", "443"],
        ["-d", nodeIp, "--dport", String(bed.cluster.port)],
      ];
      const iptables = (action: "-I" | "-D", rule: string[]) =>
        execFileAsync("nsenter", [
          "-t",
          String(pid),
          "-n",
          "iptables",
          "-w",
          action,
          "OUTPUT",
          "-p",
          "tcp",
          ...rule,
          "-j",
          "DROP",
        ]);
      const heal = async (): Promise<void> => {
        for (const rule of rules) await iptables("-D", rule);
      };
      const start = performance.now();
      for (const rule of rules) await iptables("-I", rule);
      undo.set("a pod cut off", heal);
      try {
        await sleep(20_000);
      } finally {
        await heal();
        undo.delete("a pod cut off");
      }
      return { start, end: performance.now() };
    });
    reportCommon(t, "pod cut off", figures);
    const ofVictim = figures.reads.filter((read) => read.reader === victim);
    const stoppedMs = Math.max(
      0,
      ...ofVictim
        .filter((read) => read.at >= figures.start && read.at < figures.end)
        .map((read) => read.at - figures.start),
    );
    const takenOverMs = Math.max(
      ...victimShards.map((shardId) => {
        const first = figures.reads.find(
          (read) => read.shardId === shardId && read.reader !== victim && read.at >= figures.start,
        );
        return first === undefined ? Infinity : first.at - figures.start;
      }),
    );
    const rejoined = ofVictim.find((read) => read.at >= figures.end);
    const rejoinedMs = rejoined === undefined ? Infinity : rejoined.at - figures.end;
    t.diagnostic(
      `pod cut off: it stopped reading ${stoppedMs.toFixed(0)} ms after the cut (bound ${String(readUntilMs)} ms); its ${String(victimShards.length)} shards read by the other ${takenOverMs.toFixed(0)} ms after the cut (bound ${String(failoverBoundMs)} ms); it read again ${rejoinedMs.toFixed(0)} ms after the cut ended`,
    );
    assertCommon(figures);
    assert.ok(stoppedMs <= readUntilMs + 1_000, `it stopped ${stoppedMs.toFixed(0)} ms in`);
    assert.ok(
      takenOverMs <= failoverBoundMs + slackMs,
      `taken over ${takenOverMs.toFixed(0)} ms after the cut`,
    );
    assert.ok(Number.isFinite(rejoinedMs), "the pod read shards again after the cut ended");
  });

  test("etcd killed and started again 10 s later: shards kept or regained, nothing lost, duplicates bounded", async (t) => {
    const figures = await underFault(t, () => crashComponent("etcd", 10_000));
    reportCommon(t, "etcd restart", figures);
    const resumedMs = resumedAfterMs(figures);
    t.diagnostic(
      `etcd restart: killed, started again ${(figures.end - figures.start).toFixed(0)} ms later, the API server's /readyz ${(figures.readyAfterMs ?? 0).toFixed(0)} ms after that; last read during the outage ${stoppedAfterMs(figures).toFixed(0)} ms after the kill; every shard read again ${resumedMs.toFixed(0)} ms after the start; holders ${JSON.stringify(byShard(figures.holdersBefore))} -> ${JSON.stringify(byShard(figures.holdersAfter))}`,
    );
    assertCommon(figures);
    assert.ok(resumedMs <= 30_000, `every shard read again ${resumedMs.toFixed(0)} ms after`);
  });
});

/** The longest time any shard went without a call, from a second before the fault to 5 s after. */
function longestGapMs(figures: FaultFigures): number {
  let longest = 0;
  for (const shardId of new Set(figures.reads.map((read) => read.shardId))) {
    const times = figures.reads
      .filter(
        (read) =>
          read.shardId === shardId &&
          read.at >= figures.start - 1_000 &&
          read.at <= figures.end + 5_000,
      )
      .map((read) => read.at);
    for (let index = 1; index < times.length; index++) {
      longest = Math.max(longest, (times[index] ?? 0) - (times[index - 1] ?? 0));
    }
  }
  return longest;
}
