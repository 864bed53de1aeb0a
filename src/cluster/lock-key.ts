/**
 * The advisory lock key of a process: the first 8 bytes of its id (a base64url SHA-256
 * digest, so already uniformly spread) as a signed 64-bit integer, the form
 * `pg_try_advisory_lock(bigint)` takes. pg_locks shows such a key as `classid` (the high 32
 * bits) and `objid` (the low 32 bits) with `objsubid` 1.
 */
import { createHash } from "node:crypto";

export interface LockKey {
  /** The key for pg_try_advisory_lock / pg_advisory_unlock, as a decimal string. */
  key: string;
  /** The same key as pg_locks shows it. */
  classid: number;
  objid: number;
}

/** The key of `processId`. Ids that are not base64url digests (never stored, but possible
 * in a request) are hashed first, so every string has a key. */
export function lockKeyOf(processId: string): LockKey {
  let bytes = Buffer.from(processId, "base64url");
  if (bytes.length < 8 || bytes.toString("base64url") !== processId) {
    bytes = createHash("sha256").update(processId).digest();
  }
  return {
    key: bytes.readBigInt64BE(0).toString(),
    classid: bytes.readUInt32BE(0),
    objid: bytes.readUInt32BE(4),
  };
}
