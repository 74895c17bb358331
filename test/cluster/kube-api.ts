// A small Kubernetes REST client on undici: JSON requests and line-delimited watch streams, the
// API server verified against the cluster's CA. The test bed needs a handful of calls, so it speaks
// the wire format directly rather than through a generated client.
import { Agent, request } from "undici";
import type { ClusterCredentials } from "./kubeconfig.ts";

export class ApiError extends Error {
  readonly status: number;
  constructor(method: string, path: string, status: number, body: string) {
    super(`${method} ${path}: ${status} ${body.slice(0, 500)}`);
    this.status = status;
  }
}

export interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T;
}

export type PatchType = "merge" | "strategic" | "json";

const patchContentTypes: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  strategic: "application/strategic-merge-patch+json",
  json: "application/json-patch+json",
};

export interface KubeApi {
  get<T>(path: string): Promise<T>;
  /** The object, or undefined on 404. */
  find<T>(path: string): Promise<T | undefined>;
  create<T>(path: string, body: unknown): Promise<T>;
  replace<T>(path: string, body: unknown): Promise<T>;
  patch<T>(path: string, body: unknown, type: PatchType): Promise<T>;
  delete(path: string, options?: unknown): Promise<void>;
  /** Streams watch events to onEvent until the server ends the stream or signal aborts. */
  watch<T>(
    path: string,
    onEvent: (event: WatchEvent<T>) => void,
    signal: AbortSignal,
  ): Promise<void>;
  close(): Promise<void>;
}

export interface Impersonation {
  user: string;
  groups: string[];
}

export function createKubeApi(
  credentials: ClusterCredentials,
  impersonate?: Impersonation,
): KubeApi {
  const dispatcher = new Agent({ connect: { ca: credentials.ca }, keepAliveTimeout: 30_000 });
  const headers: Record<string, string | string[]> = {
    authorization: `Bearer ${credentials.token}`,
    accept: "application/json",
  };
  if (impersonate !== undefined) {
    headers["impersonate-user"] = impersonate.user;
    headers["impersonate-group"] = impersonate.groups;
  }

  const call = async (
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
    path: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<{ status: number; text: string }> => {
    const response = await request(new URL(path, credentials.server), {
      method,
      dispatcher,
      headers: body === undefined ? headers : { ...headers, "content-type": contentType },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.statusCode, text: await response.body.text() };
  };
  const json = async <T>(
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
    path: string,
    body?: unknown,
    contentType?: string,
  ): Promise<T> => {
    const { status, text } = await call(method, path, body, contentType);
    if (status >= 300) throw new ApiError(method, path, status, text);
    return JSON.parse(text) as T;
  };

  return {
    get: (path) => json("GET", path),
    find: async <T>(path: string) => {
      const { status, text } = await call("GET", path);
      if (status === 404) return undefined;
      if (status >= 300) throw new ApiError("GET", path, status, text);
      return JSON.parse(text) as T;
    },
    create: (path, body) => json("POST", path, body),
    replace: (path, body) => json("PUT", path, body),
    patch: (path, body, type) => json("PATCH", path, body, patchContentTypes[type]),
    delete: async (path, options) => {
      const { status, text } = await call("DELETE", path, options);
      if (status >= 300 && status !== 404) throw new ApiError("DELETE", path, status, text);
    },
    watch: async <T>(
      path: string,
      onEvent: (event: WatchEvent<T>) => void,
      signal: AbortSignal,
    ) => {
      const response = await request(new URL(path, credentials.server), {
        method: "GET",
        dispatcher,
        headers,
        signal,
      });
      if (response.statusCode >= 300) {
        throw new ApiError("GET", path, response.statusCode, await response.body.text());
      }
      let pending = "";
      try {
        for await (const chunk of response.body) {
          pending += (chunk as Buffer).toString("utf8");
          let newline = pending.indexOf("\n");
          while (newline >= 0) {
            const line = pending.slice(0, newline);
            pending = pending.slice(newline + 1);
            if (line.trim() !== "") onEvent(JSON.parse(line) as WatchEvent<T>);
            newline = pending.indexOf("\n");
          }
        }
      } catch (error) {
        if (!signal.aborted) throw error;
      }
    },
    close: () => dispatcher.close(),
  };
}
