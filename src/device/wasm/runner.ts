/**
 * One process's live module instance inside a worker thread: a runner. It stays alive
 * between slots, so a successful slot copies no memory. Rollback works from a checkpoint
 * (an immutable state image, state-format.ts, in a SharedArrayBuffer) plus the rollback log
 * of inputs that succeeded since (rollback-log.ts, shared with the host). Each input is
 * written once, in the log's free space, and committed there if its step succeeds. When a
 * step fails, or after a dry run, the module instance is thrown away and rebuilt from the
 * checkpoint and a replay of the log; a new checkpoint is taken when replaying would cost
 * more than REPLAY_BUDGET copies of memory.
 */
import { inputBound, inputPrefix, writeInput, writeOutcome } from "./abi.js";
import type { OutcomeWriter } from "./outcome-batch.js";
import type { ModuleLayout, ProgressView, RollbackBuffers, RunnerLimits } from "./protocol.js";
import { sharedClockMs } from "./protocol.js";
import { RollbackLog, type RollbackPoint } from "./rollback-log.js";
import { PAGE_BYTES, checkImage, imageBytes, imageLayout, writeImageHeader } from "./state-format.js";
import type { StepBatch } from "./step-batch.js";

/** Replaying the steps since the checkpoint may cost at most this many memory copies. */
const REPLAY_BUDGET = 16;
/** ...and at least this long before a checkpoint is worth taking (tiny memories). */
const MIN_REPLAY_MS = 4;
/** Bound on the input bytes kept in the rollback log. */
const MAX_LOG_BYTES = 8 * 1024 * 1024;

/** Marks when process code runs, for the host's time-limit watchdog (protocol.ts). */
export class ProgressMarker {
  constructor(private readonly view: ProgressView) {}

  /** Returns when the call started (sharedClockMs). */
  enter(requestId: number, stepIndex: number): number {
    const { ints, started } = this.view;
    ints[2] = requestId;
    ints[3] = stepIndex;
    const now = sharedClockMs();
    started[0] = now;
    Atomics.store(ints, 1, 1);
    Atomics.add(ints, 0, 1);
    return now;
  }

  leave(): void {
    Atomics.store(this.view.ints, 1, 0);
  }
}

/** Where a call's i64 result (pointer << 32 | length) is split into its halves. */
const RESULT = new DataView(new ArrayBuffer(8));

/** The module called env.abort (AssemblyScript's `abort()` and failed assertions). */
class AbortCalled extends Error {}

interface ModuleExports {
  memory: WebAssembly.Memory;
  pw_alloc(len: number): number;
  pw_handle(ptr: number, len: number): bigint;
  pw_init?(ptr: number, len: number): bigint;
  [name: string]: unknown;
}

/** A runner; see the file comment. Methods throw only when the runner itself is broken
 * (the host then discards it). */
export class Runner {
  private moduleInstance!: WebAssembly.Instance;
  private exports!: ModuleExports;
  private memoryView = new Uint8Array();
  /** False while a new module instance's start function runs (its exports are not there yet). */
  private ready = false;
  private checkpoint: SharedArrayBuffer | null;
  private log: RollbackLog;
  /** Time the logged steps took: what a replay of the log costs. */
  private logMs = 0;
  /** How long the last call into the module took (ms). */
  private callMs = 0;
  private bytesPerMs = 4_000_000;
  /** The checkpoint and log buffer the host last heard of: a new checkpoint or a log that
   * moved to a bigger buffer must be sent with the next answer. */
  private reported: { checkpoint: SharedArrayBuffer | null; log: SharedArrayBuffer };
  private readonly prefix: Uint8Array;

  constructor(
    private readonly module: WebAssembly.Module,
    private readonly layout: ModuleLayout,
    processId: string,
    private readonly progress: ProgressMarker,
    rollback: RollbackPoint,
    private readonly limits: RunnerLimits,
  ) {
    this.checkpoint = rollback.checkpoint;
    this.log = new RollbackLog(rollback.log, rollback.logBytes);
    this.reported = { checkpoint: rollback.checkpoint, log: rollback.log };
    this.prefix = inputPrefix(processId);
  }

  /** Builds the module instance from the rollback point (replaying the log), then takes a
   * checkpoint if the replay was long. */
  restore(requestId: number): void {
    const started = performance.now();
    this.rebuild(requestId);
    this.logMs = performance.now() - started;
    this.maybeCheckpoint();
  }

