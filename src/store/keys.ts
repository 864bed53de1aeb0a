/**
 * The on-disk key layout: the one place that decides how keys are built. Every key is
 * binary and compared bytewise (LMDB's default order), so ranges are plain byte ranges.
 *
 * | kind | byte | key                                      | value (see codec.ts)        |
 * |------|------|------------------------------------------|-----------------------------|
 * | process  | 0x01 | kind, u8 len, process id             | encodeMessage(spawn)        |
 * | module   | 0x02 | kind, u8 len, module id              | raw module bytes            |
 * | schedule | 0x03 | kind, u8 len, process id, u64be slot | encodeScheduleEntry(entry)  |
 * | result   | 0x04 | kind, u8 len, process id, u64be slot | encodeResult(result)        |
 * | snapshot | 0x05 | kind, u8 len, process id, u64be slot | raw state bytes             |
 *
 * Ids are UTF-8 with a one-byte length prefix, so one process's keys never fall inside
 * another's range ("ab" vs "abc"). Slots are unsigned 64-bit big-endian, so byte order is
 * numeric order across every boundary (2^32, 2^53, 2^64−1), exactly, as bigint.
 */
import { invalidArgument } from "../core/errors.js";

/** The kinds of record, one leading byte each. Never renumber: it is the disk format. */
export const KeyKind = {
  process: 0x01,
  module: 0x02,
  schedule: 0x03,
  result: 0x04,
  snapshot: 0x05,
} as const;
export type KeyKind = (typeof KeyKind)[keyof typeof KeyKind];

/** The kinds whose keys end in a slot. */
export type SlotKind = typeof KeyKind.schedule | typeof KeyKind.result | typeof KeyKind.snapshot;

export { MAX_SLOT } from "../core/result.js";
import { MAX_SLOT } from "../core/result.js";

/** The longest id, in UTF-8 bytes, that fits the one-byte length prefix. */
export const MAX_ID_BYTES = 255;

const TWO_32 = 2 ** 32;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** The last prefix built for each kind (indexed by kind): a worker writes and reads one
 * process's keys in a row, so its id is encoded and checked once, not once per key. Never
 * handed out (callers get copies). */
const lastPrefix: ({ id: string; prefix: Buffer } | undefined)[] = [];

/** The key of a record named by an id alone (process definition, module). */
export function idKey(kind: typeof KeyKind.process | typeof KeyKind.module, id: string): Buffer {
  return prefixKey(kind, id);
}

/** `kind, len, id`: the shared prefix of every slot key of one process (and the key of an
 * id record). It sorts before every slot key that extends it. A fresh buffer each call. */
export function prefixKey(kind: KeyKind, id: string): Buffer {
  return Buffer.from(cachedPrefix(kind, id));
}

/** The key of a slot record: prefix then u64be(slot). Rejects slots outside 0..2^64−1. */
export function slotKey(kind: SlotKind, processId: string, slot: bigint): Buffer {
  checkSlot(slot);
  const prefix = cachedPrefix(kind, processId);
  const key = Buffer.allocUnsafe(prefix.length + 8);
  prefix.copy(key, 0);
  if (slot <= MAX_SAFE) {
    const n = Number(slot);
    key.writeUInt32BE(Math.floor(n / TWO_32), prefix.length);
    key.writeUInt32BE(n >>> 0, prefix.length + 4);
  } else key.writeBigUInt64BE(slot, prefix.length);
  return key;
}

function cachedPrefix(kind: KeyKind, id: string): Buffer {
  const last = lastPrefix[kind];
  if (last !== undefined && last.id === id) return last.prefix;
  const idBytes = checkId(id);
  const prefix = Buffer.alloc(2 + idBytes.length);
  prefix[0] = kind;
  prefix[1] = idBytes.length;
  idBytes.copy(prefix, 2);
  lastPrefix[kind] = { id, prefix };
  return prefix;
}

/** A key strictly after `slotKey(kind, id, slot)` and before the next slot's key, to use as
 * an exclusive range end that includes `slot` (works at 2^64−1 too, where slot+1 cannot). */
export function slotKeyAfter(kind: SlotKind, processId: string, slot: bigint): Buffer {
  const key = slotKey(kind, processId, slot);
  const after = Buffer.alloc(key.length + 1);
  key.copy(after, 0);
  return after;
}

/** The slot at the end of a slot key. */
export function slotOfKey(key: Uint8Array): bigint {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).readBigUInt64BE(key.byteLength - 8);
}

/** The UTF-8 bytes of an id; throws `invalid_argument` unless they are 1 to 255 bytes. */
export function checkId(id: string): Buffer {
  const idBytes = Buffer.from(typeof id === "string" ? id : "", "utf8");
  if (idBytes.length === 0 || idBytes.length > MAX_ID_BYTES) {
    throw invalidArgument(`id must be 1 to ${MAX_ID_BYTES} UTF-8 bytes, got ${idBytes.length}`);
  }
  return idBytes;
}

/** Throws an `invalid_argument` ProcworkerError unless 0 ≤ slot ≤ 2^64−1. */
export function checkSlot(slot: bigint): void {
  if (typeof slot !== "bigint" || slot < 0n || slot > MAX_SLOT) {
    throw invalidArgument(`slot must be an unsigned 64-bit bigint, got ${String(slot)}`);
  }
}
