import { afterEach, describe, expect, it, vi } from "vitest";
import type { SlotResult } from "../../../src/core/result.js";
import { decodeResult, encodeResult } from "../../../src/store/codec.js";
import {
  isEncodedResult,
  ResultStream,
  type SlotConsumer,
  type StreamedResult,
} from "../../../src/worker/result-stream.js";

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

describe("an encoded result stream", () => {
  it("delivers what it reads back from the store left encoded, live results as they are, all in slot order", async () => {
    const stored = [0, 1, 2].map((slot) => ({ slot: BigInt(slot), value: encodeResult(result(slot)) }));
    const reads: string[] = [];
    const source = {
      results: () => (reads.push("decoded"), Promise.resolve([])),
      encodedResults: (_p: string, from: bigint) => (
        reads.push("encoded"),
        Promise.resolve(stored.filter((r) => r.slot >= from))
      ),
    };
    const delivered: StreamedResult[] = [];
    const open = (encoded: boolean): ResultStream =>
      new ResultStream(source, {
        processId,
        from: 0n,
        buffer: 8,
        leaderBound: false,
        encoded,
        onClose: () => undefined,
      });
    const stream = open(true);
    stream.start({
      deliver: (r) => (delivered.push(r), true),
      end: () => undefined,
      fail: (e) => {
        throw e;
      },
    });
    await new Promise((resolve) => setImmediate(resolve)); // the store read
    stream.push(result(3));
    expect(delivered.map((r) => [r.slot, isEncodedResult(r)])).toEqual([
      [0n, true],
      [1n, true],
      [2n, true],
      [3n, false],
    ]);
    expect(delivered.slice(0, 3).map((r) => isEncodedResult(r) && decodeResult(r.value))).toEqual(
      [0, 1, 2].map(result),
    );
    expect(reads).toEqual(["encoded"]);
    stream.close();
    // A stream not opened encoded reads results decoded, whatever the source offers.
    const plain = open(false);
    plain.start({ deliver: () => true, end: () => undefined, fail: () => undefined });
    await new Promise((resolve) => setImmediate(resolve));
    expect(reads).toEqual(["encoded", "decoded"]);
    plain.close();
  });
});
