/**
 * The messages between the main thread and a wasm worker thread: a tagged union with a
 * request id, answered exactly once (or rejected by the host when the thread exits).
 * Batches of steps and of outcomes cross as one transferred ArrayBuffer each; memories cross
 * as SharedArrayBuffer checkpoints (shared, immutable once written) or transferred buffers.
 * Nothing per slot is ever structured-cloned.
 */
import type { RollbackPoint } from "./rollback-log.js";

/** A mutable global's value type; other types (v128, references) are refused at Spawn. */
export type GlobalType = "i32" | "i64" | "f32" | "f64";

/** What the host knows about a prepared (validated and rewritten) module. Plain data, so
 * it can be posted to threads beside the compiled `WebAssembly.Module`. */
export interface ModuleLayout {
  /** SHA-256 of the module's original bytes: a state image names the module it belongs to. */
  moduleHash: Uint8Array;
  /** Every mutable global, in module order; `export` is the reserved name the rewritten
   * module exports it under (f32/f64: `<export>_get` / `<export>_set` accessors, so their
   * bits are read and written exactly). */
  globals: { type: GlobalType; export: string }[];
  /** Whether the module exports `pw_init`. */
  hasInit: boolean;
  /** Memory pages at instantiation and the enforced maximum (64 KiB pages). */
  initialPages: number;
  maxPages: number;
}

/** Per-runner limits the thread applies. */
export interface RunnerLimits {
  /** Take a checkpoint at least every this many successful steps. */
  maxReplaySteps: number;
  /** An output longer than this fails its slot. */
  maxOutputBytes: number;
}

/** Requests the main thread sends; `id` is unique per thread. A `runner` number names one
 * process's runner on that thread (runner.ts). */
export type ThreadRequest =
  /** Validate, rewrite, compile and probe-instantiate module bytes (the compiler thread). */
  | { kind: "prepare"; id: number; bytes: Uint8Array; maxPages: number }
  /** (Re)build a runner from a rollback point. Replaces any runner with the same number. */
  | {
      kind: "create";
      id: number;
      runner: number;
      processId: string;
      module: WebAssembly.Module;
      layout: ModuleLayout;
      rollback: RollbackPoint;
      limits: RunnerLimits;
    }
  /** Run a packed batch of steps (step-batch.ts, transferred) in order. `dry`: evaluate each
   * step against the current state and keep nothing of it. */
  | { kind: "run"; id: number; runner: number; batch: ArrayBuffer; dry: boolean }
  /** Export the whole state into a transferred buffer. */
  | { kind: "export"; id: number; runner: number }
  /** Drop a runner. */
  | { kind: "close"; id: number; runner: number }
  /** Test hook: end the thread abruptly (as a crash would). */
  | { kind: "crash"; id: number };

/** Distributes `Omit` over the union, so a request can be written without its id. */
export type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;

/** A new checkpoint and log, sent only when the thread started them. */
export interface RollbackBuffers {
  checkpoint: SharedArrayBuffer | null;
  log: SharedArrayBuffer;
}

/** Answers from the thread. `ran.outcomes` is a packed outcome batch (outcome-batch.ts,
 * transferred), which also carries the memory size and the confirmed log length. */
export type ThreadResponse =
  | { kind: "prepared"; id: number; module: WebAssembly.Module; layout: ModuleLayout }
  | { kind: "created"; id: number; memoryBytes: number; rollback: RollbackPoint }
  | { kind: "ran"; id: number; outcomes: ArrayBuffer; rollback: RollbackBuffers | undefined }
  | { kind: "exported"; id: number; state: Uint8Array }
  | { kind: "closed"; id: number }
  | { kind: "failed"; id: number; code: "invalid_argument" | "internal"; message: string };

/**
 * The progress word a thread shares with the host, so the host can see which step has run
 * process code for how long without a message per step: Int32 [0] sequence, [1] busy flag,
 * [2] request id, [3] step index (-1: not a step, e.g. instantiation or replay); Float64 at
 * byte 16: when the current call into the module started (ms, `performance.timeOrigin + now()`).
 */
export const PROGRESS_BYTES = 24;

/** The progress word's fields (see PROGRESS_BYTES). */
export interface ProgressView {
  ints: Int32Array;
  started: Float64Array;
}

/** Typed views of a progress word. */
export function progressView(buffer: SharedArrayBuffer): ProgressView {
  return { ints: new Int32Array(buffer, 0, 4), started: new Float64Array(buffer, 16, 1) };
}

/** This thread's `performance.timeOrigin`, read once (the getter costs a call per step). */
const TIME_ORIGIN = performance.timeOrigin;

/** Milliseconds on a clock both threads share. */
export function sharedClockMs(): number {
  return TIME_ORIGIN + performance.now();
}
