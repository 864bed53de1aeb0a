/**
 * A process's computed state in memory: a device instance and the last slot it has
 * computed. `computeBatch` moves it forward slot by slot, storing each result durably
 * before returning it (so nothing is notified before it is stored) and snapshotting on
 * every multiple of `snapshotInterval`. Restore = the latest snapshot at or below the
 * latest stored result, then a silent replay up to that result.
 */
import { messageId, type Message } from "../core/message.js";
import type { SlotResult } from "../core/result.js";
import type { Logger } from "../core/log.js";
import type { DeviceInstance, Step, StepOutcome } from "../device/device.js";
import type { ScheduleEntry, Store } from "../store/store.js";
import type { ProcessDefinition } from "./definition.js";

export interface RuntimeDeps {
  store: Store;
  snapshotInterval: bigint;
  snapshotKeep: number;
  logger: Logger;
}

/** Slots replayed per device call while restoring. */
const REPLAY_BATCH = 256;

export class ProcessRuntime {
  private lastSnapshotSlot: bigint | undefined;

  private constructor(
    private readonly deps: RuntimeDeps,
    readonly definition: ProcessDefinition,
    private readonly instance: DeviceInstance,
    private computed: bigint | undefined,
  ) {
    this.lastSnapshotSlot = computed;
  }

  /** The process id. */
  get processId(): string {
    return this.definition.processId;
  }

  /** The last computed slot, or undefined before slot 0. */
  get slot(): bigint | undefined {
    return this.computed;
  }

  /** The next slot to compute. */
  get nextSlot(): bigint {
    return this.computed === undefined ? 0n : this.computed + 1n;
  }

  /**
   * Restores the state after the latest stored result (or before slot 0 if none): from the
   * latest snapshot at or below it, replaying the schedule from there without storing the
   * (identical) results again.
   */
  static async restore(deps: RuntimeDeps, definition: ProcessDefinition): Promise<ProcessRuntime> {
    const { processId, spawn, module, device } = definition;
    const latest = await deps.store.latestResultSlot(processId);
    const snapshot = latest === undefined ? undefined : await deps.store.latestSnapshot(processId, latest);
    const instance = await device.instantiate({ processId, spawn, ...(module ? { module } : {}) });
    try {
      if (snapshot !== undefined) await instance.importState(snapshot.state);
      const runtime = new ProcessRuntime(deps, definition, instance, snapshot?.slot);
      if (latest !== undefined) {
        while (runtime.nextSlot <= latest) await runtime.advance(latest, REPLAY_BATCH, false);
      }
      deps.logger.debug(
        { event: "restored", processId, snapshotSlot: snapshot?.slot?.toString(), slot: latest?.toString() },
        "process restored",
      );
      return runtime;
    } catch (err) {
      await instance.close();
      throw err;
    }
  }

  /**
   * Computes the next slots up to `target`, at most `maxSlots` of them and never past the
   * next snapshot boundary; stores their results (one durable write) and returns them in
   * slot order. Returns [] when `target` is already computed.
   */
  computeBatch(target: bigint, maxSlots: number): Promise<SlotResult[]> {
    return this.advance(target, maxSlots, true);
  }

  private async advance(target: bigint, maxSlots: number, store: boolean): Promise<SlotResult[]> {
    const first = this.nextSlot;
    if (first > target) return [];
    const interval = this.deps.snapshotInterval;
    const boundary = first === 0n ? 0n : ((first + interval - 1n) / interval) * interval;
    let last = first + BigInt(Math.max(1, maxSlots)) - 1n;
    if (last > target) last = target;
    if (last > boundary && boundary >= first) last = boundary;
    const entries = await this.deps.store.readSchedule(this.processId, first, last);
    const results = await this.run(first, last, entries);
    if (store) await this.deps.store.putResults(results);
    this.computed = last;
    if (store && last % interval === 0n) await this.snapshot();
    return results;
  }