  /** Runs a batch in order, writing one outcome per step. A failing step is rolled back
   * before the next one runs. `dry`: every step is evaluated against the current state and
   * rolled back, whatever its outcome. */
  run(batch: StepBatch, requestId: number, out: OutcomeWriter, dry: boolean): void {
    for (let index = 0; index < batch.count; index++) {
      const step = batch.next();
      if (step.init && !this.layout.hasInit) {
        out.output({ tags: [], data: "" }); // slot 0 without pw_init: nothing runs
        continue;
      }
      const log = this.log;
      const at = log.reserve(inputBound(this.prefix, step));
      const input = log.bytes.subarray(at, writeInput(this.prefix, step, batch.bytes, log.bytes, at));
      const ok = this.call(step.init, input, requestId, index, out);
      if (!ok || dry) {
        this.rebuild(requestId);
        continue;
      }
      log.commit(step.init, input.byteLength);
      this.logMs += this.callMs;
      this.maybeCheckpoint();
    }
    this.log.trim();
  }

  /** Pages of linear memory now. */
  memoryPages(): number {
    return this.memory().byteLength / PAGE_BYTES;
  }

  /** Bytes of the rollback log confirmed so far. */
  logBytes(): number {
    return this.log.byteLength;
  }

  /** The whole rollback point (for `created`). */
  rollbackPoint(): RollbackPoint {
    this.reported = { checkpoint: this.checkpoint, log: this.log.buffer };
    return { ...this.reported, logBytes: this.log.byteLength };
  }

  /** The checkpoint and log buffers if either changed since the host last heard, else undefined. */
  takeRollbackChange(): RollbackBuffers | undefined {
    if (this.reported.checkpoint === this.checkpoint && this.reported.log === this.log.buffer) return undefined;
    this.reported = { checkpoint: this.checkpoint, log: this.log.buffer };
    return this.reported;
  }

  /** The whole state as a fresh buffer, for transfer to the host. */
  exportState(): Uint8Array {
    const image = new Uint8Array(imageBytes(this.layout, this.memoryPages()));
    this.writeImage(image);
    return image;
  }

  /** A new checkpoint (and an empty log) when replaying the log got too costly. */
  private maybeCheckpoint(): void {
    const log = this.log;
    if (log.size === 0) return;
    const memoryBytes = this.memoryPages() * PAGE_BYTES;
    const copyMs = memoryBytes / this.bytesPerMs;
    const due =
      this.logMs >= Math.max(REPLAY_BUDGET * copyMs, MIN_REPLAY_MS) ||
      log.size >= this.limits.maxReplaySteps ||
      log.byteLength >= MAX_LOG_BYTES;
    if (!due) return;
    const started = performance.now();
    const image = new SharedArrayBuffer(imageBytes(this.layout, this.memoryPages()));
    this.writeImage(new Uint8Array(image));
    const ms = performance.now() - started;
    if (memoryBytes >= 1024 * 1024 && ms > 0) this.bytesPerMs = memoryBytes / ms;
    this.checkpoint = image;
    this.log = RollbackLog.empty();
    this.logMs = 0;
  }

  /** Calls the module with one input and writes the outcome to `out`; returns whether the
   * step succeeded. Replays pass no `out`: their outputs were checked when the slot first
   * ran, so only a fault counts (and throws). */
  private call(
    init: boolean,
    input: Uint8Array,
    requestId: number,
    index: number,
    out: OutcomeWriter | undefined,
  ): boolean {
    const e = this.exports;
    const started = this.progress.enter(requestId, index);
    try {
      const ptr = e.pw_alloc(input.byteLength) >>> 0;
      const memory = this.memory();
      if (ptr + input.byteLength > memory.byteLength) {
        const room = `no room for ${input.byteLength} bytes in memory of ${memory.byteLength}`;
        return failStep(out, `invalid input buffer: pw_alloc returned ${ptr}, which has ${room}`);
      }
      memory.set(input, ptr);
      const length = input.byteLength;
      // The i64 is split through a scratch word: no BigInt arithmetic per slot.
      RESULT.setBigInt64(0, init ? e.pw_init!(ptr, length) : e.pw_handle(ptr, length), true);
    } catch (err) {
      return failStep(out, describeFault(err));
    } finally {
      this.progress.leave();
      this.callMs = sharedClockMs() - started;
    }
    const outPtr = RESULT.getUint32(4, true);
    const outLen = RESULT.getUint32(0, true);
    const memory = this.memory();
    if (outPtr + outLen > memory.byteLength) {
      return failStep(
        out,
        `invalid output from the module: ${outLen} bytes at ${outPtr} are outside memory (${memory.byteLength} bytes)`,
      );
    }
    if (outLen > this.limits.maxOutputBytes) {
      const limit = this.limits.maxOutputBytes;
      return failStep(out, `invalid output from the module: ${outLen} bytes is over the limit of ${limit}`);
    }
    return out === undefined || writeOutcome(memory.subarray(outPtr, outPtr + outLen), out);
  }

