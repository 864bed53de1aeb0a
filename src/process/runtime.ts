/**
 * A process's computed state in memory: a device instance and the last slot it has
 * computed. `computeAhead` moves it forward slot by slot and starts the batch's durable
 * write, which the caller awaits before anyone hears of the results; the next batch can be
 * computed meanwhile (the commit of one batch overlaps the computation of the next). Writes
 * run one after the other, each once the previous one is durable, so the store never holds
 * a batch without every batch before it. Snapshots at multiples of `snapshotInterval` go in
 * the same write as their results. Restore = the latest snapshot at or below the latest
 * stored result, then a silent replay up to that result.
 */
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { ProcworkerError } from "../core/errors.js";
import { inCanonicalOrder, messageId, type Message } from "../core/message.js";
import type { SlotResult } from "../core/result.js";
import type { Logger } from "../core/log.js";
import {
  isEncoded,
  type DeviceInstance,
  type EncodedStep,
  type Step,
  type StepOutcome,
  type Steps,
} from "../device/device.js";
import type { EncodedScheduleEntry, ScheduleEntry, Snapshot, SnapshotWrite, Store } from "../store/store.js";
import type { ProcessDefinition } from "./definition.js";

export interface RuntimeDeps {
  store: Store;
  snapshotInterval: bigint;
  snapshotKeep: number;
  logger: Logger;
}

/** A computed batch on its way to the store: `stored` resolves once its results (and
 * snapshots) are durable. Nobody may hear of the results before (docs/design.md §2.10). */
export interface ComputedBatch {
  results: SlotResult[];
  stored: Promise<void>;
  /** The most slots the batch was sized for: the `maxSlots` it was planned with (a batch
   * handed to the device early keeps the size it had then). Fewer results: cut short. */
  size: number;
}

/** A schedule entry as read for the device: decoded, or left encoded for a device that
 * takes encoded steps (`DeviceInstance.runEncoded`). */
type Entry = ScheduleEntry | EncodedScheduleEntry;

/** What a batch asks of its device (`plan`). */
type PlanItem = { steps: Steps } | { missing: SlotResult } | { exportAfter: bigint };

/** A run of steps handed to the device, or a slot whose schedule entry could not be read. */
type PostedPart = { steps: Steps; outcomes: Promise<StepOutcome[]> } | { missing: SlotResult };

/** A batch handed to an off-thread device, through slot `last`: its parts in slot order and
 * the states it exports. */
interface PostedBatch {
  /** The `maxSlots` it was planned with. */
  size: number;
  last: bigint;
  parts: PostedPart[];
  snapshots: { slot: bigint; state: Promise<Uint8Array> }[];
}

/** The last slot of a batch of at most `maxSlots` from `first`, not beyond `target`. */
function rangeEnd(first: bigint, maxSlots: number, target: bigint): bigint {
  const end = first + BigInt(Math.max(1, maxSlots)) - 1n;
  return end > target ? target : end;
}

/** Slots replayed per batch while restoring. */
const REPLAY_BATCH = 256;
/** Most slots per device call, for a device that computes on the main thread. Between calls
 * the event loop gets a turn, so a long batch of a device that never waits (counter@1.0)
 * does not hold back I/O: the results streamed to clients, other calls, the durable write of
 * the previous batch completing. A device that computes off the thread is handed the whole
 * batch (`post`). */
const DEVICE_CHUNK = 256;

