/**
 * The device instance of one wasm@1.0 process, on the main thread. The process's live module
 * instance sits in a runner on a worker thread; this object keeps only what rebuilds it
 * elsewhere: the rollback point (the last checkpoint image and the rollback log, both in
 * shared memory the thread writes, and how much of the log the thread has confirmed). When
 * a slot outlives the time limit, its thread is terminated: the runner is rebuilt on the
 * replacement thread, that slot becomes a time-limit error and the batch goes on; other
 * processes of that thread are rebuilt the same way on their next call.
 */
import { ProcworkerError } from "../../core/errors.js";
import {
  isEncoded,
  type DeviceInstance,
  type EncodedStep,
  type Step,
  type StepOutcome,
  type Steps,
} from "../device.js";
import type { PreparedModule } from "./module-cache.js";
import { unpackOutcomes } from "./outcome-batch.js";
import type { ThreadPool } from "./pool.js";
import type { RunnerLimits, ThreadResponse } from "./protocol.js";
import { rollbackPointAt, type RollbackPoint } from "./rollback-log.js";
import { checkImage } from "./state-format.js";
import { packEncodedSteps, packSteps } from "./step-batch.js";
import { ThreadHandle, ThreadLostError, type WasmLogger } from "./thread-handle.js";

/** Most steps per request to the thread: a longer run is pipelined in chunks this long. */
export const PIPELINE_CHUNK = 256;

type RanAnswer = Extract<ThreadResponse, { kind: "ran" }>;

/** Another process's runaway call stopped the thread: nothing is wrong with this one. */
export function isBystander(err: unknown): err is ThreadLostError {
  return err instanceof ThreadLostError && err.reason === "time_limit" && err.blamedStep === undefined;
}

/** What a device instance needs to know of the device's limits. */
export interface DeviceInstanceLimits extends RunnerLimits {
  slotTimeLimitMs: number;
}

/** A DeviceInstance whose live state is in a worker thread (see the file comment). */
export class WasmDeviceInstance implements DeviceInstance {
  /** The thread holding the runner; undefined when the runner must be rebuilt first. */
  private thread: ThreadHandle | undefined;
  private rollback: RollbackPoint = rollbackPointAt(null);
  private memoryBytes = 0;
  private closed = false;
  private tail: Promise<void> = Promise.resolve();
  /** Operations started or queued and not yet settled. */
  private operations = 0;
  private readonly lane: number;
  readonly computesOffThread = true;

  private constructor(
    private readonly pool: ThreadPool,
    private readonly prepared: PreparedModule,
    private readonly processId: string,
    /** This process's runner number on its threads. */
    private readonly runner: number,
    private readonly limits: DeviceInstanceLimits,
    private readonly logger: WasmLogger | undefined,
  ) {
    this.lane = pool.laneOf(processId);
  }

  /** A device instance in the state before slot 0, its runner live on the process's lane. */
  static async create(
    pool: ThreadPool,
    prepared: PreparedModule,
    processId: string,
    runner: number,
    limits: DeviceInstanceLimits,
    logger: WasmLogger | undefined,
  ): Promise<WasmDeviceInstance> {
    const created = new WasmDeviceInstance(pool, prepared, processId, runner, limits, logger);
    await created.exclusive(() => created.ensureLive());
    return created;
  }

  run(steps: Step[]): Promise<StepOutcome[]> {
    return this.exclusive(() => this.runSteps(steps, false));
  }

  runEncoded(steps: EncodedStep[]): Promise<StepOutcome[]> {
    return this.exclusive(() => this.runSteps(steps, false));
  }

  async dryRun(step: Step): Promise<StepOutcome> {
    const [outcome] = await this.exclusive(() => this.runSteps([step], true));
    return outcome!;
  }

  exportState(): Promise<Uint8Array> {
    return this.exclusive(async () => {
      for (;;) {
        const thread = await this.ensureLive();
        try {
          return (await thread.request("exported", { kind: "export", runner: this.runner })).state;
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
      // The image becomes the checkpoint, shared with the thread (one copy here).
      const image = new SharedArrayBuffer(state.byteLength);
      new Uint8Array(image).set(state);
      this.rollback = rollbackPointAt(image);
      this.thread = undefined;
      await this.ensureLive();
    });
  }

  /** Everything this process holds: live memory, checkpoint image and rollback log. */
  stateBytes(): number {
    const { checkpoint, log } = this.rollback;
    return this.memoryBytes + (checkpoint?.byteLength ?? 0) + log.byteLength;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const thread = this.thread;
    this.thread = undefined;
    this.rollback = { checkpoint: null, log: new SharedArrayBuffer(0), logBytes: 0 };
    this.memoryBytes = 0;
    if (thread?.state === "running") {
      await thread.request("closed", { kind: "close", runner: this.runner }).catch(() => {});
    }
  }

  /**
   * Runs steps (dry: each against the current state, keeping nothing) on the live runner. A
   * long run crosses in chunks that are all posted at once: the thread runs one chunk while
   * this thread packs the next and unpacks the previous, and answers arrive in order. If the
   * thread is lost, the chunk it was on is recovered and the rest are run again, in order.
   */
  private async runSteps(steps: Steps, dry: boolean): Promise<StepOutcome[]> {
    if (steps.length <= PIPELINE_CHUNK) return this.runChunk(steps, dry);
    const thread = this.liveThread() ?? (await this.ensureLive());
    const chunks: Steps[] = [];
    for (let at = 0; at < steps.length; at += PIPELINE_CHUNK) chunks.push(steps.slice(at, at + PIPELINE_CHUNK));
    const answers = chunks.map((chunk) => this.post(thread, chunk, dry));
    for (const answer of answers) answer.catch(() => undefined); // each is awaited below, in order
    const outcomes: StepOutcome[] = [];
    let lost = false;
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i]!;
      if (lost) {
        outcomes.push(...(await this.runChunk(chunk, dry)));
        continue;
      }
      try {
        outcomes.push(...this.accept(await answers[i]!));
      } catch (err) {
        lost = true; // the later chunks were posted to a thread that is gone, or after a failure
        outcomes.push(...(await this.recover(chunk, dry, err)));
      }
    }
    return outcomes;
  }

