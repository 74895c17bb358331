// Pods reach this machine only at the node's address (the bridge); the test bed's own servers
// (the Kinesis emulator, scripted endpoints) listen on loopback. A relay listens on the node's
// address and pipes each connection to the loopback server, so a pod can call it by address or,
// with a selector-less Service in front, by DNS name.
import { createConnection, createServer, type AddressInfo, type Socket } from "node:net";
import { nodeIp } from "./node-network.ts";

export interface HostRelay {
  /** The loopback URL rewritten to the relay's address and port. */
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function relayToPods(loopbackUrl: string): Promise<HostRelay> {
  const target = new URL(loopbackUrl);
  const sockets = new Set<Socket>();
  const server = createServer((incoming) => {
    const outgoing = createConnection({ host: target.hostname, port: Number(target.port) });
    for (const socket of [incoming, outgoing]) {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      // Either side failing ends both; the caller sees a reset, as from the server itself.
      socket.once("error", () => {
        incoming.destroy();
        outgoing.destroy();
      });
    }
    incoming.pipe(outgoing).pipe(incoming);
  });
  await new Promise<void>((resolve) => server.listen(0, nodeIp, resolve));
  const { port } = server.address() as AddressInfo;
  const url = new URL(loopbackUrl);
  url.hostname = nodeIp;
  url.port = String(port);
  return {
    url: url.toString().replace(/\/$/, loopbackUrl.endsWith("/") ? "/" : ""),
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}
