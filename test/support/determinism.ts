/**
 * The determinism check of docs/design.md §2.8, for any device: compute a schedule with a warm
 * worker, then restore from every snapshot it left (and cold, from nothing), compute to
 * the end, and return everything a test compares byte for byte.
 */
import { expect } from "vitest";
import { canonicalBytes, type Message } from "../../src/core/message.js";
import type { SlotResult } from "../../src/core/result.js";
import { silentLogger } from "../../src/core/log.js";
import { ProcessRuntime } from "../../src/process/runtime.js";
import type { Engine } from "../../src/worker/engine.js";
import type { Store } from "../../src/store/store.js";
import { collect } from "./engine.js";

/** A view of `store` as it was right after `slot` was computed and snapshotted (undefined:
 * before anything was computed); writes go nowhere. */
export function viewAt(store: Store, slot: bigint | undefined): Store {
  return {
    ...store,
    createProcess: (...a) => store.createProcess(...a),
    getProcess: (...a) => store.getProcess(...a),
    getModule: (...a) => store.getModule(...a),
    appendSchedule: (...a) => store.appendSchedule(...a),
    latestScheduledSlot: (...a) => store.latestScheduledSlot(...a),
    readSchedule: (...a) => store.readSchedule(...a),
    readEncodedSchedule: (...a) => store.readEncodedSchedule(...a),
    putResults: async () => undefined,
    getResult: async (p, s) => (slot !== undefined && s <= slot ? store.getResult(p, s) : undefined),
    readResults: async (p, from, to, limit) =>
      slot === undefined ? [] : store.readResults(p, from, to < slot ? to : slot, limit),
    readEncodedResults: async (p, from, to, limit) =>
      slot === undefined ? [] : store.readEncodedResults(p, from, to < slot ? to : slot, limit),
    latestResultSlot: async () => slot,
    putSnapshot: async () => undefined,
    latestSnapshot: async (p, at) => {
      if (slot === undefined) return undefined;
      const found = await store.latestSnapshot(p, at < slot ? at : slot);
      return found?.slot === slot ? found : undefined;
    },
    latestSnapshotSlot: async () => undefined,
    close: async () => undefined,
  };
}

/** Results encoded for byte comparison; a message is its canonical bytes (docs/design.md §1.1),
 * so tags compare as the map they are, whatever order a device wrote them in. */
export function resultBytes(results: SlotResult[]): string {
  return JSON.stringify(
    results.map((r) => ({
      ...r,
      output: r.output === undefined ? undefined : canonicalBytes(r.output).toString("base64"),
    })),
    (_, v: unknown) => (typeof v === "bigint" ? `${v}n` : v),
  );
}

/**
 * Schedules `messages`, computes them warm, then for every snapshot slot (and cold) restores
 * a fresh runtime, computes to the end and asserts byte-identical results and final state.
 * Returns how many restores were compared.
 */
export async function assertDeterministic(
  engine: Engine,
  store: Store,
  processId: string,
  messages: Message[],
): Promise<number> {
  if (messages.length > 0) await engine.schedule(processId, messages);
  const warm = await collect(await engine.compute(processId, undefined));
  const last = BigInt(messages.length);
  expect(warm.at(-1)?.slot).toBe(last);
  const definition = await engine.processes.definition(processId);
  const warmRuntime = await restoreAt(store, definition, last);
  const warmState = Buffer.from(await warmRuntime.exportState());
  await warmRuntime.close();
  const allResults = await store.readResults(processId, 0n, last, Number(last) + 1);
  const starts: (bigint | undefined)[] = [undefined];
  for (let s = 0n; s <= last; s++) if ((await store.latestSnapshot(processId, s))?.slot === s) starts.push(s);
  for (const start of starts) {
    const runtime = await restoreAt(store, definition, start);
    const replayed: SlotResult[] = [];
    while (runtime.nextSlot <= last) replayed.push(...(await runtime.computeBatch(last, 7)));
    const expected = allResults.filter((r) => start === undefined || r.slot > start);
    expect(resultBytes(replayed), `restored from ${start ?? "nothing"}`).toBe(resultBytes(expected));
    expect(
      Buffer.from(await runtime.exportState()).equals(warmState),
      `state restored from ${start ?? "nothing"}`,
    ).toBe(true);
    await runtime.close();
  }
  expect(resultBytes(warm)).toBe(resultBytes(allResults.slice(-warm.length)));
  return starts.length;
}

async function restoreAt(
  store: Store,
  definition: Awaited<ReturnType<Engine["processes"]["definition"]>>,
  slot: bigint | undefined,
): Promise<ProcessRuntime> {
  const view = slot === undefined ? viewAt(store, undefined) : viewAt(store, slot);
  // A view at `slot` without a snapshot exactly there replays from the latest one below.
  const lenient: Store =
    slot === undefined ? view : { ...view, latestSnapshot: (p, at) => store.latestSnapshot(p, at < slot ? at : slot) };
  return ProcessRuntime.restore(
    { store: lenient, snapshotInterval: 1n << 62n, snapshotKeep: 1, logger: silentLogger() },
    definition,
  );
}