  /** Runs one chunk of steps on the live runner, recovering from a lost thread. */
  private async runChunk(steps: Steps, dry: boolean): Promise<StepOutcome[]> {
    if (steps.length === 0) return [];
    const thread = this.liveThread() ?? (await this.ensureLive());
    try {
      return this.accept(await this.post(thread, steps, dry));
    } catch (err) {
      return this.recover(steps, dry, err);
    }
  }

  /** Packs steps and sends them to the runner. */
  private post(thread: ThreadHandle, steps: Steps, dry: boolean): Promise<RanAnswer> {
    const batch = isEncoded(steps) ? packEncodedSteps(steps) : packSteps(steps);
    return thread.request("ran", { kind: "run", runner: this.runner, batch, dry }, [batch]);
  }

  /** Takes a run's answer: its outcomes, the runner's memory and its rollback point. */
  private accept(ran: RanAnswer): StepOutcome[] {
    const { outcomes, memoryBytes, logBytes } = unpackOutcomes(ran.outcomes);
    this.rollback = ran.rollback ? { ...ran.rollback, logBytes } : { ...this.rollback, logBytes };
    this.memoryBytes = memoryBytes;
    return outcomes;
  }

  /**
   * Runs `steps` again after their run failed with `err`: another process's runaway slot
   * (run them all again), one of them outran the time limit (it fails, the others run), or
   * anything else (rethrown: the instance is unusable).
   */
  private async recover(steps: Steps, dry: boolean, err: unknown): Promise<StepOutcome[]> {
    this.thread = undefined;
    if (isBystander(err)) return this.runChunk(steps, dry);
    const overran = err instanceof ThreadLostError && err.reason === "time_limit" ? err.blamedStep : undefined;
    if (overran === undefined || overran < 0) throw err;
    const k = overran;
    this.logger?.debug({ processId: this.processId, slot: steps[k]?.slot }, "wasm slot stopped at its time limit");
    const before = await this.runChunk(steps.slice(0, k), dry);
    const failed: StepOutcome = { error: `time limit: the slot ran longer than ${this.limits.slotTimeLimitMs} ms` };
    const after = await this.runChunk(steps.slice(k + 1), dry);
    return [...before, failed, ...after];
  }

  /** The thread with this process's runner live on it, if it is (no wait: a run on a live
   * runner is posted in the same turn it was asked for). */
  private liveThread(): ThreadHandle | undefined {
    const thread = this.pool.thread(this.lane);
    return this.thread === thread && thread.state === "running" ? thread : undefined;
  }

  /** The thread with this process's runner live on it, rebuilding the runner there if the
   * lane's thread changed. */
  private async ensureLive(): Promise<ThreadHandle> {
    for (;;) {
      const thread = this.pool.thread(this.lane);
      if (this.thread === thread && thread.state === "running") return thread;
      this.thread = undefined;
      try {
        const created = await thread.request("created", {
          kind: "create",
          runner: this.runner,
          processId: this.processId,
          module: this.prepared.module,
          layout: this.prepared.layout,
          rollback: this.rollback,
          limits: { maxReplaySteps: this.limits.maxReplaySteps, maxOutputBytes: this.limits.maxOutputBytes },
        });
        this.rollback = created.rollback;
        this.memoryBytes = created.memoryBytes;
        this.thread = thread;
        return thread;
      } catch (err) {
        if (!isBystander(err)) throw err;
      }
    }
  }

  /** Runs operations on this device instance one at a time, in call order. With none in
   * progress, the operation starts at once, in the caller's turn (so a run is posted to the
   * thread before whatever the caller does next). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const start = (): Promise<T> => {
      if (this.closed)
        throw new ProcworkerError("internal", `the wasm device instance of process ${this.processId} is closed`);
      return fn();
    };
    // start() throws only ProcworkerErrors (closed); fn is async and never throws itself.
    const result = this.operations > 0 ? this.tail.then(start) : startNow(start);
    this.operations++;
    // The queue waits for the operation but never holds its value (an exported image).
    this.tail = result.then(
      () => void this.operations--,
      () => void this.operations--,
    );
    return result;
  }
}

/** Calls `start` now; a synchronous throw becomes a rejection. */
function startNow<T>(start: () => Promise<T>): Promise<T> {
  try {
    return start();
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
