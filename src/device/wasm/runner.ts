/**
 * One live wasm@1.0 instance inside a worker thread. It stays alive between slots, so a
 * successful slot copies no memory. Rollback works from a checkpoint: an immutable image
 * (state-format.ts) in a SharedArrayBuffer plus the inputs of the successful steps since.
 * When a step fails, the instance is thrown away and rebuilt from the checkpoint and a
 * replay of those steps; a new checkpoint is taken when replaying would cost more than
 * REPLAY_BUDGET copies of memory. The host holds the same checkpoint and step list, so it
 * can rebuild the instance on another thread if this one dies.
 */
import type { Step, StepOutcome } from "../device.js";
import { decodeOutput, encodeInput } from "./abi.js";
import type { Checkpoint, ModuleLayout, ProgressView, RunnerLimits } from "./protocol.js";
import { sharedClockMs } from "./protocol.js";
import { PAGE_BYTES, checkImage, imageBytes, imageLayout, writeImageHeader } from "./state-format.js";

/** Replaying the steps since the checkpoint may cost at most this many memory copies. */
const REPLAY_BUDGET = 16;
/** ...and at least this long before a checkpoint is worth taking (tiny memories). */
const MIN_REPLAY_MS = 1;
/** Bound on the input bytes kept since the checkpoint (here and, as steps, on the host). */
const MAX_LOG_BYTES = 8 * 1024 * 1024;

/** Marks when process code runs, for the host's time-limit watchdog (protocol.ts). */
export class ProgressMarker {
  constructor(private readonly view: ProgressView) {}

  enter(requestId: number, stepIndex: number): void {
    const { ints, started } = this.view;
    ints[2] = requestId;
    ints[3] = stepIndex;
    started[0] = sharedClockMs();
    Atomics.store(ints, 1, 1);
    Atomics.add(ints, 0, 1);
  }

  leave(): void {
    Atomics.store(this.view.ints, 1, 0);
  }
}

/** The module called env.abort (AssemblyScript's `abort()` and failed assertions). */
class AbortCalled extends Error {}

interface ModuleExports {
  memory: WebAssembly.Memory;
  pw_alloc(len: number): number;
  pw_handle(ptr: number, len: number): bigint;
  pw_init?(ptr: number, len: number): bigint;
  [name: string]: unknown;
}

interface LoggedStep {
  init: boolean;
  input: Uint8Array;
}

const EMPTY_OUTPUT: StepOutcome = { output: { tags: {}, data: new Uint8Array() } };

/** A thread-side instance; see the file comment. Methods throw only when the instance
 * itself is broken (the host then discards it). */
export class Runner {
  private instance!: WebAssembly.Instance;
  private exports!: ModuleExports;
  private memoryView = new Uint8Array();
  /** False while a new instance's start function runs (its exports are not there yet). */
  private ready = false;
  private log: LoggedStep[] = [];
  private logMs = 0;
  private logBytes = 0;
  private bytesPerMs = 4_000_000;

  constructor(
    private readonly module: WebAssembly.Module,
    private readonly layout: ModuleLayout,
    private readonly processId: string,
    private readonly progress: ProgressMarker,
    private checkpoint: SharedArrayBuffer | null,
    private readonly limits: RunnerLimits,
  ) {}

  /** Builds the instance from the checkpoint and replays `steps` (all succeeded before). */
  restore(steps: Step[], requestId: number): void {
    this.log = [];
    this.logMs = 0;
    this.logBytes = 0;
    this.rebuild(requestId);
    for (const step of steps) {
      const outcome = this.execute(step, requestId, -1);
      if ("error" in outcome) throw new Error(`replaying slot ${step.slot} failed: ${outcome.error}`);
    }
  }

  /** Runs steps in order; a failing step is rolled back before the next one runs. Returns
   * the last checkpoint taken along the way, so a long batch never makes a long replay. */
  run(steps: Step[], requestId: number): { outcomes: StepOutcome[]; checkpoint: Checkpoint | null } {
    let checkpoint: Checkpoint | null = null;
    const outcomes = steps.map((step, index) => {
      const outcome = this.execute(step, requestId, index);
      const image = "output" in outcome ? this.maybeCheckpoint() : null;
      if (image) checkpoint = { image, afterStep: index };
      return outcome;
    });
    return { outcomes, checkpoint };
  }

  /** Bytes of linear memory now. */
  memoryBytes(): number {
    return this.exports.memory.buffer.byteLength;
  }

