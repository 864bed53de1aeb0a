/**
 * The host side of one wasm@1.0 instance. The live instance sits in a worker thread; this
 * object keeps what is needed to rebuild it elsewhere: the thread's last checkpoint image
 * (a SharedArrayBuffer, which outlives the thread) and the steps that succeeded since. When
 * a slot outlives the time limit, its thread is terminated: this instance is rebuilt on the
 * replacement thread, that slot becomes a time-limit error and the batch goes on; other
 * instances of that thread are rebuilt the same way on their next call.
 */
import { ProcworkerError } from "../../core/errors.js";
import type { DeviceInstance, Step, StepOutcome } from "../device.js";
import type { PreparedModule } from "./module-cache.js";
import type { ThreadPool } from "./pool.js";
import type { RunnerLimits, ThreadResponse } from "./protocol.js";
import { checkImage } from "./state-format.js";
import { ThreadHandle, ThreadLostError, type WasmLogger } from "./thread-handle.js";

/** Another instance's runaway slot stopped the thread: nothing is wrong with this one. */
function isBystander(err: unknown): err is ThreadLostError {
  return err instanceof ThreadLostError && err.reason === "time_limit" && err.blamedStep === undefined;
}

/** What an instance needs to know of the device's limits. */
export interface InstanceLimits extends RunnerLimits {
  slotTimeLimitMs: number;
}

/** A DeviceInstance whose live state is in a worker thread (see the file comment). */
export class WasmInstance implements DeviceInstance {
  /** The thread holding the live instance; undefined when it must be rebuilt first. */
  private thread: ThreadHandle | undefined;
  private checkpoint: SharedArrayBuffer | null = null;
  /** Steps that succeeded since the checkpoint (null checkpoint: since instantiation). */
  private log: Step[] = [];
  private memoryBytes = 0;
  private closed = false;
  private tail: Promise<void> = Promise.resolve();
  private readonly lane: number;

  private constructor(
    private readonly pool: ThreadPool,
    private readonly prepared: PreparedModule,
    private readonly processId: string,
    private readonly id: number,
    private readonly limits: InstanceLimits,
    private readonly logger: WasmLogger | undefined,
  ) {
    this.lane = pool.laneOf(processId);
  }

  /** A live instance in the state before slot 0, on the process's lane. */
  static async create(
    pool: ThreadPool,
    prepared: PreparedModule,
    processId: string,
    id: number,
    limits: InstanceLimits,
    logger: WasmLogger | undefined,
  ): Promise<WasmInstance> {
    const instance = new WasmInstance(pool, prepared, processId, id, limits, logger);
    await instance.exclusive(() => instance.ensureLive());
    return instance;
  }

  run(steps: Step[]): Promise<StepOutcome[]> {
    return this.exclusive(() => this.runSteps(steps));
  }

  exportState(): Promise<Uint8Array> {
    return this.exclusive(async () => {
      for (;;) {
        const thread = await this.ensureLive();
        try {
          return (await thread.request("exported", { kind: "export", instance: this.id })).state;
        } catch (err) {
          this.thread = undefined;
          if (!isBystander(err)) throw err;
        }
      }
    });
  }

  importState(state: Uint8Array): Promise<void> {
    return this.exclusive(async () => {
      try {
        checkImage(state, this.prepared.layout);
      } catch (err) {
        throw new ProcworkerError("invalid_argument", `cannot import wasm@1.0 state: ${(err as Error).message}`);
      }
      // The image becomes the rollback checkpoint, shared with the thread (one copy here).
      const image = new SharedArrayBuffer(state.byteLength);
      new Uint8Array(image).set(state);
      this.checkpoint = image;
      this.log = [];
      this.thread = undefined;
      await this.ensureLive();
    });
  }

  /** Live memory plus the rollback checkpoint held beside it. */
  stateBytes(): number {
    return this.memoryBytes + (this.checkpoint?.byteLength ?? 0);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const thread = this.thread;
    this.thread = undefined;
    this.checkpoint = null;
    this.log = [];
    if (thread?.state === "running") {
      await thread.request("closed", { kind: "close", instance: this.id }).catch(() => {});
    }
  }

  private async runSteps(steps: Step[]): Promise<StepOutcome[]> {
    if (steps.length === 0) return [];
    const thread = await this.ensureLive();
    try {
      const ran = await thread.request("ran", { kind: "run", instance: this.id, steps });
      this.record(steps, ran);
      return ran.outcomes;
    } catch (err) {
      this.thread = undefined;
      if (isBystander(err)) return this.runSteps(steps);
      const overran = err instanceof ThreadLostError && err.reason === "time_limit" ? err.blamedStep : undefined;
      if (overran !== undefined && overran >= 0) {
        const k = overran;
        this.logger?.debug({ processId: this.processId, slot: steps[k]?.slot }, "wasm slot stopped at its time limit");
        const before = await this.runSteps(steps.slice(0, k));
        const failed: StepOutcome = { error: `time limit: the slot ran longer than ${this.limits.slotTimeLimitMs} ms` };
        const after = await this.runSteps(steps.slice(k + 1));
        return [...before, failed, ...after];
      }
      throw err;
    }
  }

  /** Mirrors the thread: successful steps join the log, a checkpoint replaces the steps before it. */
  private record(steps: Step[], ran: Extract<ThreadResponse, { kind: "ran" }>): void {
    let from = 0;
    if (ran.checkpoint) {
      this.checkpoint = ran.checkpoint.image;
      this.log = [];
      from = ran.checkpoint.afterStep + 1;
    }
    for (let i = from; i < steps.length; i++) {
      const outcome = ran.outcomes[i];
      if (outcome && "output" in outcome) this.log.push(steps[i]!);
    }
    this.memoryBytes = ran.memoryBytes;
  }

  /** The thread with this instance live on it, rebuilding it there if its thread changed. */
  private async ensureLive(): Promise<ThreadHandle> {
    for (;;) {
      const thread = this.pool.thread(this.lane);
      if (this.thread === thread && thread.state === "running") return thread;
      this.thread = undefined;
      try {
        const created = await thread.request("created", {
          kind: "create",
          instance: this.id,
          processId: this.processId,
          module: this.prepared.module,
          layout: this.prepared.layout,
          checkpoint: this.checkpoint,
          replay: this.log,
          limits: { maxReplaySteps: this.limits.maxReplaySteps, maxOutputBytes: this.limits.maxOutputBytes },
        });
        if (created.checkpoint) {
          this.checkpoint = created.checkpoint.image;
          this.log = [];
        }
        this.memoryBytes = created.memoryBytes;
        this.thread = thread;
        return thread;
      } catch (err) {
        if (!isBystander(err)) throw err;
      }
    }
  }

  /** Runs operations on this instance one at a time, in call order. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(() => {
      if (this.closed)
        throw new ProcworkerError("internal", `the wasm instance of process ${this.processId} is closed`);
      return fn();
    });
    // The queue waits for the operation but never holds its value (an exported image).
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
