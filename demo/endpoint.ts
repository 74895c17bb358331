// The demo enrichment service: a slow REST API with configurable latency and error rate, so the
// demo, the tests and an in-cluster example have a real HTTP peer to call.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";

export interface DemoEndpointOptions {
  host?: string;
  port?: number;
  /** Mean added latency per request, in milliseconds. */
  latencyMs?: number;
  /** Uniform jitter around the mean, in milliseconds (latency is mean ± jitter/2). */
  jitterMs?: number;
  /** Share of requests answered with 500, between 0 and 1. */
  errorRate?: number;
  /** Share of requests that never answer (the caller's timeout must end them), between 0 and 1. */
  hangRate?: number;
}

export interface DemoEndpoint {
  url: string;
  /** Requests received, and currently open, since start. */
  stats: { received: number; inFlight: number; maxInFlight: number };
  close(): Promise<void>;
}

function score(text: string): number {
  let hash = 2166136261;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619);
  return (hash >>> 0) / 0xffffffff;
}

function enrich(body: string): unknown {
  const enrichment = { score: Number(score(body).toFixed(6)), enrichedBy: "demo-endpoint" };
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) {
      return { ...parsed, ...enrichment };
    }
  } catch {
    // Not JSON: enrich the raw text instead.
  }
  return { bytes: Buffer.byteLength(body), ...enrichment };
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      resolve(Buffer.concat(chunks).toString("utf8"));
    });
    request.on("error", reject);
  });
}

export async function startDemoEndpoint(options: DemoEndpointOptions = {}): Promise<DemoEndpoint> {
  const latencyMs = options.latencyMs ?? 50;
  const jitterMs = options.jitterMs ?? 0;
  const errorRate = options.errorRate ?? 0;
  const hangRate = options.hangRate ?? 0;
  const stats = { received: 0, inFlight: 0, maxInFlight: 0 };
  const hanging = new Set<ServerResponse>();

  const respond = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const body = await readBody(request);
    if (request.url === "/healthz") {
      response.end("ok");
      return;
    }
    stats.received++;
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    response.on("close", () => {
      stats.inFlight--;
      hanging.delete(response);
    });
    const roll = Math.random();
    if (roll < hangRate) {
      hanging.add(response);
      return;
    }
    const delay = Math.max(0, latencyMs + (Math.random() - 0.5) * jitterMs);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    if (roll < hangRate + errorRate) {
      response.writeHead(500, { "content-type": "application/json" });
      response.end(JSON.stringify({ error: "injected failure" }));
      return;
    }
    const lookup = /^\/lookup\/([^/?]+)/.exec(request.url ?? "");
    const input = lookup?.[1] !== undefined ? JSON.stringify({ id: lookup[1] }) : body;
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify(enrich(input)));
  };

  const server: Server = createServer((request, response) => {
    respond(request, response).catch((error: unknown) => {
      response.destroy(error instanceof Error ? error : new Error(String(error)));
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) =>
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", resolve),
  );
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    stats,
    close: async () => {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      host: { type: "string", default: process.env.HOST ?? "127.0.0.1" },
      port: { type: "string", default: process.env.PORT ?? "8080" },
      "latency-ms": { type: "string", default: process.env.LATENCY_MS ?? "50" },
      "jitter-ms": { type: "string", default: process.env.JITTER_MS ?? "0" },
      "error-rate": { type: "string", default: process.env.ERROR_RATE ?? "0" },
      "hang-rate": { type: "string", default: process.env.HANG_RATE ?? "0" },
    },
  });
  const endpoint = await startDemoEndpoint({
    host: values.host,
    port: Number(values.port),
    latencyMs: Number(values["latency-ms"]),
    jitterMs: Number(values["jitter-ms"]),
    errorRate: Number(values["error-rate"]),
    hangRate: Number(values["hang-rate"]),
  });
  process.stdout.write(
    `${JSON.stringify({ msg: "demo endpoint listening", url: endpoint.url })}\n`,
  );
  const stop = (): void => {
    void endpoint.close().then(() => {
      process.exit(0);
    });
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}
