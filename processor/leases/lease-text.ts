// What shard Leases and heartbeat Leases both do with text: make an id part of a DNS-safe Lease
// name, and read a JSON annotation through its schema (a malformed one reads as absent).
import type { z } from "zod";

/** `id` lower-cased, other characters than a-z 0-9 - made "-", ending alphanumeric as DNS wants. */
export function dnsSafe(id: string): string {
  const safe = id.toLowerCase().replace(/[^a-z0-9-]/g, "-");
  return /[a-z0-9]$/.test(safe) ? safe : `${safe}0`;
}

export function parseJsonAnnotation<T>(
  schema: z.ZodType<T>,
  text: string | undefined,
): T | undefined {
  if (text === undefined) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
