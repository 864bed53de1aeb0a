/**
 * An engine on a chosen store with the probed counter device, and the leak check every
 * engine test ends with.
 */
import { expect } from "vitest";
import type { Ownership, Signals } from "../../src/core/cluster.js";
import { defaultConfig } from "../../src/core/config.js";
import { silentLogger, type Logger } from "../../src/core/log.js";
import { message, type Message } from "../../src/core/message.js";
import type { Device } from "../../src/device/device.js";
import { createDeviceRegistry } from "../../src/device/registry.js";
import { createMemoryStore } from "../../src/store/memory-store.js";
import type { Store } from "../../src/store/store.js";
import { Engine, type EngineConfig } from "../../src/worker/engine.js";
import { probedCounter, type Probe } from "./devices.js";

export { collect, iterate } from "./streams.js";

export interface TestEngine {
  engine: Engine;
  store: Store;
  probe: Probe;
  /** Spawns a counter process and returns its id. */
  spawnCounter: (tags?: Record<string, string>) => Promise<string>;
}

/** An engine with a memory store (unless given) and the probed counter. */
export function testEngine(
  config: Partial<EngineConfig> = {},
  opts: {
    store?: Store;
    devices?: Device[];
    slotTimeLimitMs?: number;
    logger?: Logger;
    ownership?: Ownership;
    signals?: Signals;
  } = {},
): TestEngine {
  const { device, probe } = probedCounter(opts.slotTimeLimitMs);
  const store = opts.store ?? createMemoryStore();
  const base = defaultConfig();
  const engine = new Engine({
    store,
    devices: createDeviceRegistry([device, ...(opts.devices ?? [])]),
    logger: opts.logger ?? silentLogger(),
    ...(opts.ownership ? { ownership: opts.ownership } : {}),
    ...(opts.signals ? { signals: opts.signals } : {}),
    config: {
      processWorkers: base.processWorkers,
      processWorkerMaxIdle: base.processWorkerMaxIdle,
      snapshotInterval: base.snapshotInterval,
      snapshotKeep: base.snapshotKeep,
      maxWorkerBytes: base.maxWorkerBytes,
      maxAwaitMs: base.maxAwaitMs,
      subscriberBuffer: base.subscriberBuffer,
      subscriberStallMs: base.subscriberStallMs,
      ...config,
    },
  });
  return {
    engine,
    store,
    probe,
    spawnCounter: (tags = {}) => engine.spawn(message({ "Execution-Device": "counter@1.0", ...tags })),
  };
}

/** Messages that add the given amounts (strings pass through, to make failing slots). */
export function adds(...amounts: (number | string | Record<string, string>)[]): Message[] {
  return amounts.map((a) => (typeof a === "object" ? message(a) : message({ Amount: String(a) })));
}

/** The Total tag of each result (or "error: …"). */
export function totals(results: { output?: Message; error?: { message: string } }[]): string[] {
  return results.map((r) => (r.error ? `error: ${r.error.message}` : (r.output?.tags["Total"] ?? "?")));
}

/** Asserts that nothing is left attached and, unless allowed, no worker is live; then closes. */
export async function closeWithoutLeaks(t: TestEngine, allowWorkers = true): Promise<void> {
  expect(t.engine.attached()).toEqual({ waiters: 0, streams: 0, hubs: 0 });
  if (!allowWorkers) expect(t.engine.listWorkers()).toEqual([]);
  await t.engine.close();
  expect(t.engine.listWorkers()).toEqual([]);
  expect(t.probe.running).toBe(0);
  expect(t.probe.closed).toBe(t.probe.instances);
}
