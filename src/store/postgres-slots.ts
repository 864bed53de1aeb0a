/**
 * How an unsigned 64-bit slot is kept in PostgreSQL, whose `bigint` is signed: the stored
 * value is `slot − 2^63`. The mapping is a bijection from 0..2^64−1 onto the whole bigint
 * range and it preserves order, so primary keys, `ORDER BY slot`, `max(slot)` and range
 * predicates work on the stored column unchanged, at 8 bytes per slot. Values travel as
 * decimal text (node-postgres returns int8 as a string), never as a JavaScript number.
 */
import { checkSlot } from "./keys.js";

const OFFSET = 2n ** 63n;

/** The stored bigint (decimal text) of a slot; throws `invalid_argument` outside 0..2^64−1. */
export function toDbSlot(slot: bigint): string {
  checkSlot(slot);
  return (slot - OFFSET).toString();
}

/** The slot of a stored bigint, as node-postgres returns it (decimal text). */
export function fromDbSlot(stored: string): bigint {
  return BigInt(stored) + OFFSET;
}
