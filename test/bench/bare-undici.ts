// The yardstick: a bare undici loop with `concurrency` requests always in flight against the same
// endpoint, doing only what any client must (send the body, read the answer).
import { Pool } from "undici";

export async function bareUndiciRate(
  url: string,
  concurrency: number,
  body: Buffer,
  durationMs: number,
  warmupMs: number,
): Promise<number> {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections: concurrency, pipelining: 1 });
  const started = performance.now();
  const measureFrom = started + warmupMs;
  const stopAt = measureFrom + durationMs;
  let counted = 0;
  const worker = async (): Promise<void> => {
    for (let now = performance.now(); now < stopAt; now = performance.now()) {
      const response = await pool.request({
        path: target.pathname,
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      await response.body.arrayBuffer();
      const finished = performance.now();
      if (finished >= measureFrom && finished < stopAt) counted++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await pool.close();
  return counted / (durationMs / 1000);
}
