// How a processor stops: stop reading, let in-flight calls end, flush the sinks, checkpoint what
// was written, release the shard Leases, close the clients. Within `graceMs` nothing read is
// replayed; past it, what is still unwritten is given up, stays unacknowledged and is read again
// by the shard's next owner.
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import type { Logger } from "pino";
import type { Checkpointer } from "./checkpoint/checkpointer.ts";
import type { ShardCoordinator } from "./checkpoint/coordinator.ts";
import type { AsyncWait } from "./engine/async-wait.ts";
import type { Caller } from "./http/caller.ts";
import type { OutageBreaker } from "./http/outage-breaker.ts";
import type { ShardSupervisor } from "./pipeline/shard-supervisor.ts";
import type { Sinks } from "./pipeline/sinks.ts";

export interface RunningParts {
  logger: Logger;
  shards: ShardSupervisor;
  engine: AsyncWait<unknown>;
  sinks: Sinks;
  checkpointer: Checkpointer;
  coordinator: ShardCoordinator;
  caller: Caller;
  breaker: OutageBreaker | undefined;
  /** The Kinesis client, when the processor made it and so must close it. */
  ownKinesis: KinesisClient | undefined;
}

const drain = async ({ shards, engine, sinks }: RunningParts): Promise<void> => {
  await shards.stop();
  await engine.drained();
  await Promise.all([sinks.sink.flush(), sinks.deadLetter?.flush()]);
};

export async function shutDown(parts: RunningParts, graceMs: number): Promise<void> {
  const { logger, shards, engine, sinks, checkpointer, coordinator } = parts;
  // Syncing stops with reading; the heartbeat renews itself until the Leases are released.
  let graceTimer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<"grace over">((resolve) => {
    graceTimer = setTimeout(resolve, graceMs, "grace over");
  });
  const outcome = await Promise.race([drain(parts).then(() => "drained" as const), graceOver]);
  clearTimeout(graceTimer);
  if (outcome === "grace over") {
    sinks.sink.abort();
    sinks.deadLetter?.abort();
    logger.warn(
      { inFlight: engine.inFlight, unwritten: sinks.sink.unacknowledged },
      "shutdown grace period over: checkpointing only what was written; the rest will be read again",
    );
  }
  await checkpointer.flush(shards.trackers());
  await coordinator.release();
  parts.breaker?.stop();
  // Past the grace period, calls still running are abandoned: their records are read again.
  await (outcome === "grace over" ? parts.caller.destroy() : parts.caller.close());
  parts.ownKinesis?.destroy();
}
