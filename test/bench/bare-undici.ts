// The yardstick: a bare undici loop with `concurrency` requests always in flight against the same
// endpoint, doing only what any client must (send the body, read the answer).
import { Pool } from "undici";
import { measureWindow, type Window } from "./measure-window.ts";

export async function bareUndiciWindow(
  url: string,
  concurrency: number,
  body: Buffer,
  durationMs: number,
  warmupMs: number,
): Promise<Window> {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections: concurrency, pipelining: 1 });
  const window = measureWindow(warmupMs, durationMs);
  const worker = async (): Promise<void> => {
    while (!window.over) {
      const response = await pool.request({
        path: target.pathname,
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      await response.body.arrayBuffer();
      window.count();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await pool.close();
  return window.result;
}

/** Records/s only, for callers that want no more (the peer comparison harness, peers/run-ours.ts). */
export const bareUndiciRate = async (
  ...args: Parameters<typeof bareUndiciWindow>
): Promise<number> => (await bareUndiciWindow(...args)).perSecond;
