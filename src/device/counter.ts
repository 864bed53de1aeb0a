/**
 * `counter@1.0` (DESIGN §5): the built-in device for tests, examples and benchmarks. Its
 * state is an integer of any size; each message adds its `Amount` (default 1). `Delay-Ms`
 * makes a slot slow without changing its output, so tests can prove serialisation, dedup
 * and deadlines; a non-integer `Amount` makes a slot fail.
 */
import { excerpt, invalidArgument } from "../core/errors.js";
import { message, type Message } from "../core/message.js";
import { delay } from "../core/abort.js";
import type { Device, DeviceInstance, DeviceLimits, ProcessContext, Step, StepOutcome } from "./device.js";

const INTEGER = /^-?[0-9]+$/;
const MAX_DELAY_MS = 600_000;

/** The counter device; `limits.slotTimeLimitMs` bounds `Delay-Ms` like any slot's wall time. */
export function createCounterDevice(limits: DeviceLimits): Device {
  return {
    name: "counter@1.0",
    needsModule: false,
    async validate(ctx: ProcessContext): Promise<void> {
      const initial = ctx.spawn.tags["Initial"];
      if (initial !== undefined && !INTEGER.test(initial)) {
        throw invalidArgument(`counter@1.0: tag Initial must be an integer, got ${excerpt(initial)}`);
      }
    },
    async instantiate(ctx: ProcessContext): Promise<DeviceInstance> {
      return new CounterInstance(ctx, limits);
    },
    async close(): Promise<void> {},
  };
}

/** One counter; `total` is undefined until slot 0 has run. */
class CounterInstance implements DeviceInstance {
  private total: bigint | undefined;

  constructor(
    private readonly ctx: ProcessContext,
    private readonly limits: DeviceLimits,
  ) {}

  async run(steps: Step[]): Promise<StepOutcome[]> {
    const outcomes: StepOutcome[] = [];
    for (const step of steps) outcomes.push(await this.step(step));
    return outcomes;
  }

  private async step(step: Step): Promise<StepOutcome> {
    if (step.slot === 0n) {
      this.total = BigInt(this.ctx.spawn.tags["Initial"] ?? "0");
      return { output: totalMessage(this.total) };
    }
    const delayTag = step.message.tags["Delay-Ms"];
    if (delayTag !== undefined) {
      if (!/^[0-9]+$/.test(delayTag) || Number(delayTag) > MAX_DELAY_MS) {
        return { error: `Delay-Ms must be an integer from 0 to ${MAX_DELAY_MS}, got ${JSON.stringify(delayTag)}` };
      }
      const wait = Number(delayTag);
      if (wait > this.limits.slotTimeLimitMs) {
        await delay(this.limits.slotTimeLimitMs);
        return { error: `slot time limit of ${this.limits.slotTimeLimitMs} ms exceeded` };
      }
      if (wait > 0) await delay(wait);
    }
    const amount = step.message.tags["Amount"] ?? "1";
    if (!INTEGER.test(amount)) return { error: `Amount must be an integer, got ${JSON.stringify(amount)}` };
    this.total = (this.total ?? 0n) + BigInt(amount);
    return { output: totalMessage(this.total) };
  }

  async dryRun(step: Step): Promise<StepOutcome> {
    const total = this.total;
    try {
      return await this.step(step);
    } finally {
      this.total = total;
    }
  }

  async exportState(): Promise<Uint8Array> {
    return new TextEncoder().encode(this.total === undefined ? "" : this.total.toString());
  }

  async importState(state: Uint8Array): Promise<void> {
    const text = new TextDecoder().decode(state);
    this.total = text === "" ? undefined : BigInt(text);
  }

  stateBytes(): number {
    return 64 + (this.total === undefined ? 0 : Math.ceil(this.total.toString(16).length / 2));
  }

  async close(): Promise<void> {}
}

function totalMessage(total: bigint): Message {
  const text = total.toString();
  return message({ Total: text }, text);
}
