/**
 * Shared helpers for the wasm@1.0 device tests: compile WAT inline (wabt, through the
 * examples' build script), build process contexts and steps the way the process layer will.
 */
import { message, messageId, sha256Id, type Message } from "../../../src/core/message.js";
import {
  moduleFromBytes,
  type DeviceInstance,
  type ProcessContext,
  type Step,
  type StepOutcome,
} from "../../../src/device/device.js";
import { compileWat } from "../../../examples/build.mjs";

export { compileCounterAs, compileKvWat, compileWat } from "../../../examples/build.mjs";

/** Compiles an inline WAT module. */
export function wat(source: string): Promise<Uint8Array> {
  return compileWat(source, "inline.wat");
}

/** A process context for a module, as Spawn would build it (Module tag filled in). */
export function processFor(module: Uint8Array, tags: Record<string, string> = {}): ProcessContext {
  const spawn = message({ "Execution-Device": "wasm@1.0", Module: sha256Id(module), ...tags });
  return { processId: messageId(spawn), spawn, module: moduleFromBytes(module) };
}

/** Slot 0 of a process: its spawn message, with the process id as message id. */
export function initStep(ctx: ProcessContext): Step {
  return { slot: 0n, messageId: ctx.processId, message: ctx.spawn };
}

/** Steps for `messages` starting at `slot`. */
export function stepsFrom(slot: bigint, messages: Message[]): Step[] {
  return messages.map((msg, i) => ({ slot: slot + BigInt(i), messageId: messageId(msg), message: msg }));
}

/** A key-value message for the kv examples. */
export function kv(action: string, key?: string, value?: string): Message {
  const tags: Record<string, string> = { Action: action };
  if (key !== undefined) tags["Key"] = key;
  if (value !== undefined) tags["Value"] = value;
  return message(tags);
}

/** The output tags of a successful outcome; throws with the error otherwise. */
export function tagsOf(outcome: StepOutcome | undefined): Record<string, string> {
  if (!outcome) throw new Error("no outcome");
  if ("error" in outcome) throw new Error(`step failed: ${outcome.error}`);
  return outcome.output.tags;
}

/** The error of a failed outcome; throws if it succeeded. */
export function errorOf(outcome: StepOutcome | undefined): string {
  if (!outcome) throw new Error("no outcome");
  if (!("error" in outcome)) throw new Error(`step succeeded: ${JSON.stringify(outcome.output.tags)}`);
  return outcome.error;
}

/** Runs one step and returns its outcome. */
export async function runOne(instance: DeviceInstance, step: Step): Promise<StepOutcome> {
  const [outcome] = await instance.run([step]);
  if (!outcome) throw new Error("run returned no outcome");
  return outcome;
}

/** Two process ids of the same module that the device places on different lanes. */
export function onDifferentLanes(
  module: Uint8Array,
  laneOf: (processId: string) => number,
): [ProcessContext, ProcessContext] {
  const first = processFor(module, { Name: "0" });
  for (let i = 1; i < 1000; i++) {
    const other = processFor(module, { Name: String(i) });
    if (laneOf(other.processId) !== laneOf(first.processId)) return [first, other];
  }
  throw new Error("no two lanes found");
}

/**
 * A test process whose behaviour is picked by the first letter of its `Do` tag:
 * count (default) adds 1 to a counter kept twice, in a non-exported global ($n) and in
 * memory (address 256), and answers {"tags":{"N":"<global>","M":"<memory>"}};
 * trap / error / abort / badjson / oob first add 1 to both counters, then fail in that way
 * (unreachable, an {"error"} output, env.abort, output that is not JSON, an output pointer
 * outside memory); loop never returns; grow calls memory.grow(1) until it returns -1 and
 * answers {"tags":{"Pages":"<memory.size>"}}. No pw_init: slot 0's output is empty.
 */
