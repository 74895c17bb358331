// The yardsticks: a bare undici loop with `concurrency` requests always in flight against the same
// endpoint, doing only what any client must (send the body, read the whole answer), through
// pool.request and its body stream (the yardstick) or through the dispatcher with the
// buffering handler the caller uses (undici's floor: nothing but the request and the answer).
import { Pool } from "undici";
import { bufferedRequest } from "../../processor/http/buffered-request.ts";
import { measureWindow, type Window } from "./measure-window.ts";

export type UndiciApi = "request" | "dispatch";

export async function bareUndiciWindow(
  url: string,
  concurrency: number,
  body: Buffer,
  durationMs: number,
  warmupMs: number,
  api: UndiciApi = "request",
): Promise<Window> {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections: concurrency, pipelining: 1 });
  const window = measureWindow(warmupMs, durationMs);
  const options = {
    path: target.pathname,
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  } as const;
  const once =
    api === "request"
      ? async () => {
          const response = await pool.request(options);
          await response.body.arrayBuffer();
        }
      : async () => {
          await bufferedRequest(pool, options).response;
        };
  const worker = async (): Promise<void> => {
    while (!window.over) {
      await once();
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
