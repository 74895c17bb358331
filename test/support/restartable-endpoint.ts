// An echo endpoint that can go down (its port refuses connections) and come back on the same
// port: an endpoint outage as a deploy or a crash makes it.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface RestartableEndpoint {
  url: string;
  up: () => Promise<void>;
  down: () => Promise<void>;
  /** Requests answered since the start. */
  readonly answered: number;
}

export async function startRestartableEndpoint(delayMs: number): Promise<RestartableEndpoint> {
  let server: Server | undefined;
  let port = 0;
  let answered = 0;
  const up = async (): Promise<void> => {
    const started = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        setTimeout(() => {
          answered++;
          response.end(Buffer.concat(chunks));
        }, delayMs);
      });
    });
    await new Promise<void>((resolve) => started.listen(port, "127.0.0.1", resolve));
    port = (started.address() as AddressInfo).port;
    server = started;
  };
  const down = async (): Promise<void> => {
    const stopping = server;
    server = undefined;
    if (stopping === undefined) return;
    stopping.closeAllConnections();
    await new Promise<void>((resolve) => {
      stopping.close(() => {
        resolve();
      });
    });
  };
  await up();
  return {
    url: `http://127.0.0.1:${String(port)}`,
    up,
    down,
    get answered() {
      return answered;
    },
  };
}
