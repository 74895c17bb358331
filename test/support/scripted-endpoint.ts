// A real HTTP server whose answer to each request is chosen by the test from the request itself,
// so a test can make chosen records fail, time out or answer too much.
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ScriptedAnswer {
  status?: number;
  body?: string;
  headers?: Record<string, string>;
  delayMs?: number;
  /** Never answer: the caller's timeout must end the request. */
  hang?: boolean;
}

export interface ScriptedRequest {
  method: string;
  url: string;
  body: string;
  /** How many times a request with this exact body and URL was seen, this one included. */
  seen: number;
  /** performance.now() when the request was complete. */
  at: number;
  /** The caller's address (a pod's IP when pods call the endpoint on the node's address). */
  from: string;
}

/** Listens on loopback, or on `host` (the test node's address, for pods to call it directly). */
export async function startScriptedEndpoint(
  script: (request: ScriptedRequest) => ScriptedAnswer,
  host = "127.0.0.1",
) {
  const seen = new Map<string, number>();
  const open = new Set<ServerResponse>();
  const requests: ScriptedRequest[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString();
      const key = `${request.url ?? ""} ${body}`;
      const count = (seen.get(key) ?? 0) + 1;
      seen.set(key, count);
      const scripted = {
        method: request.method ?? "",
        url: request.url ?? "",
        body,
        seen: count,
        at: performance.now(),
        from: request.socket.remoteAddress ?? "",
      };
      requests.push(scripted);
      const answer = script(scripted);
      open.add(response);
      response.on("close", () => open.delete(response));
      if (answer.hang === true) return;
      setTimeout(() => {
        response.writeHead(answer.status ?? 200, {
          "content-type": "application/json",
          ...answer.headers,
        });
        response.end(answer.body ?? body);
      }, answer.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const response of open) response.destroy();
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
