// A TCP proxy that can partition its clients from the target: `cut` black-holes every connection,
// open or new (bytes go nowhere, nothing is reset, as when a network drops packets), `heal` lets
// new connections through again. Used to cut one process off the API server while others reach it.
import { connect, createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export interface TcpProxy {
  /** host:port to give clients. */
  address: string;
  cut(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let partitioned = false;
  const pairs = new Set<[Socket, Socket | undefined]>();
  const blackHole = ([client, upstream]: [Socket, Socket | undefined]): void => {
    client.unpipe();
    upstream?.unpipe();
    client.pause();
    upstream?.pause();
  };
  const server = createServer((client) => {
    if (partitioned) {
      const pair: [Socket, undefined] = [client, undefined];
      pairs.add(pair);
      blackHole(pair);
      client.on("error", () => undefined);
      return;
    }
    const upstream = connect(target.port, target.host);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${String(port)}`,
    cut() {
      partitioned = true;
      for (const pair of pairs) blackHole(pair);
    },
    heal() {
      partitioned = false;
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream?.destroy();
      }
      pairs.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const [client, upstream] of pairs) {
          client.destroy();
          upstream?.destroy();
        }
        server.close(() => {
          resolve();
        });
      }),
  };
}