export const PROBE_WAT = `
(module
  (import "env" "abort" (func $abort (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (global $n (mut i32) (i32.const 0))
  (data (i32.const 0) "\\"Do\\":\\"")                      ;; 0 +6
  (data (i32.const 8) "{\\"tags\\":{\\"N\\":\\"")          ;; 8 +14
  (data (i32.const 24) "\\",\\"M\\":\\"")                  ;; 24 +7
  (data (i32.const 32) "\\"}}")                           ;; 32 +3
  (data (i32.const 40) "{\\"error\\":\\"asked to fail\\"}") ;; 40 +25
  (data (i32.const 72) "not json")                       ;; 72 +8
  (data (i32.const 80) "{\\"tags\\":{\\"Pages\\":\\"")     ;; 80 +18
  (func $eq (param $a i32) (param $b i32) (param $n i32) (result i32)
    (local $i i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (if (i32.ne (i32.load8_u (i32.add (local.get $a) (local.get $i))) (i32.load8_u (i32.add (local.get $b) (local.get $i))))
        (then (return (i32.const 0))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i32.const 1))
  (func $put (param $dst i32) (param $src i32) (param $n i32) (result i32)
    (memory.copy (local.get $dst) (local.get $src) (local.get $n))
    (i32.add (local.get $dst) (local.get $n)))
  (func $put_u32 (param $dst i32) (param $v i32) (result i32)
    (local $len i32) (local $t i32) (local $i i32)
    (local.set $len (i32.const 1)) (local.set $t (local.get $v))
    (block $c (loop $m
      (br_if $c (i32.lt_u (local.get $t) (i32.const 10)))
      (local.set $t (i32.div_u (local.get $t) (i32.const 10)))
      (local.set $len (i32.add (local.get $len) (i32.const 1)))
      (br $m)))
    (local.set $i (local.get $len)) (local.set $t (local.get $v))
    (loop $d
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (i32.add (local.get $dst) (local.get $i)) (i32.add (i32.const 48) (i32.rem_u (local.get $t) (i32.const 10))))
      (local.set $t (i32.div_u (local.get $t) (i32.const 10)))
      (br_if $d (local.get $i)))
    (i32.add (local.get $dst) (local.get $len)))
  (func $out (param $start i32) (param $end i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $start)) (i64.const 32))
            (i64.extend_i32_u (i32.sub (local.get $end) (local.get $start)))))
  (func (export "pw_alloc") (param $len i32) (result i32) (i32.const 1024))
  (func (export "pw_handle") (param $ptr i32) (param $len i32) (result i64)
    (local $p i32) (local $c i32) (local $o i32)
    (local.set $c (i32.const 99)) ;; 'c'
    (block $found (loop $scan
      (br_if $found (i32.gt_u (i32.add (local.get $p) (i32.const 7)) (local.get $len)))
      (if (call $eq (i32.add (local.get $ptr) (local.get $p)) (i32.const 0) (i32.const 6))
        (then (local.set $c (i32.load8_u (i32.add (i32.add (local.get $ptr) (local.get $p)) (i32.const 6)))) (br $found)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $scan)))
    (if (i32.eq (local.get $c) (i32.const 108)) ;; 'l'
      (then (loop $forever (br $forever))))
    (if (i32.eq (local.get $c) (i32.const 103)) ;; 'g'
      (then
        (block $full (loop $grow
          (br_if $full (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
          (br $grow)))
        (local.set $o (call $put (i32.const 512) (i32.const 80) (i32.const 18)))
        (local.set $o (call $put_u32 (local.get $o) (memory.size)))
        (local.set $o (call $put (local.get $o) (i32.const 32) (i32.const 3)))
        (return (call $out (i32.const 512) (local.get $o)))))
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (i32.store (i32.const 256) (i32.add (i32.load (i32.const 256)) (i32.const 1)))
    (if (i32.eq (local.get $c) (i32.const 116)) (then unreachable)) ;; 't'
    (if (i32.eq (local.get $c) (i32.const 101)) (then (return (call $out (i32.const 40) (i32.const 65))))) ;; 'e'
    (if (i32.eq (local.get $c) (i32.const 97)) ;; 'a'
      (then (call $abort (i32.const 0) (i32.const 0) (i32.const 7) (i32.const 9)) (unreachable)))
    (if (i32.eq (local.get $c) (i32.const 98)) (then (return (call $out (i32.const 72) (i32.const 80))))) ;; 'b'
    (if (i32.eq (local.get $c) (i32.const 111)) (then (return (i64.const 0xFFFFFF0000000064)))) ;; 'o'
    (local.set $o (call $put (i32.const 512) (i32.const 8) (i32.const 14)))
    (local.set $o (call $put_u32 (local.get $o) (global.get $n)))
    (local.set $o (call $put (local.get $o) (i32.const 24) (i32.const 7)))
    (local.set $o (call $put_u32 (local.get $o) (i32.load (i32.const 256))))
    (local.set $o (call $put (local.get $o) (i32.const 32) (i32.const 3)))
    (call $out (i32.const 512) (local.get $o))))
`;

/** A message for the probe module. */
export function probe(what: string): Message {
  return message({ Do: what });
}
