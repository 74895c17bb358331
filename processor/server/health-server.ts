// The pod's HTTP face: /metrics for Prometheus, /healthz for liveness, /readyz for readiness and
// /status with per-shard progress as JSON (what the operator aggregates).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface HealthSource {
  registry: Registry;
  status(): { ready: boolean; reason: string | undefined };
}

export interface HealthServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startHealthServer(
  source: HealthSource,
  host: string,
  port: number,
): Promise<HealthServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    const json = (status: number, body: unknown): void => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    };
    switch (path) {
      case "/metrics":
        source.registry.metrics().then(
          (text) => {
            response.writeHead(200, { "content-type": source.registry.contentType });
            response.end(text);
          },
          (error: unknown) => {
            json(500, { error: String(error) });
          },
        );
        return;
      case "/healthz":
        json(200, { ok: true });
        return;
      case "/readyz": {
        const status = source.status();
        json(status.ready ? 200 : 503, { ready: status.ready, reason: status.reason });
        return;
      }
      case "/status":
        json(200, source.status());
        return;
      default:
        json(404, {
          error: `no such path ${path ?? ""}; try /metrics, /healthz, /readyz or /status`,
        });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
