/**
 * Messages and their ids (docs/design.md §1.1). A message is tags + data; its id is the
 * base64url (no padding) SHA-256 of a canonical encoding, so equal messages have equal
 * ids in every language and spawning the same definition twice is idempotent.
 */
import { createHash } from "node:crypto";

/** A message: case-sensitive string tags and opaque bytes. */
export interface Message {
  tags: Record<string, string>;
  data: Uint8Array;
}

const utf8 = new TextEncoder();

/** Builds a message; a convenience for code and tests. */
export function message(tags: Record<string, string> = {}, data: Uint8Array | string = new Uint8Array()): Message {
  return { tags: { ...tags }, data: typeof data === "string" ? utf8.encode(data) : data };
}

/** Tag names in ascending order of their UTF-8 bytes (not of UTF-16 code units). */
export function sortedTagNames(tags: Record<string, string>): string[] {
  return Object.keys(tags)
    .map((name) => ({ name, bytes: Buffer.from(name, "utf8") }))
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
    .map((entry) => entry.name);
}

/**
 * The canonical bytes of a message: u32be(tag count), then per tag in ascending UTF-8
 * order u32be(len) name u32be(len) value, then u64be(len(data)) data.
 */
export function canonicalBytes(msg: Message): Buffer {
  const names = sortedTagNames(msg.tags);
  const parts: Buffer[] = [u32(names.length)];
  for (const name of names) {
    const n = Buffer.from(name, "utf8");
    const v = Buffer.from(msg.tags[name] ?? "", "utf8");
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  const len = Buffer.alloc(8);
  len.writeBigUInt64BE(BigInt(msg.data.byteLength));
  parts.push(len, Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength));
  return Buffer.concat(parts);
}

/** The id of a message: base64url-without-padding(SHA-256(canonical bytes)). */
export function messageId(msg: Message): string {
  return sha256Id(canonicalBytes(msg));
}

/** base64url-without-padding(SHA-256(bytes)); module ids use it on the module bytes. */
export function sha256Id(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("base64url");
}

/** True when `id` has the shape of an id: 43 base64url characters (a SHA-256 digest). */
export function isId(id: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(id);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
