/**
 * Test devices: the real counter wrapped so tests can hold a slot, count executions and
 * concurrency, and break an instance (as a dead worker thread would).
 */
import { createCounterDevice } from "../../src/device/counter.js";
import type { Device, DeviceInstance, Step, StepOutcome } from "../../src/device/device.js";

export interface Probe {
  /** Device calls and slots run (restore replays included). */
  calls: number;
  steps: Step[];
  /** Steps per run call, in call order. */
  runs: number[];
  running: number;
  maxRunning: number;
  instances: number;
  closed: number;
  /** While set, every run waits for it. */
  gate: Promise<void> | undefined;
  /** Resolves the gate. */
  open: () => void;
  /** Closes the gate: runs wait until `open`. */
  hold: () => void;
  /** The next run rejects (the instance is broken). */
  breakNext: (error?: Error) => void;
  /** Resolves when a run has started (after the current count). */
  started: () => Promise<void>;
  /** stateBytes() calls, by process id (the worker memory cap asks for them). */
  stateBytesCalls: Map<string, number>;
}

/** A counter@1.0 device instrumented for tests; `offThread`: its instances say they compute
 * off the main thread (so the engine hands them batches ahead). */
export function probedCounter(
  slotTimeLimitMs = 5_000,
  opts: { offThread?: boolean } = {},
): { device: Device; probe: Probe } {
  const inner = createCounterDevice({ slotTimeLimitMs });
  let release: () => void = () => undefined;
  let broken: Error | undefined;
  let onStart: (() => void)[] = [];
  const probe: Probe = {
    calls: 0,
    steps: [],
    runs: [],
    running: 0,
    maxRunning: 0,
    instances: 0,
    closed: 0,
    gate: undefined,
    open: () => {
      probe.gate = undefined;
      release();
    },
    hold: () => {
      probe.gate = new Promise((resolve) => (release = resolve));
    },
    breakNext: (error = new Error("instance broken")) => {
      broken = error;
    },
    started: () => new Promise((resolve) => onStart.push(resolve)),
    stateBytesCalls: new Map(),
  };
  const device: Device = {
    name: inner.name,
    needsModule: false,
    validate: (ctx) => inner.validate(ctx),
    async instantiate(ctx) {
      const instance = await inner.instantiate(ctx);
      probe.instances++;
      const wrapped: DeviceInstance = {
        computesOffThread: opts.offThread === true,
        async run(steps: Step[]): Promise<StepOutcome[]> {
          probe.calls++;
          probe.running++;
          probe.maxRunning = Math.max(probe.maxRunning, probe.running);
          const waiting = onStart;
          onStart = [];
          waiting.forEach((f) => f());
          try {
            while (probe.gate) await probe.gate;
            if (broken) {
              const error = broken;
              broken = undefined;
              throw error;
            }
            probe.steps.push(...steps);
            probe.runs.push(steps.length);
            return await instance.run(steps);
          } finally {
            probe.running--;
          }
        },
        dryRun: (step) => instance.dryRun(step),
        exportState: () => instance.exportState(),
        importState: (s) => instance.importState(s),
        stateBytes: () => {
          probe.stateBytesCalls.set(ctx.processId, (probe.stateBytesCalls.get(ctx.processId) ?? 0) + 1);
          return instance.stateBytes();
        },
        async close() {
          probe.closed++;
          await instance.close();
        },
      };
      return wrapped;
    },
    close: () => inner.close(),
  };
  return { device, probe };
}
