/**
 * A long run crosses to the wasm thread in chunks that are all posted at once (pipelined):
 * the outcomes are the same as running the steps one at a time, whatever happens to a chunk
 * in the middle — a failing slot, a runaway slot that costs the thread, or another process's
 * runaway slot on the same thread.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalBytes, type Message } from "../../../src/core/message.js";
import type { DeviceInstance, StepOutcome } from "../../../src/device/device.js";
import { PIPELINE_CHUNK } from "../../../src/device/wasm/device-instance.js";
import { createWasmDevice, type WasmDevice } from "../../../src/device/wasm/index.js";
import { PROBE_WAT, errorOf, initStep, probe, processFor, stepsFrom, tagsOf, wat } from "./wasm-fixtures.js";

/** Every step's expected outcome: counts go on from the state before any failed slot. */
function expectCounted(outcomes: StepOutcome[], messages: Message[], failure: RegExp): void {
  expect(outcomes).toHaveLength(messages.length);
  let count = 0;
  messages.forEach((msg, i) => {
    if (msg.tags["Do"] === "count") {
      count++;
      expect(tagsOf(outcomes[i])).toEqual({ N: String(count), M: String(count) });
    } else expect(errorOf(outcomes[i])).toMatch(failure);
  });
}

/** `length` count messages with `failing` at the given indexes. */
function messagesWith(length: number, failing: Message, at: number[]): Message[] {
  return Array.from({ length }, (_, i) => (at.includes(i) ? failing : probe("count")));
}

describe("wasm@1.0 pipelined runs", () => {
  let device: WasmDevice;
  beforeAll(() => {
    device = createWasmDevice({ slotTimeLimitMs: 300, maxMemoryMib: 16, threads: 1, maxReplaySteps: 64 });
  });
  afterAll(() => device.close());

  const started = async (name: string): Promise<{ instance: DeviceInstance; ctx: ReturnType<typeof processFor> }> => {
    const ctx = processFor(await wat(PROBE_WAT), { Name: name });
    const instance = await device.instantiate(ctx);
    await instance.run([initStep(ctx)]);
    return { instance, ctx };
  };

  it("a run of several chunks with failing slots in each gives the outcomes of short runs", async () => {
    const length = 2 * PIPELINE_CHUNK + PIPELINE_CHUNK / 2;
    const at = [3, PIPELINE_CHUNK - 1, PIPELINE_CHUNK, PIPELINE_CHUNK + 7, 2 * PIPELINE_CHUNK + 1];
    const messages = messagesWith(length, probe("trap"), at);
    const steps = stepsFrom(1n, messages);
    const { instance } = await started("chunks");
    const outcomes = await instance.run(steps);
    expectCounted(outcomes, messages, /^trap: /);

    const { instance: reference } = await started("short runs");
    const short: StepOutcome[] = [];
    for (let i = 0; i < steps.length; i += 50) short.push(...(await reference.run(steps.slice(i, i + 50))));
    expect(outcomes).toEqual(short);
  });

  it("steps handed over as their stored bytes (runEncoded) give the outcomes of decoded ones", async () => {
    const messages = messagesWith(PIPELINE_CHUNK + 40, probe("trap"), [2, PIPELINE_CHUNK + 1]);
    const steps = stepsFrom(1n, messages);
    const { instance } = await started("encoded");
    const encoded = steps.map(({ slot, messageId, message }) => ({
      slot,
      messageId,
      canonical: new Uint8Array(canonicalBytes(message)),
    }));
    const outcomes = await instance.runEncoded!(encoded);
    expectCounted(outcomes, messages, /^trap: /);
    const { instance: reference } = await started("decoded");
    expect(outcomes).toEqual(await reference.run(steps));
  });

  it("a runaway slot in the middle chunk fails alone; the chunks posted after it run again, in order", async () => {
    const length = 2 * PIPELINE_CHUNK + 10;
    const messages = messagesWith(length, probe("loop"), [PIPELINE_CHUNK + 5]);
    const { instance } = await started("runaway");
    expectCounted(
      await instance.run(stepsFrom(1n, messages)),
      messages,
      /^time limit: the slot ran longer than 300 ms/,
    );
    // The state after the run is the state after its counts: the next slot goes on from it.
    const next = await instance.run(stepsFrom(BigInt(length + 1), [probe("count")]));
    expect(tagsOf(next[0])).toEqual({ N: String(length), M: String(length) });
  });

  it("a pipelined run on a thread another process's runaway slot stopped is run again in full", async () => {
    const { instance: looping } = await started("looping");
    const { instance } = await started("bystander");
    const length = 3 * PIPELINE_CHUNK;
    const messages = messagesWith(length, probe("count"), []);
    // The runaway slot is queued first on the one thread; the long run is posted behind it.
    const runaway = looping.run(stepsFrom(1n, [probe("loop")]));
    const outcomes = await instance.run(stepsFrom(1n, messages));
    expect(errorOf((await runaway)[0])).toMatch(/^time limit: /);
    expectCounted(outcomes, messages, /never/);
  });
});
