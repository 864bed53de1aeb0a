/**
 * What ListWorkers and GetProcess show of workers and processes: plain views, built from a
 * worker and the process's hub (the callers attached on this node).
 */
import type { Message } from "../core/message.js";
import type { ProcessHub } from "./process-hub.js";
import type { ProcessWorker } from "./worker.js";

/** One live worker as ListWorkers shows it (HyperBEAM's monitor "sitrep"). */
export interface WorkerStatus {
  group: string;
  processId: string;
  atSlot: bigint | undefined;
  mailbox: number;
  waiters: number;
  subscribers: number;
  idleMs: number;
  stateBytes: number;
  /** The lifecycle state's name (see WorkerState), or `remote` (another node computes it). */
  state: string;
  /** The node it runs on (its address). */
  node: string;
}

/** A process as GetProcess shows it. */
export interface ProcessStatus {
  processId: string;
  spawn: Message;
  device: string;
  latestScheduledSlot: bigint;
  latestComputedSlot: bigint | undefined;
  latestSnapshotSlot: bigint | undefined;
  /** Its worker, if one is live here or on another node (with workers off, the first of its
   * one-shot workers). */
  worker: WorkerStatus | undefined;
}

/** A worker is listed once it owns its process: not while it is still acquiring. */
export const isListed = (worker: ProcessWorker): boolean => worker.state.name !== "acquiring";

/** The status of a live worker of this node. */
export function workerStatus(worker: ProcessWorker, hub: ProcessHub | undefined, node: string): WorkerStatus {
  const state = worker.state;
  return {
    group: worker.group,
    processId: worker.processId,
    atSlot: worker.atSlot,
    mailbox: worker.mailboxSize,
    waiters: hub?.waiterCount ?? 0,
    subscribers: hub?.subscriberCount ?? 0,
    idleMs: state.name === "idle" ? Math.max(0, Date.now() - state.since) : 0,
    stateBytes: worker.stateBytes(),
    state: state.name,
    node,
  };
}

/** The status of a process's worker on another node (cluster), as far as this node can tell:
 * which node holds the process's lock. The counts are this node's callers. */
export function remoteWorkerStatus(processId: string, hub: ProcessHub | undefined, node: string): WorkerStatus {
  return {
    group: processId,
    processId,
    atSlot: undefined,
    mailbox: 0,
    waiters: hub?.waiterCount ?? 0,
    subscribers: hub?.subscriberCount ?? 0,
    idleMs: 0,
    stateBytes: 0,
    state: "remote",
    node,
  };
}