export class ProcessRuntime {
  private lastSnapshotSlot: bigint | undefined;
  /** The next batch, handed to an off-thread device while the caller stores this one. */
  private posted: PostedBatch | undefined;
  /** The next batch's schedule, read while the device computes (off-thread devices only). */
  private prefetched: { first: bigint; last: bigint; entries: Promise<Entry[]> } | undefined;
  /** Whether the schedule is read encoded and handed over so: an off-thread device that
   * takes encoded steps (it would only encode the decoded messages again). */
  private readonly encodedSteps: boolean;
  /** The latest durable write started: each write waits for the one before it. */
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly deps: RuntimeDeps,
    readonly definition: ProcessDefinition,
    private readonly instance: DeviceInstance,
    private computed: bigint | undefined,
  ) {
    this.lastSnapshotSlot = computed;
    this.encodedSteps = instance.computesOffThread === true && instance.runEncoded !== undefined;
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
   * Computes the next slots up to `target`, at most `maxSlots` of them; stores their results
   * (one durable write, with the snapshots of the batch) and returns them in slot order.
   * Returns [] when `target` is already computed.
   */
  async computeBatch(target: bigint, maxSlots: number): Promise<SlotResult[]> {
    const batch = await this.computeAhead(target, maxSlots);
    await batch.stored;
    return batch.results;
  }

  /**
   * Computes the next slots up to `target`, at most `maxSlots` of them, and starts their
   * durable write (after every earlier one). Returns the results, in slot order, with the
   * promise of that write: the caller publishes them only once it resolves. The state moves on
   * at once, so the next batch can be computed while this one is being written.
   */
  async computeAhead(target: bigint, maxSlots: number, goOn?: () => boolean): Promise<ComputedBatch> {
    const { results, snapshots, size } = await this.advance(target, maxSlots, true, goOn);
    return { results, size, stored: results.length === 0 ? this.writing : this.write(results, snapshots) };
  }

  /** Whether a batch was handed to the device ahead (see `advance`): the caller must compute
   * it (`computeAhead`) before anything else asks the state, whatever it decided meanwhile. */
  get hasPosted(): boolean {
    return this.posted !== undefined;
  }

  /**
   * Runs slots nextSlot..min(target, nextSlot + maxSlots − 1). With `snapshotting`, the state
   * is exported after the newest `snapshotKeep` multiples of the interval in that range (the
   * older ones would be deleted by retention in the same write anyway).
   *
   * A device that computes off the main thread gets the whole range at once, and meanwhile
   * the next range's schedule is read. While `goOn()` says the caller will ask for the next
   * batch, that batch is handed to the device before this returns, so the device computes it
   * while the caller stores and publishes this one; the next call takes it as it is (its size
   * was fixed when it was handed over).
   */
  private async advance(
    target: bigint,
    maxSlots: number,
    snapshotting: boolean,
    goOn?: () => boolean,
  ): Promise<{ results: SlotResult[]; snapshots: Snapshot[]; size: number }> {
    const first = this.nextSlot;
    if (first > target) return { results: [], snapshots: [], size: maxSlots };
    const offThread = this.instance.computesOffThread === true;
    let batch: { results: SlotResult[]; snapshots: Snapshot[] };
    let last: bigint;
    let size = maxSlots;
    const posted = this.posted;
    this.posted = undefined;
    if (posted !== undefined) {
      last = posted.last;
      size = posted.size;
      batch = await this.finishPosted(posted);
    } else {
      last = rangeEnd(first, maxSlots, target);
      const points = snapshotting ? this.snapshotPoints(first, last) : [];
      const entries = await this.readSchedule(first, last);
      if (offThread) {
        const handed = this.post(maxSlots, first, last, entries, points);
        if (last < target) this.prefetchSchedule(last + 1n, rangeEnd(last + 1n, maxSlots, target));
        batch = await this.finishPosted(handed);
      } else batch = await this.run(first, last, entries, points);
    }
    this.computed = last;
    if (offThread && last < target && goOn?.() === true) await this.postNext(last + 1n, target, maxSlots, snapshotting);
    return { ...batch, size };
  }

  /** Hands the batch after the one just computed to the device. Best effort: if its schedule
   * cannot be read, nothing is handed over and the next call reads it (and fails) itself, so
   * the batch just computed is still returned, stored and published. */
  private async postNext(next: bigint, target: bigint, maxSlots: number, snapshotting: boolean): Promise<void> {
    const end = rangeEnd(next, maxSlots, target);
    let entries: Entry[];
    try {
      entries = await this.readSchedule(next, end);
    } catch {
      return;
    }
    this.posted = this.post(maxSlots, next, end, entries, snapshotting ? this.snapshotPoints(next, end) : []);
    if (end < target) this.prefetchSchedule(end + 1n, rangeEnd(end + 1n, maxSlots, target));
  }

  /**
   * Hands slots first..last to an off-thread device without waiting (the device keeps its
   * calls in order): see `plan`.
   */
  private post(size: number, first: bigint, last: bigint, entries: Entry[], points: bigint[]): PostedBatch {
    const parts: PostedPart[] = [];
    const snapshots: PostedBatch["snapshots"] = [];
    for (const item of this.plan(first, last, entries, points, Infinity)) {
      if ("steps" in item) {
        const outcomes = this.runSteps(item.steps);
        outcomes.catch(() => undefined); // awaited when the batch is taken, or dropped with the runtime
        parts.push({ steps: item.steps, outcomes });
      } else if ("missing" in item) parts.push(item);
      else {
        const state = this.instance.exportState();
        state.catch(() => undefined);
        snapshots.push({ slot: item.exportAfter, state });
      }
    }
    return { size, last, parts, snapshots };
  }

  /** The results of a batch handed to the device, in slot order, and its snapshots. */
  private async finishPosted(posted: PostedBatch): Promise<{ results: SlotResult[]; snapshots: Snapshot[] }> {
    const results: SlotResult[] = [];
    for (const part of posted.parts) {
      if ("missing" in part) results.push(part.missing);
      else {
        const outcomes = await part.outcomes;
        part.steps.forEach((step, i) => results.push(this.toResult(step, outcomes[i])));
      }
    }
    const snapshots: Snapshot[] = [];
    for (const { slot, state } of posted.snapshots) snapshots.push({ slot, state: await state });
    return { results, snapshots };
  }

  /** The schedule entries of first..last, from the prefetched read when it covers `first`. */
  private async readSchedule(first: bigint, last: bigint): Promise<Entry[]> {
    const prefetched = this.prefetched;
    this.prefetched = undefined;
    if (prefetched === undefined || prefetched.first !== first) return this.readEntries(first, last);
    const entries = (await prefetched.entries).filter((entry) => entry.slot <= last);
    if (prefetched.last >= last) return entries;
    return [...entries, ...(await this.readEntries(prefetched.last + 1n, last))];
  }

  /** Entries first..last from the store: left encoded when the device takes them so. */
  private readEntries(first: bigint, last: bigint): Promise<Entry[]> {
    const { store } = this.deps;
    return this.encodedSteps
      ? store.readEncodedSchedule(this.processId, first, last)
      : store.readSchedule(this.processId, first, last);
  }

  /** Starts reading first..last of the schedule after an event-loop turn (the schedule
   * through the target is durable and never changes, so it can be read early). */
  private prefetchSchedule(first: bigint, last: bigint): void {
    const entries = yieldToEventLoop().then(() => this.readEntries(first, last));
    entries.catch(() => undefined); // a failed read fails the batch that uses it, if any
    this.prefetched = { first, last, entries };
  }

  /** Hands steps to the device, encoded ones to `runEncoded` (there are some only when the
   * device has it: `encodedSteps`). */
  private runSteps(steps: Steps): Promise<StepOutcome[]> {
    return isEncoded(steps) ? this.instance.runEncoded!(steps) : this.instance.run(steps);
  }

  /** The multiples of the snapshot interval in first..last, the newest `snapshotKeep` of
   * them, in ascending order. */
  private snapshotPoints(first: bigint, last: bigint): bigint[] {
    const interval = this.deps.snapshotInterval;
    const points: bigint[] = [];
    for (let at = (last / interval) * interval; at >= first && points.length < this.deps.snapshotKeep; at -= interval) {
      points.unshift(at);
    }
    return points;
  }

  /** Starts the durable write of a batch once the previous write is durable. */
  private write(results: SlotResult[], snapshots: Snapshot[]): Promise<void> {
    const newest = snapshots[snapshots.length - 1];
    if (newest !== undefined) this.lastSnapshotSlot = newest.slot;
    const written = this.writing.then(async () => {
      const writes = snapshots.length === 0 ? undefined : await this.snapshotWrites(snapshots);
      await this.deps.store.putResults(results, writes);
      if (newest !== undefined) this.logSnapshot(newest.slot);
    });
    // The caller awaits it; a failure must not also surface as an unhandled rejection of
    // the chain (the next write fails with it and is never attempted).
    written.catch(() => undefined);
    this.writing = written;
    return written;
  }

  /** The snapshot writes of a batch: its snapshots, the newest one carrying the retention
   * (everything older than the newest `snapshotKeep`, counting the batch's own). */
  private async snapshotWrites(snapshots: Snapshot[]): Promise<SnapshotWrite[]> {
    const keep = this.deps.snapshotKeep;
    const oldestNew = snapshots[0] as Snapshot;
    const deleteBelow =
      snapshots.length >= keep
        ? (snapshots[snapshots.length - keep] as Snapshot).slot
        : await this.oldestKept(oldestNew.slot, keep - snapshots.length + 1);
    return snapshots.map((snapshot, i) => ({
      processId: this.processId,
      snapshot,
      ...(i === snapshots.length - 1 && deleteBelow !== undefined && deleteBelow > 0n ? { deleteBelow } : {}),
    }));
  }

  /** Runs slots first..last on a device that computes on this thread, one call at a time
   * with an event-loop turn between calls: see `plan`. */
  private async run(
    first: bigint,
    last: bigint,
    entries: Entry[],
    points: bigint[],
  ): Promise<{ results: SlotResult[]; snapshots: Snapshot[] }> {
    const results: SlotResult[] = [];
    const snapshots: Snapshot[] = [];
    let calls = 0;
    for (const item of this.plan(first, last, entries, points, DEVICE_CHUNK)) {
      if ("steps" in item) {
        if (calls++ > 0) await yieldToEventLoop();
        const outcomes = await this.runSteps(item.steps);
        item.steps.forEach((step, i) => results.push(this.toResult(step, outcomes[i])));
      } else if ("missing" in item) results.push(item.missing);
      else snapshots.push({ slot: item.exportAfter, state: await this.instance.exportState() });
    }
    return { results, snapshots };
  }

  /**
   * Slots first..last as what the device is asked, in order: runs of at most `chunk` steps,
   * a schedule-phase error for each slot whose entry cannot be read, and a state export
   * right after each slot of `points`.
   */
  private plan(first: bigint, last: bigint, entries: Entry[], points: bigint[], chunk: number): PlanItem[] {
    const items: PlanItem[] = [];
    let steps: (Step | EncodedStep)[] = [];
    let point = 0;
    let next = 0; // entries come in slot order, missing ones skipped
    const cut = (): void => {
      if (steps.length > 0) items.push({ steps: steps as Steps });
      steps = [];
    };
    for (let slot = first; slot <= last; slot++) {
      while (next < entries.length && (entries[next] as Entry).slot < slot) next++;
      const entry = entries[next]?.slot === slot ? entries[next] : undefined;
      if (entry === undefined) {
        cut();
        items.push({ missing: this.unreadable(slot) });
      } else if ("canonical" in entry) steps.push({ slot, messageId: entry.messageId, canonical: entry.canonical });
      else steps.push({ slot, messageId: entry.messageId, message: entry.message });
      if (steps.length >= chunk) cut();
      if (slot === points[point]) {
        cut();
        items.push({ exportAfter: slot });
        point++;
      }
    }
    cut();
    return items;
  }

  /** The result of a slot whose schedule entry could not be read. */
  private unreadable(slot: bigint): SlotResult {
    const message = `schedule entry for slot ${slot} could not be read`;
    return {
      processId: this.processId,
      slot,
      messageId: "",
      error: { phase: "schedule", attemptedSlot: slot, message },
    };
  }

  private toResult(step: { slot: bigint; messageId: string }, outcome: StepOutcome | undefined): SlotResult {
    const { processId } = this;
    if (outcome === undefined) {
      const error = { phase: "compute" as const, attemptedSlot: step.slot, message: "device returned no outcome" };
      return { processId, slot: step.slot, messageId: step.messageId, error };
    }
    if ("error" in outcome) {
      const error = { phase: "compute" as const, attemptedSlot: step.slot, message: outcome.error };
      return { processId, slot: step.slot, messageId: step.messageId, error };
    }
    return { processId, slot: step.slot, messageId: step.messageId, output: inCanonicalOrder(outcome.output) };
  }

  /**
   * Evaluates `message` against the current state as if it were the next slot, without
   * storing anything or changing the state (DryRun). The result's `slot` is the last computed
   * slot, the state it was evaluated against; call it only once slot 0 is computed (a dry run
   * against the state before initialisation means nothing).
   */
  async dryRun(message: Message): Promise<SlotResult> {
    this.assertNothingPosted("a dry run");
    const at = this.computed ?? 0n;
    const step: Step = { slot: at + 1n, messageId: messageId(message), message };
    const result = this.toResult(step, await this.instance.dryRun(step)); // attemptedSlot: at + 1
    return { ...result, slot: at };
  }

  /** Writes a snapshot of the current state (if it has none yet), after every batch's write,
   * and in the same write deletes the snapshots older than the newest `snapshotKeep`. */
  async snapshot(): Promise<void> {
    this.assertNothingPosted("a snapshot");
    await this.writing;
    const slot = this.computed;
    if (slot === undefined || slot === this.lastSnapshotSlot) return;
    const state = await this.instance.exportState();
    const deleteBelow = await this.oldestKept(slot, this.deps.snapshotKeep);
    await this.deps.store.putSnapshot({
      processId: this.processId,
      snapshot: { slot, state },
      ...(deleteBelow === undefined ? {} : { deleteBelow }),
    });
    this.lastSnapshotSlot = slot;
    this.logSnapshot(slot);
  }

  /** The slot of the oldest snapshot to keep once one at `newest` exists and `count`
   * snapshots are kept (it and the older ones stored), or undefined when there are fewer
   * (nothing to delete). */
  private async oldestKept(newest: bigint, count: number): Promise<bigint | undefined> {
    let keepFrom = newest;
    for (let kept = 1; kept < count; kept++) {
      if (keepFrom === 0n) return undefined;
      const older = await this.deps.store.latestSnapshotSlot(this.processId, keepFrom - 1n);
      if (older === undefined) return undefined;
      keepFrom = older;
    }
    return keepFrom === 0n ? undefined : keepFrom;
  }

  private logSnapshot(slot: bigint): void {
    if (!this.deps.logger.isLevelEnabled("debug")) return;
    this.deps.logger.debug({ event: "snapshot", processId: this.processId, slot: slot.toString() }, "snapshot written");
  }

  /** The whole state, as the device exports it (for determinism checks and snapshots). */
  async exportState(): Promise<Uint8Array> {
    this.assertNothingPosted("exporting the state");
    return this.instance.exportState();
  }

  /** The device's state is that of the last computed slot only when no batch was handed to
   * it ahead; the worker takes every such batch before it asks anything else. */
  private assertNothingPosted(what: string): void {
    if (this.posted === undefined) return;
    throw new ProcworkerError("internal", `${what} of process ${this.processId} while a batch is on its device`);
  }

  /** Bytes of memory held, for the worker memory cap. */
  stateBytes(): number {
    return this.instance.stateBytes();
  }

  /** Frees the device instance, once the writes started have settled. */
  async close(): Promise<void> {
    await this.writing.catch(() => undefined);
    await this.instance.close();
  }
}