  /** Runs slots first..last; a slot whose schedule entry cannot be read fails (phase schedule). */
  private async run(first: bigint, last: bigint, entries: ScheduleEntry[]): Promise<SlotResult[]> {
    const bySlot = new Map(entries.map((e) => [e.slot, e]));
    const results: SlotResult[] = [];
    let steps: Step[] = [];
    const flush = async (): Promise<void> => {
      if (steps.length === 0) return;
      const outcomes = await this.instance.run(steps);
      steps.forEach((step, i) => results.push(this.toResult(step, outcomes[i])));
      steps = [];
    };
    for (let slot = first; slot <= last; slot++) {
      const entry = bySlot.get(slot);
      if (entry === undefined) {
        await flush();
        results.push({
          processId: this.processId,
          slot,
          messageId: "",
          error: {
            phase: "schedule",
            attemptedSlot: slot,
            message: `schedule entry for slot ${slot} could not be read`,
          },
        });
      } else {
        steps.push({ slot, messageId: entry.messageId, message: entry.message });
      }
    }
    await flush();
    return results;
  }

  private toResult(step: Step, outcome: StepOutcome | undefined): SlotResult {
    const base = { processId: this.processId, slot: step.slot, messageId: step.messageId };
    if (outcome === undefined) {
      return { ...base, error: { phase: "compute", attemptedSlot: step.slot, message: "device returned no outcome" } };
    }
    if ("error" in outcome)
      return { ...base, error: { phase: "compute", attemptedSlot: step.slot, message: outcome.error } };
    return { ...base, output: outcome.output };
  }

  /**
   * Evaluates `message` against the current state as if it were the next slot, without
   * storing anything or changing the state (DryRun). The result's `slot` is the last computed
   * slot, the state it was evaluated against; call it only once slot 0 is computed (a dry run
   * against the state before initialisation means nothing).
   */
  async dryRun(message: Message): Promise<SlotResult> {
    const at = this.computed ?? 0n;
    const step: Step = { slot: at + 1n, messageId: messageId(message), message };
    const result = this.toResult(step, await this.instance.dryRun(step)); // attemptedSlot: at + 1
    return { ...result, slot: at };
  }

  /** Writes a snapshot of the current state (if it has none yet) and, in the same write,
   * deletes the snapshots older than the newest `snapshotKeep`. */
  async snapshot(): Promise<void> {
    const slot = this.computed;
    if (slot === undefined || slot === this.lastSnapshotSlot) return;
    const state = await this.instance.exportState();
    const deleteBelow = await this.oldestKept(slot);
    await this.deps.store.putSnapshot({
      processId: this.processId,
      snapshot: { slot, state },
      ...(deleteBelow === undefined ? {} : { deleteBelow }),
    });
    this.lastSnapshotSlot = slot;
    this.deps.logger.debug({ event: "snapshot", processId: this.processId, slot: slot.toString() }, "snapshot written");
  }

  /** The slot of the oldest snapshot to keep once one at `newest` exists, or undefined when
   * fewer than `snapshotKeep` exist (nothing to delete). */
  private async oldestKept(newest: bigint): Promise<bigint | undefined> {
    let keepFrom = newest;
    for (let kept = 1; kept < this.deps.snapshotKeep; kept++) {
      if (keepFrom === 0n) return undefined;
      const older = await this.deps.store.latestSnapshotSlot(this.processId, keepFrom - 1n);
      if (older === undefined) return undefined;
      keepFrom = older;
    }
    return keepFrom === 0n ? undefined : keepFrom;
  }

  /** The whole state, as the device exports it (for determinism checks and snapshots). */
  exportState(): Promise<Uint8Array> {
    return this.instance.exportState();
  }

  /** Bytes of memory held, for the worker memory cap. */
  stateBytes(): number {
    return this.instance.stateBytes();
  }

  /** Frees the device instance. */
  close(): Promise<void> {
    return this.instance.close();
  }
}
