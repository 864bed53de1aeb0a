import { afterEach, describe, expect, it, vi } from "vitest";
import type { SlotResult } from "../../../src/core/result.js";
import { ResultStream, type SlotConsumer } from "../../../src/worker/result-stream.js";

const processId = "P".repeat(43);
const result = (slot: number): SlotResult => ({
  processId,
  slot: BigInt(slot),
  messageId: "M".repeat(43),
  output: { tags: {}, data: new Uint8Array() },
});

/** A consumer that holds `capacity` results and then reports full, as a gRPC call does. */
function consumer(capacity: number) {
  const delivered: bigint[] = [];
  let failure: Error | undefined;
  const c: SlotConsumer = {
    deliver: (r) => {
      delivered.push(r.slot);
      return delivered.length < capacity;
    },
    end: () => undefined,
    fail: (error) => {
      failure = error;
    },
  };
  return { c, delivered, failure: () => failure };
}

/** A live stream from slot 0 whose store holds nothing yet (every result arrives by push). */
function liveStream(stallMs: number): ResultStream {
  return new ResultStream(
    { results: () => Promise.resolve([]) },
    { processId, from: 0n, buffer: 4, stallMs, leaderBound: false, onClose: () => undefined },
  );
}

afterEach(() => vi.useRealTimers());

describe("a result stream's slow consumer", () => {
  it("is not dropped while it has taken nothing for less than stallMs, however many results complete", async () => {
    vi.useFakeTimers();
    const stream = liveStream(1_000);
    const { c, delivered, failure } = consumer(2);
    stream.start(c);
    await vi.advanceTimersByTimeAsync(0); // the first (empty) store read
    for (let slot = 0; slot < 40; slot++) stream.push(result(slot)); // 38 past a full consumer
    expect(delivered).toEqual([0n, 1n]);
    await vi.advanceTimersByTimeAsync(999);
    expect(failure()).toBeUndefined();
    // The client read (HTTP/2 let results through): the stall is over, and another must last
    // the whole stallMs again.
    stream.progress();
    for (let slot = 40; slot < 50; slot++) stream.push(result(slot));
    await vi.advanceTimersByTimeAsync(999);
    expect(failure()).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(failure()).toMatchObject({
      code: "resource_exhausted",
      message: "the client took no result while 10 completed in 1000 ms; resubscribe from slot 2",
    });
  });

  it("with stallMs 0, ends as soon as more than twice its buffer completes", async () => {
    const stream = liveStream(0);
    const { c, failure } = consumer(1);
    stream.start(c);
    await new Promise((resolve) => setImmediate(resolve)); // the first (empty) store read
    for (let slot = 0; slot < 9; slot++) stream.push(result(slot)); // slot 0 delivered, 8 past it
    expect(failure()).toBeUndefined();
    stream.push(result(9));
    expect(failure()).toMatchObject({
      code: "resource_exhausted",
      message: "the client took no result while 9 completed; resubscribe from slot 1",
    });
  });
});
