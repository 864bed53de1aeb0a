/**
 * The wasm worker threads: a fixed number of runner threads ("lanes") with sticky placement
 * (a process always lands on the same lane, so its runner is found there), plus one compiler
 * thread that validates, rewrites and probe-instantiates modules, so a module's start
 * function never delays a lane. Threads start on first use; a thread that exits is replaced
 * on the next request for its lane.
 */
import { ProcworkerError } from "../../core/errors.js";
import { ThreadHandle, type WasmLogger } from "./thread-handle.js";

/** The compiler thread is stopped after this long without work, to free its thread. */
const COMPILER_IDLE_MS = 30_000;

/** The lane of a process among `lanes`: FNV-1a of its id, so placement is stable across
 * restarts (and can be predicted by a client that knows the lane count, as the benchmarks do). */
export function laneOf(processId: string, lanes: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < processId.length; i++) {
    hash ^= processId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % lanes;
}

/** The device's threads (see the file comment). */
export class ThreadPool {
  private readonly threads: (ThreadHandle | undefined)[];
  private compilerThread: ThreadHandle | undefined;
  private compilerIdle: NodeJS.Timeout | undefined;
  private compilerUsers = 0;
  private generation = 0;
  private closed = false;

  constructor(
    size: number,
    private readonly slotTimeLimitMs: number,
    private readonly logger: WasmLogger | undefined,
  ) {
    this.threads = new Array<ThreadHandle | undefined>(size).fill(undefined);
  }

  get size(): number {
    return this.threads.length;
  }

  /** The lane of a process (see `laneOf`). */
  laneOf(processId: string): number {
    return laneOf(processId, this.threads.length);
  }

  /** The running thread of a lane, started (or replaced) if needed. */
  thread(lane: number): ThreadHandle {
    this.assertOpen();
    const current = this.threads[lane];
    if (current && current.state === "running") return current;
    const handle = new ThreadHandle(`${lane}.${++this.generation}`, this.slotTimeLimitMs, this.logger);
    this.threads[lane] = handle;
    return handle;
  }

  /** Runs `fn` on the compiler thread, keeping it alive meanwhile. */
  async withCompiler<T>(fn: (thread: ThreadHandle) => Promise<T>): Promise<T> {
    this.assertOpen();
    if (this.compilerIdle !== undefined) clearTimeout(this.compilerIdle);
    this.compilerIdle = undefined;
    if (!this.compilerThread || this.compilerThread.state !== "running") {
      const name = `compiler.${++this.generation}`;
      this.compilerThread = new ThreadHandle(name, this.slotTimeLimitMs, this.logger);
    }
    this.compilerUsers++;
    try {
      return await fn(this.compilerThread);
    } finally {
      this.compilerUsers--;
      if (this.compilerUsers === 0 && !this.closed) {
        const idle = this.compilerThread;
        this.compilerIdle = setTimeout(() => {
          this.compilerIdle = undefined;
          void idle?.terminate();
        }, COMPILER_IDLE_MS);
        this.compilerIdle.unref();
      }
    }
  }

  /** Test hook: makes the thread of `lane` exit as if it crashed. */
  crash(lane: number): void {
    this.threads[lane]?.crashForTesting();
  }

  /** Terminates every thread; pending requests reject. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.compilerIdle !== undefined) clearTimeout(this.compilerIdle);
    this.compilerIdle = undefined;
    const all = [...this.threads, this.compilerThread].filter((t): t is ThreadHandle => t !== undefined);
    await Promise.all(all.map((t) => t.terminate()));
  }

  private assertOpen(): void {
    if (this.closed) throw new ProcworkerError("unavailable", "the wasm device is closed");
  }
}
