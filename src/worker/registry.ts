/**
 * The worker registry (HyperBEAM's hb_persistent registry): at most one worker per group.
 * It starts workers on demand, routes requests to them, hands a retiring worker's late
 * requests to its successor, and keeps the live workers' state under `maxWorkerBytes` by
 * evicting the least recently used idle worker (which snapshots first).
 */
import type { Logger } from "../core/log.js";
import type { SlotResult } from "../core/result.js";
import type { Processes } from "../process/processes.js";
import type { Group } from "./group.js";
import { Worker, type ComputeRequest, type WorkerExit } from "./worker.js";

export interface RegistryOptions {
  processes: Processes;
  logger: Logger;
  maxIdleMs: number;
  batchSlots: number;
  maxWorkerBytes: number;
  /** Delivers a stored result to the process's callers; returns the waiters notified. */
  notifyCompute: (worker: Worker, result: SlotResult) => number;
  /** Called once a worker's loop has ended and it has left the registry. */
  onExit: (worker: Worker, exit: WorkerExit) => void;
  /** Called when a worker starts, ends or is given a request. */
  onChange?: () => void;
}

export class WorkerRegistry {
  private readonly workers = new Map<string, Worker>();
  /** Requests for a group whose worker is stopping: they start its successor. */
  private readonly successors = new Map<string, { processId: string; group: Group; requests: ComputeRequest[] }>();
  private stopping = false;

  constructor(private readonly opts: RegistryOptions) {}

  /** The live workers. */
  list(): Worker[] {
    return [...this.workers.values()];
  }

  /** The worker of a group, if live. */
  get(groupName: string): Worker | undefined {
    return this.workers.get(groupName);
  }

  /** The live workers computing a process (one with workers on; any number of one-shots off). */
  ofProcess(processId: string): Worker[] {
    return this.list().filter((w) => w.processId === processId);
  }

  /** Routes a request to its group's worker, starting one if none is live. Ignored once
   * `stopAll` has begun (shutdown starts no worker). */
  dispatch(group: Group, processId: string, request: ComputeRequest): void {
    if (this.stopping) return;
    const current = this.workers.get(group.name);
    if (current === undefined) {
      this.start(group, processId).submit(request);
      this.opts.onChange?.();
    } else if (current.accepting) {
      current.submit(request);
      this.opts.onChange?.();
    } else {
      const waiting = this.successors.get(group.name) ?? { processId, group, requests: [] };
      waiting.requests.push(request);
      this.successors.set(group.name, waiting);
    }
  }

  /** Stops every live worker of a process; resolves once they have ended. */
  async stopProcess(processId: string, snapshot: boolean): Promise<number> {
    const workers = this.ofProcess(processId);
    await Promise.all(workers.map((w) => w.stop(snapshot)));
    return workers.length;
  }

  /** Stops every live worker (shutdown); resolves once all have ended. */
  async stopAll(snapshot: boolean): Promise<void> {
    this.stopping = true;
    this.successors.clear();
    await Promise.all(this.list().map((w) => w.stop(snapshot)));
  }

  /** Resolves once no worker is live (one-shot workers end by themselves; persistent ones
   * when idle long enough, stopped or evicted). */
  async settled(): Promise<void> {
    while (this.workers.size > 0) await Promise.all(this.list().map((w) => w.done));
  }

  /** Total state bytes of the live workers. */
  stateBytes(): number {
    let total = 0;
    for (const w of this.workers.values()) total += w.stateBytes();
    return total;
  }

  private start(group: Group, processId: string): Worker {
    const worker: Worker = new Worker({
      group: group.name,
      processId,
      processes: this.opts.processes,
      logger: this.opts.logger,
      maxIdleMs: this.opts.maxIdleMs,
      persistent: group.kind === "worker",
      batchSlots: this.opts.batchSlots,
      notifyCompute: (result) => this.opts.notifyCompute(worker, result),
      onProgress: (w) => this.enforceMemoryCap(w),
    });
    this.workers.set(group.name, worker);
    void worker.done.then((exit) => this.ended(group, worker, exit));
    return worker;
  }

  private ended(group: Group, worker: Worker, exit: WorkerExit): void {
    if (this.workers.get(group.name) === worker) this.workers.delete(group.name);
    this.opts.onExit(worker, exit);
    this.opts.onChange?.();
    const leftovers = exit.kind === "retired" ? exit.leftovers : [];
    const waiting = this.successors.get(group.name);
    this.successors.delete(group.name);
    for (const request of [...leftovers, ...(waiting?.requests ?? [])]) this.dispatch(group, worker.processId, request);
  }

  /** Evicts least recently used idle workers (never `active`) until under the cap. */
  private enforceMemoryCap(active: Worker): void {
    let total = this.stateBytes();
    if (total <= this.opts.maxWorkerBytes) return;
    const candidates = this.list()
      .filter((w) => w !== active && w.idle)
      .sort((a, b) => b.idleMs - a.idleMs);
    for (const worker of candidates) {
      if (total <= this.opts.maxWorkerBytes) break;
      total -= worker.stateBytes();
      this.opts.logger.info(
        { event: "evicting", group: worker.group, stateBytes: worker.stateBytes(), totalBytes: total },
        "worker memory cap reached: evicting the least recently used idle worker",
      );
      worker.evict();
    }
  }
}
