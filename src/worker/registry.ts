/**
 * The worker registry (HyperBEAM's hb_persistent registry): at most one worker per group. It
 * starts workers on demand, hands them work, stops them, and keeps the live workers' state
 * under `maxWorkerBytes` by evicting the least recently idle worker (which snapshots first).
 * Memory accounting is O(1) per change: each worker's last reported bytes are kept beside a
 * running total, and idle workers wait in least-recently-idle order, so the cost of a batch
 * does not grow with the number of live workers.
 */
import type { Logger } from "../core/log.js";
import type { Processes } from "../process/processes.js";
import type { Changes } from "./changes.js";
import type { Group } from "./group.js";
import type { Ownership } from "../core/cluster.js";
import { ProcessWorker, type Work, type WorkerExit, type WorkerHost, type WorkerSink } from "./worker.js";

export interface RegistryOptions {
  processes: Processes;
  ownership: Ownership;
  sink: WorkerSink;
  logger: Logger;
  changes: Changes;
  maxIdleMs: number;
  batchSlots: number;
  maxWorkerBytes: number;
}

export class WorkerRegistry implements WorkerHost {
  private readonly workers = new Map<string, ProcessWorker>();
  private readonly byProcess = new Map<string, Set<ProcessWorker>>();
  /** Idle workers, least recently idle first (a Set keeps insertion order). */
  private readonly idle = new Set<ProcessWorker>();
  /** The state bytes each live worker last reported, and their sum. */
  private readonly bytes = new Map<ProcessWorker, number>();
  private totalBytes = 0;
  /** Bytes of evicted workers that have not ended yet: they will be freed. */
  private releasing = 0;
  private evicting = false;
  private closing = false;

  constructor(private readonly opts: RegistryOptions) {}

  /** The live workers. */
  list(): ProcessWorker[] {
    return [...this.workers.values()];
  }

  /** Live workers in all. */
  get size(): number {
    return this.workers.size;
  }

  /** State bytes the live workers hold, as last reported. */
  get stateBytes(): number {
    return this.totalBytes;
  }

  /**
   * Hands `work` to the group's worker, starting one if none is live. Returns false (and
   * does nothing) when that worker is leaving (stopping or retiring) or shutdown has begun:
   * the caller asks again once the worker has ended (the sink hears of it).
   */
  dispatch(group: Group, processId: string, work: Work): boolean {
    if (this.closing) return false;
    let worker = this.workers.get(group.name);
    if (worker === undefined) worker = this.start(group, processId);
    else if (!worker.accepting) return false;
    worker.submit(work);
    this.opts.changes.notify();
    return true;
  }

  /** Resolves once the worker of `group` (if one is live) has ended. */
  async whenEnded(group: string): Promise<void> {
    await this.workers.get(group)?.done;
  }

  /** The live workers of a process (one with workers on; any number of one-shots off). */
  workersOf(processId: string): ProcessWorker[] {
    return [...(this.byProcess.get(processId) ?? [])];
  }

  /** Stops every live worker of a process; resolves with how many once they have ended. */
  async stopProcess(processId: string, snapshot: boolean): Promise<number> {
    const workers = this.workersOf(processId);
    await Promise.all(workers.map((w) => w.stop(snapshot)));
    return workers.length;
  }

  /** This node lost the ownership of every process (its lock connection died): stops every
   * live worker at once, without a snapshot, failing nobody. */
  async disownAll(): Promise<void> {
    await Promise.all(this.list().map((w) => w.stop(false, "disowned")));
  }

  /** Stops every live worker (shutdown) and starts no more; resolves once all have ended. */
  async stopAll(snapshot: boolean): Promise<void> {
    this.closing = true;
    await Promise.all(this.list().map((w) => w.stop(snapshot)));
  }

  /** Resolves once no worker is live (one-shot workers end by themselves; persistent ones
   * when idle long enough, stopped or evicted). */
  async settled(): Promise<void> {
    while (this.workers.size > 0) await Promise.all(this.list().map((w) => w.done));
  }

  /** A worker's state or bytes changed (WorkerHost). */
  changed(worker: ProcessWorker): void {
    const state = worker.state;
    if (state.name === "ended") {
      this.remove(worker);
    } else {
      this.idle.delete(worker);
      if (state.name === "idle") this.idle.add(worker);
      this.account(worker, worker.stateBytes());
      this.enforceMemoryCap();
    }
    this.opts.changes.notify();
  }

  private start(group: Group, processId: string): ProcessWorker {
    const worker = new ProcessWorker({
      group: group.name,
      processId,
      persistent: group.kind === "worker",
      processes: this.opts.processes,
      ownership: this.opts.ownership,
      sink: this.opts.sink,
      host: this,
      logger: this.opts.logger,
      maxIdleMs: this.opts.maxIdleMs,
      batchSlots: this.opts.batchSlots,
    });
    this.workers.set(group.name, worker);
    let ofProcess = this.byProcess.get(processId);
    if (ofProcess === undefined) this.byProcess.set(processId, (ofProcess = new Set()));
    ofProcess.add(worker);
    return worker;
  }

  private remove(worker: ProcessWorker): void {
    if (this.workers.get(worker.group) === worker) this.workers.delete(worker.group);
    const ofProcess = this.byProcess.get(worker.processId);
    ofProcess?.delete(worker);
    if (ofProcess?.size === 0) this.byProcess.delete(worker.processId);
    this.idle.delete(worker);
    const exit: WorkerExit | undefined = worker.state.name === "ended" ? worker.state.exit : undefined;
    if (exit?.kind === "retired" && exit.reason === "evicted") this.releasing -= this.bytes.get(worker) ?? 0;
    this.account(worker, 0);
    this.bytes.delete(worker);
  }

  private account(worker: ProcessWorker, bytes: number): void {
    this.totalBytes += bytes - (this.bytes.get(worker) ?? 0);
    this.bytes.set(worker, bytes);
  }

  /** Evicts least recently idle workers until the bytes that stay are under the cap. A busy
   * worker is never evicted, so the cap can be exceeded while every worker is busy. */
  private enforceMemoryCap(): void {
    if (this.evicting) return; // evict() reports back through changed(): one pass at a time
    this.evicting = true;
    try {
      for (const worker of this.idle) {
        if (this.totalBytes - this.releasing <= this.opts.maxWorkerBytes) return;
        const bytes = this.bytes.get(worker) ?? 0;
        this.opts.logger.info(
          { event: "evicting", group: worker.group, stateBytes: bytes, totalBytes: this.totalBytes },
          "worker memory cap reached: evicting the least recently used idle worker",
        );
        this.releasing += bytes;
        worker.evict(); // leaves `idle` through changed()
      }
    } finally {
      this.evicting = false;
    }
  }
}
