// Ordered mode keeps each shard's order through every interleaving of completions and sink
// backpressure: one scripted interleaving that broke it once, and a seeded randomized run of
// 100,000 records over many shards with random latencies and random sink push-back.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createAsyncWait } from "../../../processor/engine/async-wait.ts";
import { seededRandom } from "../seeded-random.ts";

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("ordered emission", () => {
  test("ordered mode keeps a shard's order when its queue empties and refills while the sink pushes back", async () => {
    const calls = new Map<string, PromiseWithResolvers<string>>();
    const sink = new Map<string, PromiseWithResolvers<undefined>>();
    const emitted: string[] = [];
    const operator = createAsyncWait<string, string>({
      capacity: 8,
      ordering: "ordered",
      partitionOf: (input) => input.split(":")[0] ?? "",
      invoke: (input) => {
        const call = Promise.withResolvers<string>();
        calls.set(input, call);
        return call.promise;
      },
      timeoutMs: 60_000,
      onTimeout: () => "timeout",
      onError: () => "error",
      emit: (input) => {
        emitted.push(input);
        const written = Promise.withResolvers<undefined>();
        sink.set(input, written);
        return written.promise;
      },
      onFatal: (error) => {
        throw error;
      },
    });
    const take = (...inputs: string[]) => {
      for (const input of inputs) assert.equal(operator.submit(input), undefined, input);
    };
    const finish = (input: string) => calls.get(input)?.resolve(input);
    const write = (input: string) => sink.get(input)?.resolve(undefined);

    take("a:1", "b:1");
    finish("a:1");
    finish("b:1");
    await settle(); // a:1 is being written; shard b waits its turn
    take("a:2");
    finish("a:2");
    await settle(); // shard a is ready again while its a:1 is still being written
    write("a:1");
    await settle(); // a:2 is being written
    write("a:2");
    await settle(); // shard a is drained; b:1 is being written
    take("a:3", "a:4"); // shard a starts over while the emitter is busy with b
    write("b:1");
    await settle();
    take("a:5");
    finish("a:5");
    finish("a:4");
    await settle();
    assert.deepEqual(emitted, ["a:1", "a:2", "b:1"], "nothing of shard a passes a:3");
    finish("a:3");
    for (let round = 0; round < 10; round++) {
      for (const input of emitted) write(input);
      await settle();
    }
    assert.deepEqual(emitted, ["a:1", "a:2", "b:1", "a:3", "a:4", "a:5"]);
    await operator.drained();
  });

  test("a seeded random run of 100,000 records over 16 shards keeps every shard's order", async () => {
    const random = seededRandom(16);
    const shards = 16;
    const perShard = 6_250;
    const lastEmitted = new Array<number>(shards).fill(-1);
    let violations = 0;
    let emittedCount = 0;
    /** Resolves after 0 to `hops` turns of the event loop: latencies that reorder completions. */
    const hopsLater = async (hops: number): Promise<void> => {
      for (let hop = Math.floor(random() * hops); hop > 0; hop--) await settle();
    };
    const operator = createAsyncWait<{ shard: number; index: number }, number>({
      capacity: 64,
      ordering: "ordered",
      partitionOf: (record) => String(record.shard),
      invoke: async (record) => {
        await hopsLater(random() < 0.05 ? 40 : 4);
        return record.index;
      },
      timeoutMs: 60_000,
      onTimeout: () => -1,
      onError: () => -2,
      emit: (record) => {
        if (record.index !== (lastEmitted[record.shard] ?? -1) + 1) violations++;
        lastEmitted[record.shard] = record.index;
        emittedCount++;
        // The sink pushes back on about a third of the records, for a few turns.
        return random() < 0.3 ? hopsLater(3) : undefined;
      },
      onFatal: (error) => {
        throw error;
      },
    });
    // One reader per shard, each submitting in order and awaiting its slot, as shard readers do.
    await Promise.all(
      Array.from({ length: shards }, async (_, shard) => {
        for (let index = 0; index < perShard; index++) {
          const waiting = operator.submit({ shard, index });
          if (waiting !== undefined) await waiting;
          if (random() < 0.01) await hopsLater(3);
        }
      }),
    );
    await operator.drained();
    assert.equal(emittedCount, shards * perShard, "every record emitted once");
    assert.equal(violations, 0, "records emitted out of their shard's order");
    assert.deepEqual(lastEmitted, new Array<number>(shards).fill(perShard - 1));
  });
});
