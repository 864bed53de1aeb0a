/**
 * The process hubs of an engine, by process id, and the one door through which computed
 * results and worker ends come up from the workers (WorkerSink). A hub exists while someone
 * waits on its process; results of a process nobody waits on are stored and go no further.
 * In a cluster, results computed on other nodes and schedules made there come in through
 * `computedElsewhere` and `scheduled`, the same way.
 */
import type { Signals } from "../core/cluster.js";
import type { SlotResult } from "../core/result.js";
import type { Changes } from "./changes.js";
import { ProcessHub, type HubContext } from "./process-hub.js";
import type { WorkerExit, WorkerSink } from "./worker.js";

export class ProcessHubs implements WorkerSink {
  private readonly hubs = new Map<string, ProcessHub>();
  private failure: Error | undefined;

  /** @param signals where this node's computed results are announced to other nodes */
  constructor(
    private readonly ctx: HubContext & { changes: Changes },
    private readonly signals: Signals,
  ) {}

  /** The hub of `processId`, made on first use. Attach to it before any await, so it is not
   * dropped as empty in between. */
  hubFor(processId: string): ProcessHub {
    let hub = this.hubs.get(processId);
    if (hub === undefined) {
      hub = new ProcessHub(processId, this.ctx, (empty) => {
        if (this.hubs.get(processId) === empty) this.hubs.delete(processId);
      });
      this.hubs.set(processId, hub);
      if (this.failure !== undefined) hub.failAll(this.failure);
    }
    return hub;
  }

  /** The hub of `processId`, if someone waits on it. */
  get(processId: string): ProcessHub | undefined {
    return this.hubs.get(processId);
  }

  computed(processId: string, group: string, results: SlotResult[]): number {
    const first = results[0];
    const last = results[results.length - 1];
    if (first !== undefined && last !== undefined) this.signals.computed(processId, first.slot, last.slot);
    return this.hubs.get(processId)?.publish(group, results) ?? 0;
  }

  /** Slots up to `to` of `processId` were computed by another node. */
  computedElsewhere(processId: string, to: bigint): void {
    this.hubs.get(processId)?.computedElsewhere(to);
  }

  /** Signals may have been missed: every hub catches up with the store. */
  resync(): void {
    for (const hub of this.hubs.values()) hub.resync();
  }

  ended(processId: string, group: string, exit: WorkerExit): void {
    this.hubs.get(processId)?.workerEnded(group, exit);
  }

  /** Slots up to `latest` of `processId` are scheduled (here or, in a cluster, elsewhere). */
  scheduled(processId: string, latest: bigint): void {
    this.hubs.get(processId)?.scheduled(latest);
  }

  /** Callers attached, for leak checks and metrics. */
  attached(): { waiters: number; streams: number; hubs: number } {
    let waiters = 0;
    let streams = 0;
    for (const hub of this.hubs.values()) {
      waiters += hub.waiterCount;
      streams += hub.streamCount;
    }
    return { waiters, streams, hubs: this.hubs.size };
  }

  /** Fails every caller, now and later, with `error` (shutdown). */
  failAll(error: Error): void {
    this.failure ??= error;
    for (const hub of [...this.hubs.values()]) hub.failAll(error);
  }
}
