// The undici pool that carries calls to the endpoint. HTTP/1.1: one connection per slot
// (capacity connections, no pipelining), so undici never queues behind the engine's back.
// HTTP/2: the capacity multiplexed on maxConnections connections. TLS material (private CA,
// client certificate) comes from files that are read again every reloadIntervalMs; when they
// change (the kubelet swaps a mounted Secret's `..data` symlink), a new pool takes new calls and
// the old one closes once its calls end, so a rotated certificate needs no restart.
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createSecureContext, rootCertificates, type ConnectionOptions } from "node:tls";
import type { Logger } from "pino";
import { buildConnector, Pool, type Dispatcher } from "undici";
import type { EndpointConfig } from "../config/schema.ts";
import { bufferedRequest, type BufferedRequest } from "./buffered-request.ts";
import { isTlsFailureReason, withTlsExplanation } from "./tls-failure.ts";

export interface EndpointDispatcher {
  /** Sends one request on the current pool; its answer is collected whole. */
  send(options: Dispatcher.DispatchOptions): BufferedRequest;
  /** Closes every pool once its running calls end. */
  close(): Promise<void>;
  /** Closes every pool now, failing running calls. */
  destroy(): Promise<void>;
}

export interface EndpointDispatcherOptions {
  origin: string;
  endpoint: Pick<EndpointConfig, "http" | "tls" | "maxResponseBytes">;
  /** Calls in flight at most. */
  capacity: number;
  logger?: Logger | undefined;
}

type TlsConfig = NonNullable<EndpointConfig["tls"]>;
type TlsFiles = Partial<Record<"ca" | "cert" | "key", Buffer>>;

const fileFields = [
  ["ca", "caFile"],
  ["cert", "certFile"],
  ["key", "keyFile"],
] as const;

/** Streams per HTTP/2 connection that Node's and most servers' defaults allow. */
const typicalStreamsPerConnection = 100;
/** The same TLS failure is logged at most this often. */
const failureLogIntervalMs = 60_000;

/** Connections the pool may open: capacity for HTTP/1.1, maxConnections for HTTP/2. */
export function connectionLimit(http: EndpointConfig["http"], capacity: number): number {
  if (http.version === "1.1") return capacity;
  return http.maxConnections ?? Math.ceil(capacity / typicalStreamsPerConnection);
}

