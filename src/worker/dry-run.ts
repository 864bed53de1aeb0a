/**
 * DryRun: a message evaluated against a process's latest state, kept nowhere. It is mailbox
 * work for the process's worker (grouped as `compute/dry-run`), so it runs in turn with the
 * worker's other work and never sees a half-computed state; the worker first computes up to
 * the latest slot scheduled when the call was accepted. On a node that does not own the
 * process (cluster), it runs on the latest stored state, restored on this node (read-only:
 * no ownership needed).
 */
import { cappedSignal, untilAborted } from "../core/abort.js";
import { ProcworkerError } from "../core/errors.js";
import type { Message } from "../core/message.js";
import type { SlotResult } from "../core/result.js";
import type { Processes } from "../process/processes.js";
import type { Group } from "./group.js";
import type { WorkerRegistry } from "./registry.js";
import { NotOwnerError, type Work } from "./worker.js";

/** The path a dry run is grouped by: a compute path, so it runs in turn with the process's
 * worker when workers are on (and in a one-shot worker of its own when they are off). */
export const DRY_RUN_PATH = "compute/dry-run";

export interface DryRunDeps {
  processes: Processes;
  registry: WorkerRegistry;
  maxAwaitMs: number;
  /** Throws once shutdown has begun. */
  checkOpen: () => void;
}

/** Runs a dry run of `message` on `processId`'s worker of `group` (see the file comment).
 * Ends by the signal or max_await_ms like Await. */
export async function dryRun(
  deps: DryRunDeps,
  group: Group,
  processId: string,
  message: Message,
  signal?: AbortSignal,
): Promise<SlotResult> {
  const { processes, registry, maxAwaitMs } = deps;
  const through = await processes.latestScheduledSlot(processId);
  const capped = cappedSignal(signal, maxAwaitMs, `no dry run result within max_await_ms (${maxAwaitMs} ms)`);
  try {
    for (;;) {
      let work!: Work;
      const result = new Promise<SlotResult>(
        (settle, fail) => (work = { kind: "dry_run", message, through, settle, fail }),
      );
      if (registry.dispatch(group, processId, work)) return await untilAborted(result, capped.signal);
      // Its worker is leaving: wait for its end, then ask the next one.
      await untilAborted(registry.whenEnded(group.name), capped.signal);
      deps.checkOpen();
    }
  } catch (error) {
    if (error instanceof NotOwnerError) return dryRunHere(processes, processId, message);
    throw error;
  } finally {
    capped.dispose();
  }
}

/** A dry run on the latest stored state, restored here: for a process another node owns.
 * It needs slot 0 computed (by the owner). */
async function dryRunHere(processes: Processes, processId: string, message: Message): Promise<SlotResult> {
  const runtime = await processes.restore(processId);
  try {
    if (runtime.slot === undefined) {
      throw new ProcworkerError("aborted", `process ${processId} has no computed slot yet; retry`);
    }
    return await runtime.dryRun(message);
  } finally {
    await runtime.close();
  }
}
