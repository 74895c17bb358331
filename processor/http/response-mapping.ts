// Turns the endpoint's answer into the output record: the body as is (replace), or the input
// JSON with the response JSON under a named field (merge).
import type { EndpointConfig } from "../config/schema.ts";

export type Mapping = { ok: true; data: Uint8Array } | { ok: false; reason: string };

export type ResponseMapper = (body: Buffer, input: Record<string, unknown> | undefined) => Mapping;

export function createResponseMapper(response: EndpointConfig["response"]): ResponseMapper {
  if (response.mode === "replace") return (body) => ({ ok: true, data: body });
  const field = response.field;
  return (body, input) => {
    let enrichment: unknown;
    try {
      enrichment = JSON.parse(body.toString("utf8"));
    } catch {
      return { ok: false, reason: "response body is not JSON; response mode merge needs JSON" };
    }
    return { ok: true, data: Buffer.from(JSON.stringify({ ...input, [field]: enrichment })) };
  };
}
