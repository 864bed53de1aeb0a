/**
 * The host side of one wasm worker thread: numbered requests, answered once; a watchdog
 * that terminates the thread when one call into process code outlives the slot time limit
 * (terminating is the only way to stop a module that loops forever); and, when the thread
 * exits for any reason, every pending request rejected with a ThreadLostError at once.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker, type Transferable } from "node:worker_threads";
import { ProcworkerError } from "../../core/errors.js";
import { capDelay } from "../../core/timers.js";
import type { ThreadRequest, ThreadResponse, WithoutId } from "./protocol.js";
import { PROGRESS_BYTES, progressView, sharedClockMs } from "./protocol.js";

/** Why a thread went away. `time_limit`: the host stopped it because `blamed` ran too long. */
export type ThreadLossReason = "time_limit" | "crashed" | "closed";

/** A request's thread exited before answering. Retrying from the last good state is safe. */
export class ThreadLostError extends ProcworkerError {
  constructor(
    readonly reason: ThreadLossReason,
    message: string,
    /** Set for the request whose step ran out of time: the index of that step (-1: not a
     * step, e.g. instantiation or a replay). */
    readonly blamedStep?: number,
  ) {
    super("aborted", message);
    this.name = "ThreadLostError";
  }
}

/**
 * The thread's lifecycle: `running` (accepts requests), `stopping` (terminate() called:
 * by the watchdog, a test hook or close), `exited` (gone; pending requests were rejected).
 */
export type ThreadState = "running" | "stopping" | "exited";

type Answer<K extends ThreadResponse["kind"]> = Extract<ThreadResponse, { kind: K }>;

interface Pending {
  kind: ThreadRequest["kind"];
  resolve(response: ThreadResponse): void;
  reject(err: Error): void;
}

/** Minimal structured logger (pino-compatible). */
export interface WasmLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Resolves the thread entry beside this file: thread.js in dist/, thread.ts in the sources. */
function threadEntry(): { url: URL; typescript: boolean } {
  const js = new URL("./thread.js", import.meta.url);
  if (existsSync(fileURLToPath(js))) return { url: js, typescript: false };
  return { url: new URL("./thread.ts", import.meta.url), typescript: true };
}

const require = createRequire(import.meta.url);

/**
 * Starts a thread on the entry file. From sources (vitest, tsx) the entry is loaded through
 * tsx's loader, registered inside the thread.
 */
