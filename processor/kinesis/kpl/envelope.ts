// The frame around an aggregate's protobuf body: 4 magic bytes before it, its 16-byte MD5 after.
// The MD5 is what tells a KPL aggregate from a plain record that merely starts with the magic bytes.
import { createHash } from "node:crypto";

export const kplMagic: Uint8Array = Uint8Array.of(0xf3, 0x89, 0x9a, 0xc2);
const digestBytes = 16;
/** Bytes an aggregate adds around its body. */
export const envelopeBytes = kplMagic.length + digestBytes;

export function startsWithKplMagic(data: Uint8Array): boolean {
  return (
    data.length >= kplMagic.length &&
    data[0] === kplMagic[0] &&
    data[1] === kplMagic[1] &&
    data[2] === kplMagic[2] &&
    data[3] === kplMagic[3]
  );
}

export type OpenedEnvelope =
  | { readonly body: Uint8Array; readonly problem?: undefined }
  | { readonly body?: undefined; readonly problem: "truncated" | "bad_checksum" };

/** The body of data that starts with the magic bytes, if its MD5 matches. */
export function openEnvelope(data: Uint8Array): OpenedEnvelope {
  if (data.length < envelopeBytes) return { problem: "truncated" };
  const body = data.subarray(kplMagic.length, data.length - digestBytes);
  const expected = data.subarray(data.length - digestBytes);
  const actual = createHash("md5").update(body).digest();
  return actual.equals(expected) ? { body } : { problem: "bad_checksum" };
}

export function sealEnvelope(body: Uint8Array): Uint8Array {
  const sealed = new Uint8Array(envelopeBytes + body.length);
  sealed.set(kplMagic, 0);
  sealed.set(body, kplMagic.length);
  sealed.set(createHash("md5").update(body).digest(), kplMagic.length + body.length);
  return sealed;
}
