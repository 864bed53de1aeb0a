/**
 * `counter@1.0`: the built-in device for tests, examples and benchmarks. Its state is an
 * integer of at most COUNTER_MAX_DIGITS decimal digits, starting at the spawn message's
 * `Initial` (default 0); each message adds its `Amount` (default 1). `Delay-Ms` makes a slot
 * slow without changing its output, so tests can prove serialisation, dedup and deadlines; an
 * `Amount` that is not such an integer, or a total that would outgrow the bound, fails the
 * slot. The bound keeps every slot's BigInt work small: this device runs on the main thread.
 */
import { excerpt, invalidArgument } from "../core/errors.js";
import type { Message } from "../core/message.js";
import { delay } from "../core/abort.js";
import type { Device, DeviceInstance, DeviceLimits, ProcessContext, Step, StepOutcome } from "./device.js";

/** The most decimal digits of `Initial`, of `Amount` and of the total (README, "Devices"). */
export const COUNTER_MAX_DIGITS = 4096;

const INTEGER = /^-?[0-9]+$/;
/** Totals must stay below this in absolute value. */
const TOTAL_BOUND = 10n ** BigInt(COUNTER_MAX_DIGITS);
const MAX_DELAY_MS = 600_000;

/**
 * Why `text` is not an integer within the digit bound, or undefined when it is one. The
 * length is checked first, so no long value is ever scanned or parsed.
 */
function integerProblem(text: string): string | undefined {
  const digits = text.startsWith("-") ? text.length - 1 : text.length;
  if (digits > COUNTER_MAX_DIGITS)
    return `must be an integer of at most ${COUNTER_MAX_DIGITS} digits, got ${excerpt(text)}`;
  if (!INTEGER.test(text)) return `must be an integer, got ${excerpt(text)}`;
  return undefined;
}

/** The counter device; `limits.slotTimeLimitMs` bounds `Delay-Ms` like any slot's wall time. */
export function createCounterDevice(limits: DeviceLimits): Device {
  return {
    name: "counter@1.0",
    needsModule: false,
    async validate(ctx: ProcessContext): Promise<void> {
      const initial = ctx.spawn.tags["Initial"];
      const problem = initial === undefined ? undefined : integerProblem(initial);
      if (problem !== undefined) throw invalidArgument(`counter@1.0: tag Initial ${problem}`);
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
    for (const step of steps) {
      const outcome = this.step(step);
      outcomes.push(outcome instanceof Promise ? await outcome : outcome);
    }
    return outcomes;
  }

  async dryRun(step: Step): Promise<StepOutcome> {
    const before = this.total;
    try {
      return await this.step(step);
    } finally {
      this.total = before;
    }
  }

  /** A slot's outcome: at once, or (a `Delay-Ms` slot) once its delay has passed, so only
   * slow slots pay for a promise. */
  private step(step: Step): StepOutcome | Promise<StepOutcome> {
    if (step.slot === 0n) {
      const initial = this.ctx.spawn.tags["Initial"] ?? "0";
      // validate() refused anything else at Spawn; a definition stored before the bound fails here.
      const problem = integerProblem(initial);
      if (problem !== undefined) return { error: `Initial ${problem}` };
      this.total = BigInt(initial);
      return { output: totalMessage(this.total) };
    }
    const delayTag = step.message.tags["Delay-Ms"];
    if (delayTag !== undefined) {
      if (!/^[0-9]+$/.test(delayTag) || Number(delayTag) > MAX_DELAY_MS) {
        return { error: `Delay-Ms must be an integer from 0 to ${MAX_DELAY_MS}, got ${excerpt(delayTag)}` };
      }
      const wait = Number(delayTag);
      const limit = this.limits.slotTimeLimitMs;
      if (wait > limit) return delay(limit).then(() => ({ error: `slot time limit of ${limit} ms exceeded` }));
      if (wait > 0) return delay(wait).then(() => this.add(step));
    }
    return this.add(step);
  }

  /** Adds the step's Amount to the total. */
  private add(step: Step): StepOutcome {
    const amount = step.message.tags["Amount"] ?? "1";
    const problem = integerProblem(amount);
    if (problem !== undefined) return { error: `Amount ${problem}` };
    const total = (this.total ?? 0n) + BigInt(amount);
    if (total >= TOTAL_BOUND || total <= -TOTAL_BOUND) {
      return { error: `the total would have more than ${COUNTER_MAX_DIGITS} digits` };
    }
    this.total = total;
    return { output: totalMessage(this.total) };
  }

  async exportState(): Promise<Uint8Array> {
    return new TextEncoder().encode(this.total === undefined ? "" : this.total.toString());
  }

  async importState(state: Uint8Array): Promise<void> {
    const text = new TextDecoder().decode(state);
    if (text !== "" && integerProblem(text) !== undefined) {
      throw invalidArgument(`counter@1.0: a state must be an integer of at most ${COUNTER_MAX_DIGITS} digits`);
    }
    this.total = text === "" ? undefined : BigInt(text);
  }

  stateBytes(): number {
    return 64 + (this.total === undefined ? 0 : Math.ceil(this.total.toString(16).length / 2));
  }

  async close(): Promise<void> {}
}

/** The output of a slot: the total as the tag `Total` and as data (its ASCII digits). */
function totalMessage(total: bigint): Message {
  const text = total.toString();
  const data = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) data[i] = text.charCodeAt(i);
  return { tags: { Total: text }, data };
}
