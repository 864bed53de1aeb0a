/**
 * How the LMDB store reads values without lmdb-js copying each one first. Given an `encoder`
 * with `decode`, lmdb-js hands `decode` its reusable read buffer (valid only until the next
 * read) and the value's size, instead of a fresh copy of the bytes. The store's values are of
 * several kinds, so the decoding is chosen per read: inside `readWith(decode, read)` every
 * value read is decoded straight from that buffer into fresh objects (the codec.ts decoders
 * copy everything they keep); any other read gets a plain copy of the bytes, as lmdb-js's
 * `encoding: "binary"` returns.
 */

/** Turns the bytes `[0, size)` of a reusable buffer into a value that does not alias it. */
export type ValueDecoder<T> = (bytes: Buffer, size: number) => T;

/** The lmdb-js `encoder` option of the store, and the way to read with a decoder. */
export interface LmdbValues {
  encoder: { encode(value: Uint8Array): Uint8Array; decode(bytes: Buffer, size?: unknown): unknown };
  /** Runs `read` (synchronous lmdb-js reads) with `decode` turning each value read. */
  readWith<T>(decode: ValueDecoder<unknown>, read: () => T): T;
}

/** A copy of `[0, size)` of a reusable buffer (through a view: lmdb-js's buffer reports its
 * value's size as its length, which Buffer#copy does not expect). */
function copyOf(bytes: Buffer, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(bytes.subarray(0, size));
  return out;
}

export function lmdbValues(): LmdbValues {
  let current: ValueDecoder<unknown> = copyOf;
  return {
    encoder: {
      encode: (value) => value,
      // Range reads pass the size; single gets pass options, and the buffer's length is set
      // to the value's size.
      decode: (bytes, size) => current(bytes, typeof size === "number" ? size : bytes.length),
    },
    readWith(decode, read) {
      const before = current;
      current = decode;
      try {
        return read();
      } finally {
        current = before;
      }
    },
  };
}
