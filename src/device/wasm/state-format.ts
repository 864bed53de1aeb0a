/**
 * The wasm@1.0 state image: linear memory plus every mutable global, with a small header
 * so an image is checked before it is imported (docs/wasm-abi.md, "Snapshots"). All
 * integers little-endian:
 *
 *   0   4   magic "PWS1"
 *   4   4   u32 format version (1)
 *   8   32  SHA-256 of the module's original bytes
 *   40  4   u32 memory size in 64 KiB pages (P)
 *   44  4   u32 number of mutable globals (G)
 *   48  G   one value-type byte per global (0x7f i32, 0x7e i64, 0x7d f32, 0x7c f64), padded to 8
 *   ..  8G  each global's bits as 64 bits (i32/f32 in the low half, high half zero)
 *   ..  P × 65536 memory bytes
 *
 * The same layout is used for exported snapshots and for the thread's rollback checkpoints.
 */
import type { GlobalType, ModuleLayout } from "./protocol.js";

/** Bytes in a WebAssembly memory page. */
export const PAGE_BYTES = 65536;
const MAGIC = 0x31535750; // "PWS1" read as a little-endian u32
const VERSION = 1;
const HEADER_BYTES = 48;

const TYPE_CODES: Record<GlobalType, number> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c };

/** Where the parts of an image with `globals` globals start. */
export function imageLayout(globals: number): { globalsAt: number; memoryAt: number } {
  const typesEnd = HEADER_BYTES + globals;
  const globalsAt = Math.ceil(typesEnd / 8) * 8;
  return { globalsAt, memoryAt: globalsAt + 8 * globals };
}

/** Total bytes of an image for this module with `pages` pages of memory. */
export function imageBytes(layout: ModuleLayout, pages: number): number {
  return imageLayout(layout.globals.length).memoryAt + pages * PAGE_BYTES;
}

/** Writes the header and global types; the caller fills global bits and memory. */
export function writeImageHeader(target: Uint8Array, layout: ModuleLayout, pages: number): void {
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, VERSION, true);
  target.set(layout.moduleHash, 8);
  view.setUint32(40, pages, true);
  view.setUint32(44, layout.globals.length, true);
  layout.globals.forEach((global, i) => target.set([TYPE_CODES[global.type]], HEADER_BYTES + i));
}

/**
 * Checks that `image` is a complete state of this module and returns its memory size in
 * pages; throws an Error saying what is wrong otherwise. Runs before any copy into a thread.
 */
export function checkImage(image: Uint8Array, layout: ModuleLayout): number {
  if (image.byteLength < HEADER_BYTES) throw new Error(`state is ${image.byteLength} bytes, shorter than its header`);
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new Error('state does not start with the wasm@1.0 magic "PWS1"');
  const version = view.getUint32(4, true);
  if (version !== VERSION) throw new Error(`state format version ${version} is not supported (want ${VERSION})`);
  const hash = image.subarray(8, 40);
  if (!hash.every((byte, i) => byte === layout.moduleHash[i])) {
    throw new Error("state belongs to a different module");
  }
  const pages = view.getUint32(40, true);
  const globals = view.getUint32(44, true);
  if (globals !== layout.globals.length) {
    throw new Error(`state has ${globals} mutable globals; the module has ${layout.globals.length}`);
  }
  layout.globals.forEach((global, i) => {
    if (image[HEADER_BYTES + i] !== TYPE_CODES[global.type])
      throw new Error(`state's global ${i} is not ${global.type}`);
  });
  if (pages > layout.maxPages) {
    throw new Error(`state has ${pages} memory pages; the limit for this module is ${layout.maxPages}`);
  }
  const expected = imageBytes(layout, pages);
  if (image.byteLength !== expected) {
    throw new Error(`state is ${image.byteLength} bytes; a state of ${pages} pages is ${expected}`);
  }
  return pages;
}
