// The kubelet's HTTPS endpoint for `kubectl logs` (the API server proxies /containerLogs to the
// node's daemonEndpoints port): serves a container's log file, with tailLines, limitBytes and
// follow. Self-signed: without --kubelet-certificate-authority the API server does not verify
// kubelets, and the loopback-only test bed leaves clients unauthenticated.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { containerLogPath, podDirectory } from "./pod-files.ts";

export interface LogServer {
  port: number;
  close(): Promise<void>;
}

function selfSignedCertificate(directory: string): { key: Buffer; cert: Buffer } {
  mkdirSync(directory, { recursive: true });
  const key = join(directory, "kubelet.key");
  const cert = join(directory, "kubelet.crt");
  if (!existsSync(cert)) {
    execFileSync(
      "openssl",
      [
        ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
        ...["-days", "365", "-subj", "/CN=test-kubelet", "-keyout", key, "-out", cert],
        ...["-addext", "subjectAltName=IP:127.0.0.1"],
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
  }
  return { key: readFileSync(key), cert: readFileSync(cert) };
}

function tail(text: string, lines: number | undefined): string {
  if (lines === undefined) return text;
  const all = text.endsWith("\n") ? text.slice(0, -1).split("\n") : text.split("\n");
  return all
    .slice(-lines)
    .map((line) => `${line}\n`)
    .join("");
}

export async function startLogServer(podsDir: string, tlsDir: string): Promise<LogServer> {
  const server: Server = createServer(selfSignedCertificate(tlsDir), (request, response) => {
    const url = new URL(request.url ?? "/", "https://kubelet");
    const match = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (request.method !== "GET" || match === null) {
      response.writeHead(404).end("the test kubelet serves only /containerLogs\n");
      return;
    }
    const [, namespace = "", pod = "", container = ""] = match;
    const file = containerLogPath(podDirectory(podsDir, namespace, pod), container);
    if (!existsSync(file)) {
      response.writeHead(404).end(`no log of container ${container} in pod ${namespace}/${pod}\n`);
      return;
    }
    const tailLines = url.searchParams.get("tailLines");
    const limitBytes = url.searchParams.get("limitBytes");
    let text = tail(readFileSync(file, "utf8"), tailLines === null ? undefined : Number(tailLines));
    if (limitBytes !== null) text = text.slice(0, Number(limitBytes));
    response.writeHead(200, { "content-type": "text/plain" });
    response.write(text);
    if (url.searchParams.get("follow") !== "true") {
      response.end();
      return;
    }
    // Follow: send what the process appends until the client goes away.
    let offset = statSync(file).size;
    const timer = setInterval(() => {
      const size = statSync(file).size;
      if (size > offset) {
        response.write(readFileSync(file).subarray(offset, size));
        offset = size;
      }
    }, 250);
    response.on("close", () => {
      clearInterval(timer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
