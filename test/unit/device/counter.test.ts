/**
 * counter@1.0: bounded integers (no unbounded BigInt work on the main thread), and dry runs
 * that leave the state as it was.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { ProcworkerError } from "../../../src/core/errors.js";
import { message, messageId, type Message } from "../../../src/core/message.js";
import { COUNTER_MAX_DIGITS, createCounterDevice } from "../../../src/device/counter.js";
import type { DeviceInstance, ProcessContext, Step } from "../../../src/device/device.js";
import { errorOf, tagsOf } from "./wasm-fixtures.js";

const device = createCounterDevice({ slotTimeLimitMs: 50 });

function processWith(tags: Record<string, string> = {}): ProcessContext {
  const spawn = message({ "Execution-Device": "counter@1.0", ...tags });
  return { processId: messageId(spawn), spawn };
}

function step(slot: bigint, msg: Message): Step {
  return { slot, messageId: messageId(msg), message: msg };
}

async function started(ctx: ProcessContext): Promise<DeviceInstance> {
  const instance = await device.instantiate(ctx);
  await instance.run([{ slot: 0n, messageId: ctx.processId, message: ctx.spawn }]);
  return instance;
}

async function refusal(ctx: ProcessContext): Promise<ProcworkerError> {
  const err = await device.validate(ctx).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProcworkerError);
  expect((err as ProcworkerError).code).toBe("invalid_argument");
  return err as ProcworkerError;
}

describe("counter@1.0 bounds", () => {
  it(`accepts an Initial of ${COUNTER_MAX_DIGITS} digits, signed or not`, async () => {
    const big = "9".repeat(COUNTER_MAX_DIGITS);
    await expect(device.validate(processWith({ Initial: big }))).resolves.toBeUndefined();
    await expect(device.validate(processWith({ Initial: `-${big}` }))).resolves.toBeUndefined();
    const instance = await started(processWith({ Initial: big }));
    expect(tagsOf((await instance.run([step(1n, message({ Amount: "-9" }))]))[0]).Total).toBe(`${"9".repeat(4095)}0`);
  });

  it("refuses a longer Initial at Spawn with a short message that does not echo it", async () => {
    const err = await refusal(processWith({ Initial: "1".repeat(2_000_000) }));
    expect(err.message).toBe(
      `counter@1.0: tag Initial must be an integer of at most ${COUNTER_MAX_DIGITS} digits, ` +
        `got "${"1".repeat(64)}"… (2000000 characters)`,
    );
    expect((await refusal(processWith({ Initial: "1".repeat(COUNTER_MAX_DIGITS + 1) }))).message.length).toBeLessThan(
      200,
    );
    expect((await refusal(processWith({ Initial: "1.5" }))).message).toBe(
      'counter@1.0: tag Initial must be an integer, got "1.5"',
    );
    const notNumber = (await refusal(processWith({ Initial: "x".repeat(100_000) }))).message;
    expect(notNumber).toBe(
      `counter@1.0: tag Initial must be an integer of at most 4096 digits, got "${"x".repeat(64)}"… (100000 characters)`,
    );
  });

  it("fails a slot whose Amount is too long, and keeps the total", async () => {
    const instance = await started(processWith({ Initial: "5" }));
    const outcomes = await instance.run([
      step(1n, message({ Amount: "7".repeat(2_000_000) })),
      step(2n, message({ Amount: "1" })),
    ]);
    expect(errorOf(outcomes[0])).toBe(
      `Amount must be an integer of at most ${COUNTER_MAX_DIGITS} digits, got "${"7".repeat(64)}"… (2000000 characters)`,
    );
    expect(tagsOf(outcomes[1]).Total).toBe("6");
  });

  it("fails a slot whose total would outgrow the bound, and keeps the total", async () => {
    const big = "9".repeat(COUNTER_MAX_DIGITS);
    const instance = await started(processWith({ Initial: big }));
    const outcomes = await instance.run([step(1n, message({ Amount: "1" })), step(2n, message({ Amount: "-1" }))]);
    expect(errorOf(outcomes[0])).toBe(`the total would have more than ${COUNTER_MAX_DIGITS} digits`);
    expect(tagsOf(outcomes[1]).Total).toBe(`${"9".repeat(COUNTER_MAX_DIGITS - 1)}8`);
  });

  it("refuses to import a state beyond the bound", async () => {
    const instance = await device.instantiate(processWith());
    await expect(instance.importState(new TextEncoder().encode("1".repeat(5000)))).rejects.toMatchObject({
      code: "invalid_argument",
    });
  });
});

describe("counter@1.0 dry runs", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("answers as the slot would and leaves the total as it was", async () => {
    const instance = await started(processWith({ Initial: "10" }));
    const before = await instance.exportState();
    expect(tagsOf(await instance.dryRun(step(1n, message({ Amount: "5" })))).Total).toBe("15");
    expect(errorOf(await instance.dryRun(step(1n, message({ Amount: "x" }))))).toBe(
      'Amount must be an integer, got "x"',
    );
    expect(await instance.exportState()).toEqual(before);
    expect(tagsOf((await instance.run([step(1n, message({ Amount: "2" }))]))[0]).Total).toBe("12");
  });

  it("a dry run past the time limit is an outcome, and the total is untouched", async () => {
    vi.useFakeTimers();
    const instance = await started(processWith({ Initial: "1" }));
    const dry = instance.dryRun(step(1n, message({ "Delay-Ms": "1000", Amount: "5" })));
    await vi.advanceTimersByTimeAsync(50);
    expect(errorOf(await dry)).toBe("slot time limit of 50 ms exceeded");
    expect(tagsOf((await instance.run([step(1n, message({}))]))[0]).Total).toBe("2");
  });
});
