/**
 * The wasm@1.0 process the benchmarks use: a counter in WAT on the ABI of
 * docs/wasm-abi.md (pw_alloc, pw_handle; JSON in, JSON out; no pw_init, so slot 0's output
 * is empty). Each message adds its `Amount` tag (default 1) to a non-exported i64 global and
 * answers {"tags":{"Total":"<total>"}}. A `Grow` tag grows the memory to that many 64 KiB
 * pages first (for the 64 MiB snapshot figure).
 */
import wabtInit from "wabt";

export const COUNTER_WAT = String.raw`
(module
  (memory (export "memory") 1)
  (global $total (mut i64) (i64.const 0))
  (data (i32.const 0) "\"Amount\":\"")                        ;; 0 +10
  (data (i32.const 16) "\"Grow\":\"")                         ;; 16 +8
  (data (i32.const 32) "{\"tags\":{\"Total\":\"")             ;; 32 +18
  (data (i32.const 64) "\"}}")                                ;; 64 +3
  (data (i32.const 80) "{\"error\":\"memory.grow failed\"}")  ;; 80 +31

  ;; 1 if [a, a+n) equals [b, b+n)
  (func $eq (param $a i32) (param $b i32) (param $n i32) (result i32)
    (local $i i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (if (i32.ne (i32.load8_u (i32.add (local.get $a) (local.get $i)))
                  (i32.load8_u (i32.add (local.get $b) (local.get $i))))
        (then (return (i32.const 0))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i32.const 1))

  ;; address of the first [pat, pat+n) in [p, end), or -1
  (func $find (param $p i32) (param $end i32) (param $pat i32) (param $n i32) (result i32)
    (block $none (loop $next
      (br_if $none (i32.gt_u (i32.add (local.get $p) (local.get $n)) (local.get $end)))
      (if (call $eq (local.get $p) (local.get $pat) (local.get $n)) (then (return (local.get $p))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $next)))
    (i32.const -1))

  ;; the decimal number whose digits start at $p
  (func $num (param $p i32) (param $end i32) (result i64)
    (local $v i64) (local $c i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $c (i32.sub (i32.load8_u (local.get $p)) (i32.const 48)))
      (br_if $done (i32.gt_u (local.get $c) (i32.const 9)))
      (local.set $v (i64.add (i64.mul (local.get $v) (i64.const 10)) (i64.extend_i32_u (local.get $c))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $next)))
    (local.get $v))

  ;; writes $v in decimal at $dst; returns the end
  (func $put_u64 (param $dst i32) (param $v i64) (result i32)
    (local $len i32) (local $t i64) (local $i i32)
    (local.set $len (i32.const 1)) (local.set $t (local.get $v))
    (block $c (loop $m
      (br_if $c (i64.lt_u (local.get $t) (i64.const 10)))
      (local.set $t (i64.div_u (local.get $t) (i64.const 10)))
      (local.set $len (i32.add (local.get $len) (i32.const 1)))
      (br $m)))
    (local.set $i (local.get $len)) (local.set $t (local.get $v))
    (loop $d
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i64.store8 (i32.add (local.get $dst) (local.get $i))
                  (i64.add (i64.const 48) (i64.rem_u (local.get $t) (i64.const 10))))
      (local.set $t (i64.div_u (local.get $t) (i64.const 10)))
      (br_if $d (local.get $i)))
    (i32.add (local.get $dst) (local.get $len)))

  (func (export "pw_alloc") (param $len i32) (result i32) (i32.const 4096))

  (func (export "pw_handle") (param $ptr i32) (param $len i32) (result i64)
    (local $end i32) (local $at i32) (local $amount i64) (local $pages i32) (local $o i32)
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))
    (local.set $amount (i64.const 1))
    (local.set $at (call $find (local.get $ptr) (local.get $end) (i32.const 0) (i32.const 10)))
    (if (i32.ge_s (local.get $at) (i32.const 0))
      (then (local.set $amount (call $num (i32.add (local.get $at) (i32.const 10)) (local.get $end)))))
    (local.set $at (call $find (local.get $ptr) (local.get $end) (i32.const 16) (i32.const 8)))
    (if (i32.ge_s (local.get $at) (i32.const 0))
      (then
        (local.set $pages (i32.wrap_i64 (call $num (i32.add (local.get $at) (i32.const 8)) (local.get $end))))
        (if (i32.gt_u (local.get $pages) (memory.size))
          (then
            (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
              (then (return (i64.or (i64.shl (i64.const 80) (i64.const 32)) (i64.const 31)))))))))
    (global.set $total (i64.add (global.get $total) (local.get $amount)))
    (memory.copy (i32.const 2048) (i32.const 32) (i32.const 18))
    (local.set $o (call $put_u64 (i32.const 2066) (global.get $total)))
    (memory.copy (local.get $o) (i32.const 64) (i32.const 3))
    (i64.or (i64.shl (i64.const 2048) (i64.const 32))
            (i64.extend_i32_u (i32.sub (i32.add (local.get $o) (i32.const 3)) (i32.const 2048))))))
`;

/** The counter module's bytes (compiled with wabt). */
export async function compileCounterWat(): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const parsed = wabt.parseWat("bench-counter.wat", COUNTER_WAT, { bulk_memory: true, mutable_globals: true });
  try {
    parsed.resolveNames();
    parsed.validate();
    return parsed.toBinary({}).buffer;
  } finally {
    parsed.destroy();
  }
}

/**
 * The raw baseline: the same module instantiated on the main thread, called directly. Views
 * of memory are cached (rebuilt only if memory grows), as a careful host would.
 */
export async function rawInstance(bytes: Uint8Array): Promise<(input: Uint8Array) => Uint8Array> {
  const { instance } = await WebAssembly.instantiate(bytes, {});
  const memory = instance.exports["memory"] as WebAssembly.Memory;
  const alloc = instance.exports["pw_alloc"] as (len: number) => number;
  const handle = instance.exports["pw_handle"] as (ptr: number, len: number) => bigint;
  let view = new Uint8Array(memory.buffer);
  return (input) => {
    const ptr = alloc(input.byteLength);
    if (view.buffer !== memory.buffer) view = new Uint8Array(memory.buffer);
    view.set(input, ptr);
    const result = handle(ptr, input.byteLength);
    if (view.buffer !== memory.buffer) view = new Uint8Array(memory.buffer);
    const outPtr = Number(result >> 32n);
    const outLen = Number(result & 0xffffffffn);
    return view.slice(outPtr, outPtr + outLen);
  };
}
