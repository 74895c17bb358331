// An endpoint whose latency grows with its concurrency past a knee, as a queueing service does:
// `baseMs` while at most `knee` requests are open, `baseMs x open / knee` beyond (a request's
// latency is fixed when it arrives, counting itself). It serves knee / baseMs requests a second
// at most, whatever the concurrency: past the knee, more calls in flight only add waiting.
// Run as a process of its own (`node test/bench/queueing-endpoint.ts --base-ms 50 --knee 40`),
// so its timers do not share an event loop with the client measured; it prints {"url"} once up.
// GET /stats answers the latencies it assigned since the last GET /stats/reset (its own view,
// free of the client's scheduling delays on a busy machine): count, p50 and p99 in ms.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { startServerProcess, type EndpointProcess } from "./endpoint-process.ts";

/** Starts the endpoint in a child process. */
export function startQueueingEndpoint(baseMs: number, knee: number): Promise<EndpointProcess> {
  return startServerProcess(import.meta.filename, [
    "--base-ms",
    String(baseMs),
    "--knee",
    String(knee),
  ]);
}

function serve(baseMs: number, knee: number): void {
  let open = 0;
  let assigned: number[] = [];
  const answer = Buffer.from(JSON.stringify({ enrichedBy: "queueing-endpoint" }));
  const server = createServer((request, response) => {
    if (request.url?.startsWith("/stats") === true) {
      request.resume();
      const sorted = Float64Array.from(assigned).sort();
      const at = (q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? 0;
      if (request.url === "/stats/reset") assigned = [];
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ count: sorted.length, p50: at(0.5), p99: at(0.99) }));
      return;
    }
    open++;
    const delay = baseMs * Math.max(1, open / knee);
    assigned.push(delay);
    request.resume();
    request.on("end", () => {
      setTimeout(() => {
        open--;
        response.writeHead(200, {
          "content-type": "application/json",
          "content-length": answer.length,
        });
        response.end(answer);
      }, delay);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
  });
  process.once("SIGTERM", () => {
    server.closeAllConnections();
    server.close();
  });
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      "base-ms": { type: "string", default: "50" },
      knee: { type: "string", default: "40" },
    },
  });
  serve(Number(values["base-ms"]), Number(values.knee));
}
