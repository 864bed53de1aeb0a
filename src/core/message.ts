/**
 * Messages and their ids (docs/design.md §1.1). A message is tags + data; its id is the
 * base64url (no padding) SHA-256 of a canonical encoding, so equal messages have equal
 * ids in every language and spawning the same definition twice is idempotent.
 */
import { createHash } from "node:crypto";
import { ByteWriter } from "./byte-writer.js";

/** A message: case-sensitive string tags and opaque bytes. */
export interface Message {
  tags: Record<string, string>;
  data: Uint8Array;
}

const utf8 = new TextEncoder();
/** UTF-16 surrogates: the only code units whose order differs from UTF-8 byte order. */
const SURROGATE = /[\uD800-\uDFFF]/;
/** The scratch buffer canonicalBytes and messageId encode into. */
const scratch = new ByteWriter();

/** Builds a message; a convenience for code and tests. */
export function message(tags: Record<string, string> = {}, data: Uint8Array | string = new Uint8Array()): Message {
  return { tags: { ...tags }, data: typeof data === "string" ? utf8.encode(data) : data };
}

/**
 * Tag names in ascending order of their UTF-8 bytes (not of UTF-16 code units). Without
 * surrogates (code points below U+10000), UTF-16 code unit order is code point order, which
 * is UTF-8 byte order, so the plain sort is exact; names with surrogates are compared as
 * UTF-8 bytes.
 */
export function sortedTagNames(tags: Record<string, string>): string[] {
  const names = Object.keys(tags);
  if (names.length < 2) return names;
  if (!names.some((name) => SURROGATE.test(name))) return names.sort();
  return names
    .map((name) => ({ name, bytes: Buffer.from(name, "utf8") }))
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
    .map((entry) => entry.name);
}

/**
 * The message with its tags inserted in canonical order (ascending UTF-8 bytes of their
 * names), as a message decoded from the store has them: so a result's tags iterate alike —
 * and it encodes to the same protobuf bytes — whether it is served live or read back. The
 * message itself when it has fewer than two tags or they are in that order already.
 */
export function inCanonicalOrder(msg: Message): Message {
  const names = Object.keys(msg.tags);
  if (names.length < 2) return msg;
  const sorted = sortedTagNames(msg.tags);
  if (sorted.every((name, i) => name === names[i])) return msg;
  const tags: Record<string, string> = {};
  for (const name of sorted) {
    const value = msg.tags[name] as string;
    // A tag named "__proto__" stays a tag (an own data property), as the store's decoder keeps it.
    if (name === "__proto__")
      Object.defineProperty(tags, name, { value, enumerable: true, writable: true, configurable: true });
    else tags[name] = value;
  }
  return { tags, data: msg.data };
}

/**
 * Writes the canonical bytes of a message: u32be(tag count), then per tag in ascending UTF-8
 * order u32be(len) name u32be(len) value, then u64be(len(data)) data.
 */
export function writeCanonical(w: ByteWriter, msg: Message): void {
  const names = sortedTagNames(msg.tags);
  w.u32(names.length);
  for (const name of names) w.str(name).str(msg.tags[name] ?? "");
  w.u64Length(msg.data.byteLength).bytes(msg.data);
}

/** The canonical bytes of a message (see writeCanonical), in a fresh buffer. */
export function canonicalBytes(msg: Message): Buffer {
  writeCanonical(scratch.reset(), msg);
  return scratch.copy();
}

/** The id of a message: base64url-without-padding(SHA-256(canonical bytes)). */
export function messageId(msg: Message): string {
  writeCanonical(scratch.reset(), msg);
  return sha256Id(scratch.view());
}

/** base64url-without-padding(SHA-256(bytes)); module ids use it on the module bytes. */
export function sha256Id(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("base64url");
}

/** True when `id` has the shape of an id: 43 base64url characters (a SHA-256 digest). */
export function isId(id: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(id);
}