  /** A new checkpoint when replaying the steps since the last one got too costly, else null. */
  maybeCheckpoint(): SharedArrayBuffer | null {
    if (this.log.length === 0) return null;
    const copyMs = this.memoryBytes() / this.bytesPerMs;
    const due =
      this.logMs >= Math.max(REPLAY_BUDGET * copyMs, MIN_REPLAY_MS) ||
      this.log.length >= this.limits.maxReplaySteps ||
      this.logBytes >= MAX_LOG_BYTES;
    if (!due) return null;
    const started = performance.now();
    const image = new SharedArrayBuffer(imageBytes(this.layout, this.memoryBytes() / PAGE_BYTES));
    this.writeImage(new Uint8Array(image));
    const ms = performance.now() - started;
    if (this.memoryBytes() >= 1024 * 1024 && ms > 0) this.bytesPerMs = this.memoryBytes() / ms;
    this.checkpoint = image;
    this.log = [];
    this.logMs = 0;
    this.logBytes = 0;
    return image;
  }

  /** The whole state as a fresh buffer, for transfer to the host. */
  exportState(): Uint8Array {
    const image = new Uint8Array(imageBytes(this.layout, this.memoryBytes() / PAGE_BYTES));
    this.writeImage(image);
    return image;
  }

  private execute(step: Step, requestId: number, index: number): StepOutcome {
    const init = step.slot === 0n;
    if (init && !this.layout.hasInit) return EMPTY_OUTPUT;
    const input = encodeInput(this.processId, step);
    const started = performance.now();
    const outcome = this.call(init, input, requestId, index);
    if ("error" in outcome) {
      this.rebuild(requestId);
      return outcome;
    }
    this.log.push({ init, input });
    this.logMs += performance.now() - started;
    this.logBytes += input.byteLength;
    return outcome;
  }

  private call(init: boolean, input: Uint8Array, requestId: number, index: number): StepOutcome {
    const e = this.exports;
    let result: bigint;
    this.progress.enter(requestId, index);
    try {
      const ptr = e.pw_alloc(input.byteLength) >>> 0;
      const memory = this.memory();
      if (ptr + input.byteLength > memory.byteLength) {
        const room = `no room for ${input.byteLength} bytes in memory of ${memory.byteLength}`;
        return { error: `invalid input buffer: pw_alloc returned ${ptr}, which has ${room}` };
      }
      memory.set(input, ptr);
      const length = input.byteLength;
      result = BigInt.asUintN(64, init ? e.pw_init!(ptr, length) : e.pw_handle(ptr, length));
    } catch (err) {
      return { error: describeFault(err) };
    } finally {
      this.progress.leave();
    }
    const outPtr = Number(result >> 32n);
    const outLen = Number(result & 0xffffffffn);
    const memory = this.memory();
    if (outPtr + outLen > memory.byteLength) {
      return {
        error: `invalid output from the module: ${outLen} bytes at ${outPtr} are outside memory (${memory.byteLength} bytes)`,
      };
    }
    if (outLen > this.limits.maxOutputBytes) {
      const limit = this.limits.maxOutputBytes;
      return { error: `invalid output from the module: ${outLen} bytes is over the limit of ${limit}` };
    }
    return decodeOutput(memory.subarray(outPtr, outPtr + outLen));
  }

  /** A fresh instance set to the checkpoint, then the logged steps replayed. */
  private rebuild(requestId: number): void {
    this.ready = false;
    this.progress.enter(requestId, -1);
    try {
      this.instance = new WebAssembly.Instance(this.module, { env: { abort: this.abort } });
    } finally {
      this.progress.leave();
    }
    this.exports = this.instance.exports as unknown as ModuleExports;
    this.ready = true;
    if (this.checkpoint) this.applyImage(new Uint8Array(this.checkpoint));
    for (const { init, input } of this.log) {
      const outcome = this.call(init, input, requestId, -1);
      if ("error" in outcome) throw new Error(`replaying a step after a rollback failed: ${outcome.error}`);
    }
  }

  private applyImage(image: Uint8Array): void {
    const pages = checkImage(image, this.layout);
    const current = this.memoryBytes() / PAGE_BYTES;
    if (pages < current) throw new Error(`state has ${pages} memory pages; a fresh instance already has ${current}`);
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
    const pages = this.memoryBytes() / PAGE_BYTES;
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

  /** A view of linear memory, rebuilt only after the memory grew. */
  private memory(): Uint8Array {
    const buffer = this.exports.memory.buffer;
    if (this.memoryView.buffer !== buffer) this.memoryView = new Uint8Array(buffer);
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

function describeFault(err: unknown): string {
  if (err instanceof AbortCalled) return `abort: ${err.message}`;
  if (err instanceof WebAssembly.RuntimeError) return `trap: ${err.message}`;
  if (err instanceof RangeError) return `trap: ${err.message}`;
  return `fault: ${err instanceof Error ? err.message : String(err)}`;
}