function startWorker(progress: SharedArrayBuffer): Worker {
  const entry = threadEntry();
  const workerData = { progress };
  if (!entry.typescript) return new Worker(entry.url, { workerData });
  // tsx's ESM api (its "import" export); require.resolve would pick the CommonJS one.
  const tsx = new URL("./dist/esm/api/index.mjs", pathToFileURL(require.resolve("tsx/package.json"))).href;
  const bootstrap =
    `import(${JSON.stringify(tsx)})` +
    `.then((api) => { api.register(); return import(${JSON.stringify(entry.url.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/** One worker thread seen from the host (see the file comment); `state` is its lifecycle. */
export class ThreadHandle {
  state: ThreadState = "running";
  private readonly worker: Worker;
  private readonly progressBuffer = new SharedArrayBuffer(PROGRESS_BYTES);
  private readonly progress = progressView(this.progressBuffer);
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private watchdog: NodeJS.Timeout | undefined;
  /** Set when the watchdog stopped the thread: which request and step overran. */
  private overran: { requestId: number; stepIndex: number } | undefined;
  private lastError: Error | undefined;
  /** Resolves when the thread has exited and every pending request was rejected. */
  readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    private readonly slotTimeLimitMs: number,
    private readonly logger: WasmLogger | undefined,
  ) {
    this.worker = startWorker(this.progressBuffer);
    this.worker.unref();
    this.worker.on("message", (response: ThreadResponse) => this.settle(response));
    this.worker.on("error", (err) => {
      this.lastError = err;
    });
    this.exited = new Promise((resolve) => {
      this.worker.once("exit", (code) => {
        this.onExit(code);
        resolve();
      });
    });
  }

  /** Sends a request; resolves with the answer of the expected kind, rejects with a
   * ProcworkerError for a `failed` answer and a ThreadLostError if the thread exits. */
  request<K extends ThreadResponse["kind"]>(
    expect: K,
    request: WithoutId<ThreadRequest>,
    transfer: readonly Transferable[] = [],
  ): Promise<Answer<K>> {
    if (this.state !== "running") {
      return Promise.reject(new ThreadLostError("closed", `wasm thread ${this.name} is no longer running`));
    }
    const id = this.nextId++;
    return new Promise<Answer<K>>((resolve, reject) => {
      this.pending.set(id, {
        kind: request.kind,
        resolve: (response) => {
          if (response.kind === expect) resolve(response as Answer<K>);
          else if (response.kind === "failed") reject(new ProcworkerError(response.code, response.message));
          else reject(new ProcworkerError("internal", `wasm thread answered ${response.kind} to ${request.kind}`));
        },
        reject,
      });
      if (this.pending.size === 1) this.worker.ref();
      try {
        this.worker.postMessage({ ...request, id }, transfer);
      } catch (err) {
        this.pending.delete(id);
        if (this.pending.size === 0) this.worker.unref();
        const message = `cannot send ${request.kind} to wasm thread ${this.name}`;
        reject(new ProcworkerError("internal", message, { cause: err }));
        return;
      }
      this.armWatchdog(0);
    });
  }

  /**
   * Test hook: the thread exits as a crash would. An idle thread exits by itself (code 70);
   * a busy one cannot read a message until its call returns, so it is ended where it is, as
   * a crash in the middle of a call would end it.
   */
  crashForTesting(): void {
    if (this.state !== "running") return;
    if (this.pending.size === 0) void this.request("closed", { kind: "crash" }).catch(() => {});
    else void this.worker.terminate();
  }

  /** Stops the thread; pending requests reject with `closed`. */
  terminate(): Promise<void> {
    if (this.state === "running") {
      this.state = "stopping";
      void this.worker.terminate();
    }
    return this.exited;
  }

  /** Number of requests not yet answered. */
  get pendingCount(): number {
    return this.pending.size;
  }

  private settle(response: ThreadResponse): void {
    const pending = this.pending.get(response.id);
    if (!pending) return;
    this.pending.delete(response.id);
    if (this.pending.size === 0) this.worker.unref();
    pending.resolve(response);
  }

  /**
   * Checks the progress word: if process code has run longer than the limit, terminate the
   * thread and remember the request and step. Re-arms itself while requests are pending.
   */
  private armWatchdog(delayMs: number): void {
    if (this.watchdog !== undefined || this.state !== "running" || this.pending.size === 0) return;
    this.watchdog = setTimeout(
      () => {
        this.watchdog = undefined;
        this.checkWatchdog();
      },
      capDelay(Math.max(delayMs, 1)),
    );
    this.watchdog.unref(); // pending requests keep the worker (and so the process) alive
  }

  private checkWatchdog(): void {
    if (this.state !== "running" || this.pending.size === 0) return;
    const { ints, started } = this.progress;
    const seq = Atomics.load(ints, 0);
    const busy = Atomics.load(ints, 1) === 1;
    const requestId = ints[2] ?? 0;
    const stepIndex = ints[3] ?? -1;
    const startedAt = started[0] ?? 0;
    if (Atomics.load(ints, 0) !== seq) return this.armWatchdog(1); // changed while reading
    if (!busy) return this.armWatchdog(Math.min(this.slotTimeLimitMs, 1000));
    const elapsed = sharedClockMs() - startedAt;
    if (elapsed < this.slotTimeLimitMs) return this.armWatchdog(this.slotTimeLimitMs - elapsed + 1);
    this.overran = { requestId, stepIndex };
    this.logger?.warn(
      { thread: this.name, elapsedMs: Math.round(elapsed), limitMs: this.slotTimeLimitMs },
      "wasm slot exceeded its time limit; terminating its thread",
    );
    this.state = "stopping";
    void this.worker.terminate();
  }

  private onExit(code: number): void {
    const reason: ThreadLossReason = this.overran ? "time_limit" : this.state === "stopping" ? "closed" : "crashed";
    this.state = "exited";
    if (this.watchdog !== undefined) clearTimeout(this.watchdog);
    this.watchdog = undefined;
    if (reason === "crashed") {
      this.logger?.warn({ thread: this.name, exitCode: code, err: this.lastError }, "wasm thread exited unexpectedly");
    }
    const pending = [...this.pending];
    this.pending.clear();
    for (const [id, request] of pending) {
      request.reject(this.lossError(reason, code, id, request.kind));
    }
  }

  private lossError(reason: ThreadLossReason, code: number, id: number, kind: string): ThreadLostError {
    if (reason === "closed") {
      return new ThreadLostError(reason, `wasm thread ${this.name} was stopped before answering ${kind}`);
    }
    if (reason === "crashed") {
      const cause = this.lastError ? `(${this.lastError.message})` : `(exit code ${code})`;
      return new ThreadLostError(
        reason,
        `wasm thread ${this.name} exited unexpectedly ${cause} before answering ${kind}; ` +
          "the process's runner was lost and must be restored from its last snapshot",
      );
    }
    const blamed = this.overran?.requestId === id;
    return new ThreadLostError(
      reason,
      blamed
        ? `a call into the module exceeded the time limit of ${this.slotTimeLimitMs} ms`
        : `wasm thread ${this.name} was stopped because another process's call exceeded the time limit`,
      blamed ? this.overran?.stepIndex : undefined,
    );
  }
}
