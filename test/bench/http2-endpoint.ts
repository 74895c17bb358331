// An endpoint that speaks HTTP/2 and HTTP/1.1 over TLS (ALPN picks), answering each request after
// a fixed delay and counting the connections that carry calls open at once. Run as a process of its own
// (`node test/bench/http2-endpoint.ts --cert c --key k --delay-ms 50`) so its timers do not share
// an event loop with the client measured; it prints {"url"} once up. GET /stats answers the most
// connections open at once, the connections opened and the requests served since the last GET
// /stats/reset.
import { readFileSync } from "node:fs";
import { createSecureServer, type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { startServerProcess, type EndpointProcess } from "./endpoint-process.ts";

export interface TransportStats {
  maxConnections: number;
  /** Connections that carried a call, opened since the reset. */
  opened: number;
  requests: number;
}

export function startHttp2Endpoint(
  files: { cert: string; key: string },
  delayMs: number,
): Promise<EndpointProcess> {
  return startServerProcess(import.meta.filename, [
    ...["--cert", files.cert, "--key", files.key, "--delay-ms", String(delayMs)],
  ]);
}

function serve(cert: Buffer, key: Buffer, delayMs: number): void {
  let open = 0;
  let stats: TransportStats = { maxConnections: 0, opened: 0, requests: 0 };
  const answer = Buffer.from(JSON.stringify({ enrichedBy: "http2-endpoint" }));
  const server = createSecureServer({ cert, key, allowHTTP1: true });
  /** Connections that carried a call (the bench's own /stats calls are not counted). */
  const counted = new WeakSet<object>();
  const count = (connection: NodeJS.EventEmitter): void => {
    if (counted.has(connection)) return;
    counted.add(connection);
    open++;
    stats.opened++;
    stats.maxConnections = Math.max(stats.maxConnections, open);
    connection.once("close", () => {
      open--;
    });
  };
  server.on("request", (request: Http2ServerRequest, response: Http2ServerResponse) => {
    request.resume();
    if (request.url.startsWith("/stats")) {
      response.end(JSON.stringify(stats));
      if (request.url === "/stats/reset") stats = { maxConnections: open, opened: 0, requests: 0 };
      return;
    }
    // One HTTP/2 session carries many streams; an HTTP/1.1 socket one request at a time.
    count(
      request.httpVersion === "2.0" ? (request.stream.session ?? request.socket) : request.socket,
    );
    stats.requests++;
    request.on("end", () => {
      setTimeout(() => {
        response.writeHead(200, { "content-type": "application/json" });
        response.end(answer);
      }, delayMs);
    });
  });
  // 1,000 HTTP/1.1 clients connect at once: past the default backlog (511) SYNs are dropped and
  // retried seconds later, which would measure the listen queue, not the protocol.
  server.listen({ port: 0, host: "127.0.0.1", backlog: 4_096 }, () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(`${JSON.stringify({ url: `https://127.0.0.1:${String(port)}` })}\n`);
  });
  process.once("SIGTERM", () => {
    process.exit(0);
  });
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      cert: { type: "string" },
      key: { type: "string" },
      "delay-ms": { type: "string", default: "50" },
    },
  });
  if (values.cert === undefined || values.key === undefined) throw new Error("--cert and --key");
  serve(readFileSync(values.cert), readFileSync(values.key), Number(values["delay-ms"]));
}