function readFiles(tls: TlsConfig): TlsFiles {
  const files: TlsFiles = {};
  for (const [name, field] of fileFields) {
    const path = tls[field];
    if (path === undefined) continue;
    try {
      files[name] = readFileSync(path);
    } catch (error) {
      throw new Error(`endpoint.tls.${field}: cannot read ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  return files;
}

async function rereadFiles(tls: TlsConfig): Promise<TlsFiles> {
  const files: TlsFiles = {};
  for (const [name, field] of fileFields) {
    const path = tls[field];
    if (path !== undefined) files[name] = await readFile(path);
  }
  return files;
}

const sameFiles = (a: TlsFiles, b: TlsFiles): boolean =>
  fileFields.every(([name]) => {
    const left = a[name];
    const right = b[name];
    return left === undefined || right === undefined ? left === right : left.equals(right);
  });

/** TLS options of the files; throws, naming endpoint.tls, if they do not make a TLS context. */
function secureOptions(tls: TlsConfig | undefined, files: TlsFiles): ConnectionOptions {
  if (tls === undefined) return {};
  const options: ConnectionOptions = {
    ...(files.ca === undefined
      ? {}
      : { ca: tls.includePublicRoots ? [...rootCertificates, files.ca.toString()] : files.ca }),
    ...(files.cert === undefined ? {} : { cert: files.cert }),
    ...(files.key === undefined ? {} : { key: files.key }),
    ...(tls.serverName === undefined ? {} : { servername: tls.serverName }),
  };
  // OpenSSL skips text that is no certificate: a CA file of none would trust nothing, silently.
  if (files.ca !== undefined && !files.ca.includes("-----BEGIN CERTIFICATE-----")) {
    throw new Error(`endpoint.tls.caFile: ${tls.caFile ?? ""} holds no PEM certificate`);
  }
  try {
    createSecureContext(options);
  } catch (error) {
    throw new Error(
      `endpoint.tls: the CA, certificate and key files do not make a TLS context: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return options;
}

/** Fails a connection whose TLS handshake did not agree on HTTP/2, instead of silently using 1.1. */
function requireH2(connect: buildConnector.connector): buildConnector.connector {
  return (options, callback) => {
    connect(options, (...args) => {
      const [error, socket] = args;
      if (error !== null) {
        callback(error, null);
        return;
      }
      const protocol = (socket as { alpnProtocol?: string | false }).alpnProtocol;
      if (protocol === "h2") {
        callback(null, socket);
        return;
      }
      socket.destroy();
      callback(
        Object.assign(
          new Error(
            `the endpoint did not agree to HTTP/2 in the TLS handshake (ALPN: ${protocol || "none"}): set endpoint.http.version to "1.1"`,
          ),
          { code: "ERR_ENDPOINT_NOT_HTTP2" },
        ),
        null,
      );
    });
  };
}

function createPool(options: EndpointDispatcherOptions, secure: ConnectionOptions): Pool {
  const { http, maxResponseBytes } = options.endpoint;
  const https = options.origin.startsWith("https:");
  const connections = connectionLimit(http, options.capacity);
  const common = {
    connections,
    // undici aborts a response past this size while reading it, before it is all in memory.
    maxResponseSize: maxResponseBytes,
  };
  if (http.version === "1.1") {
    return new Pool(options.origin, { ...common, pipelining: 1, allowH2: false, connect: secure });
  }
  // Prior knowledge on http://: the Pool builds its connector without useH2c, so build it here.
  const cleartext = { allowH2: true, useH2c: true };
  return new Pool(options.origin, {
    ...common,
    allowH2: true,
    h2Options: {
      // The client's own ceiling; the server's SETTINGS_MAX_CONCURRENT_STREAMS may lower it.
      maxConcurrentStreams: Math.ceil(options.capacity / connections),
    },
    connect: https
      ? requireH2(buildConnector({ ...secure, allowH2: true, preferH2: true }))
      : buildConnector(cleartext),
  });
}

export function createEndpointDispatcher(options: EndpointDispatcherOptions): EndpointDispatcher {
  const { tls } = options.endpoint;
  const { logger } = options;
  let files = tls === undefined ? {} : readFiles(tls);
  let current = createPool(options, secureOptions(tls, files));
  /** Pools replaced by a reload, closing once their calls end. */
  const retiring = new Map<Pool, Promise<void>>();
  let rejected: TlsFiles | undefined;
  let rereading = false;
  let readError: string | undefined;
  const lastLogged = new Map<string, number>();

  const reload = async (config: TlsConfig): Promise<void> => {
    if (rereading) return;
    rereading = true;
    try {
      const next = await rereadFiles(config);
      readError = undefined;
      if (sameFiles(next, files) || (rejected !== undefined && sameFiles(next, rejected))) return;
      try {
        const pool = createPool(options, secureOptions(config, next));
        const old = current;
        current = pool;
        files = next;
        rejected = undefined;
        retiring.set(
          old,
          old.close().finally(() => retiring.delete(old)),
        );
        logger?.info("endpoint TLS files changed: new connections use them");
      } catch (error) {
        // Read between two writes, or a bad rotation: keep the pool that works, say why once.
        rejected = next;
        logger?.warn(
          { err: (error as Error).message },
          "endpoint TLS files changed but cannot be used; new connections keep the previous ones",
        );
      }
    } catch (error) {
      // Said once per error, not at every interval while it lasts.
      const message = (error as Error).message;
      if (message !== readError) {
        logger?.warn(
          { err: message },
          "reading the endpoint TLS files failed; keeping the previous ones",
        );
      }
      readError = message;
    } finally {
      rereading = false;
    }
  };
  const timer =
    tls === undefined
      ? undefined
      : setInterval(() => {
          void reload(tls);
        }, tls.reloadIntervalMs);
  timer?.unref();

  /** Rare and actionable: logged at error level, at most once a minute per reason. */
  const report = (error: unknown): void => {
    if (logger === undefined || !(error instanceof Error) || !isTlsFailureReason(error.message)) {
      return;
    }
    const now = performance.now();
    if (now - (lastLogged.get(error.message) ?? -Infinity) < failureLogIntervalMs) return;
    lastLogged.set(error.message, now);
    logger.error(
      { endpoint: options.origin, reason: error.message },
      "calling the endpoint failed",
    );
  };

  const explainAndReport = (error: Error): Error => {
    const explained = withTlsExplanation(error) as Error;
    report(explained);
    return explained;
  };

  return {
    // On the hot path: the handler words its own error, so no wrapper, closure or derived
    // promise per request.
    send: (requestOptions) => bufferedRequest(current, requestOptions, explainAndReport),
    async close() {
      clearInterval(timer);
      await Promise.all([current.close(), ...retiring.values()]);
    },
    async destroy() {
      clearInterval(timer);
      await Promise.all([current, ...retiring.keys()].map((pool) => pool.destroy()));
    },
  };
}
