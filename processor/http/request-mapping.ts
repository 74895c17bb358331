// Turns a record into an HTTP request: by default the record's data is the body; a URL with
// {field} placeholders is filled from the record's JSON fields, for GET lookups.
import type { EndpointConfig } from "../config/schema.ts";

export interface PreparedRequest {
  /** Path and query, relative to the endpoint's origin. */
  path: string;
  body: Uint8Array | undefined;
  /** The record parsed as JSON, when a placeholder or merge mode needed it. */
  json: Record<string, unknown> | undefined;
}

export type Preparation = { ok: true; request: PreparedRequest } | { ok: false; reason: string };

const placeholder = /\{([^{}]+)\}/g;

export interface RequestMapper {
  readonly origin: string;
  prepare(data: Uint8Array): Preparation;
}

function lookup(json: Record<string, unknown>, path: string): unknown {
  let value: unknown = json;
  for (const key of path.split(".")) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function parseObject(data: Uint8Array): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(
      Buffer.from(data.buffer, data.byteOffset, data.length).toString("utf8"),
    );
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

export function createRequestMapper(endpoint: EndpointConfig): RequestMapper {
  const hostStart = endpoint.url.indexOf("://") + 3;
  const pathStart = endpoint.url.slice(hostStart).search(/[/?]/);
  const authority = pathStart === -1 ? endpoint.url : endpoint.url.slice(0, hostStart + pathStart);
  const rawPath =
    pathStart === -1 ? "/" : endpoint.url.slice(hostStart + pathStart).replace(/^\?/, "/?");
  if (authority.includes("{")) {
    throw new Error("endpoint.url: placeholders may appear in the path and query, not the host");
  }
  const origin = new URL(authority).origin;
  const fields = [...rawPath.matchAll(placeholder)].map((match) => match[1] ?? "");
  const needsJson = fields.length > 0 || endpoint.response.mode === "merge";
  const sendsBody = endpoint.body === "record";

  return {
    origin,
    prepare(data) {
      let json: Record<string, unknown> | undefined;
      if (needsJson) {
        json = parseObject(data);
        if (json === undefined) {
          return {
            ok: false,
            reason:
              fields.length > 0
                ? `record is not a JSON object; the URL template needs fields ${fields.join(", ")}`
                : "record is not a JSON object; response mode merge needs one",
          };
        }
      }
      let path = rawPath;
      if (fields.length > 0 && json !== undefined) {
        for (const field of fields) {
          const value = lookup(json, field);
          if (
            typeof value !== "string" &&
            typeof value !== "number" &&
            typeof value !== "boolean"
          ) {
            return {
              ok: false,
              reason: `record field "${field}" is missing or not a string, number or boolean; the URL template needs it`,
            };
          }
          path = path.replace(`{${field}}`, encodeURIComponent(String(value)));
        }
      }
      return { ok: true, request: { path, body: sendsBody ? data : undefined, json } };
    },
  };
}