  /** A fresh module instance set to the checkpoint, then the log replayed. */
  private rebuild(requestId: number): void {
    this.ready = false;
    this.progress.enter(requestId, -1);
    try {
      this.moduleInstance = new WebAssembly.Instance(this.module, { env: { abort: this.abort } });
    } finally {
      this.progress.leave();
    }
    this.exports = this.moduleInstance.exports as unknown as ModuleExports;
    this.memoryView = new Uint8Array(); // the old instance's memory is not detached
    this.ready = true;
    if (this.checkpoint) this.applyImage(new Uint8Array(this.checkpoint));
    for (const { init, input } of this.log.entries()) {
      this.call(init, input, requestId, -1, undefined);
    }
  }

  private applyImage(image: Uint8Array): void {
    const pages = checkImage(image, this.layout);
    const current = this.memoryPages();
    if (pages < current)
      throw new Error(`state has ${pages} memory pages; a fresh module instance already has ${current}`);
    if (pages > current) this.exports.memory.grow(pages - current);
    const { globalsAt, memoryAt } = imageLayout(this.layout.globals.length);
    this.memory().set(image.subarray(memoryAt, memoryAt + pages * PAGE_BYTES));
    const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
    this.layout.globals.forEach((global, i) => {
      const at = globalsAt + 8 * i;
      if (global.type === "i32") this.global(global.export).value = view.getInt32(at, true);
      else if (global.type === "i64") this.global(global.export).value = view.getBigInt64(at, true);
      else if (global.type === "f32") this.accessor(`${global.export}_set`)(view.getInt32(at, true));
      else this.accessor(`${global.export}_set`)(view.getBigInt64(at, true));
    });
  }

  private writeImage(target: Uint8Array): void {
    const pages = this.memoryPages();
    writeImageHeader(target, this.layout, pages);
    const { globalsAt, memoryAt } = imageLayout(this.layout.globals.length);
    const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
    this.layout.globals.forEach((global, i) => {
      const at = globalsAt + 8 * i;
      if (global.type === "i32") view.setInt32(at, this.global(global.export).value as number, true);
      else if (global.type === "i64") view.setBigInt64(at, this.global(global.export).value as bigint, true);
      else if (global.type === "f32") view.setInt32(at, this.accessor(`${global.export}_get`)() as number, true);
      else view.setBigInt64(at, this.accessor(`${global.export}_get`)() as bigint, true);
    });
    target.set(this.memory(), memoryAt);
  }

  private global(name: string): WebAssembly.Global {
    return this.exports[name] as WebAssembly.Global;
  }

  private accessor(name: string): (value?: number | bigint) => number | bigint {
    return this.exports[name] as (value?: number | bigint) => number | bigint;
  }

  /** A view of linear memory, rebuilt only after the memory grew. Growing detaches the old
   * buffer, so a view of length 0 is the sign to look again (the `buffer` getter is a call
   * into the engine, too costly for every step). */
  private memory(): Uint8Array {
    if (this.memoryView.byteLength === 0) this.memoryView = new Uint8Array(this.exports.memory.buffer);
    return this.memoryView;
  }

  private readonly abort = (message: number, file: number, line: number, column: number): never => {
    const text = this.ready ? this.readAsString(message) : "";
    const where = this.ready ? this.readAsString(file) : "";
    throw new AbortCalled(`${text || "abort called"}${where ? ` at ${where}:${line}:${column}` : ""}`);
  };

  /** Best effort: AssemblyScript strings are UTF-16LE with their byte length at ptr - 4. */
  private readAsString(ptr: number): string {
    const memory = this.memory();
    ptr >>>= 0;
    if (ptr < 4 || ptr > memory.byteLength) return "";
    const len = new DataView(memory.buffer).getUint32(ptr - 4, true);
    if (len > 4096 || len % 2 !== 0 || ptr + len > memory.byteLength) return "";
    return Buffer.from(memory.buffer, ptr, len).toString("utf16le");
  }
}

/** A step failed: its error is its outcome, or (a replay, which passes no `out`) the replay
 * itself failed. Returns false, the step's success. */
function failStep(out: OutcomeWriter | undefined, error: string): false {
  if (out === undefined) throw new Error(`replaying a step after a rollback failed: ${error}`);
  out.error(error);
  return false;
}

function describeFault(err: unknown): string {
  if (err instanceof AbortCalled) return `abort: ${err.message}`;
  if (err instanceof WebAssembly.RuntimeError) return `trap: ${err.message}`;
  if (err instanceof WebAssembly.Exception) return "trap: the module threw an exception it did not catch";
  if (err instanceof RangeError) return `trap: ${err.message}`;
  return `fault: ${err instanceof Error ? err.message : String(err)}`;
}
