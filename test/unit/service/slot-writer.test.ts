import { describe, expect, it, vi } from "vitest";
import type { SlotResult } from "../../../src/core/result.js";
import { toWireResult } from "../../../src/service/convert.js";
import {
  MAX_GROUPED_RESPONSE_BYTES,
  MAX_RESULTS_PER_RESPONSE,
  slotWriter,
  type SlotCall,
} from "../../../src/service/slot-writer.js";
import { ComputeResponse, SubscribeResponse } from "../../../src/generated/procworker/v1/process_worker_service.js";
import type { SlotStream } from "../../../src/worker/result-stream.js";

const result = (slot: number, bytes = 8): SlotResult => ({
  processId: "p".repeat(43),
  slot: BigInt(slot),
  messageId: `m${slot}`,
  output: { tags: { Action: "Count", Slot: String(slot) }, data: new Uint8Array(bytes).fill(slot % 251) },
});

/** A call that keeps every write and its callback; nothing is sent until `send()`. */
function fakeCall() {
  const writes: { bytes: Buffer; sent?: () => void }[] = [];
  const call = {
    writes,
    cancelled: false,
    get writableLength() {
      return writes.filter((w) => w.sent !== undefined).length;
    },
    write(bytes: unknown, sent?: () => void) {
      writes.push({ bytes: bytes as Buffer, ...(sent ? { sent } : {}) });
      return true;
    },
    on: () => call,
    /** Sends every write that carries a callback, in order. */
    send() {
      for (const w of writes.splice(0)) w.sent?.();
    },
  };
  return call;
}

function fakeStream(depth = 1 << 20) {
  return { depth, progress: vi.fn(), resume: vi.fn(), start: vi.fn(), close: vi.fn() } satisfies SlotStream;
}

/** A slot writer on `call` asking for `perResponse` results per response. */
function writerOf(
  call: ReturnType<typeof fakeCall>,
  perResponse: number,
  {
    stream = fakeStream(),
    maxMessageBytes = 4 << 20,
    done = () => undefined,
  }: { stream?: SlotStream; maxMessageBytes?: number; done?: (error?: Error) => unknown } = {},
) {
  return slotWriter(call as unknown as SlotCall, stream, { perResponse, maxMessageBytes, done: (e) => void done(e) });
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const encodedLength = (r: SlotResult): number =>
  SubscribeResponse.encode({ result: toWireResult(r), results: [] }).finish().length;
const slotsOf = (bytes: Buffer): bigint[] => ComputeResponse.decode(bytes).results.map((r) => r.slot);

describe("slot writer", () => {
  it.each([undefined, 0, 1])(
    "with max_results_per_response %s writes each result as its own `result` response, at the end of its turn",
    async (n) => {
      const call = fakeCall();
      const consumer = writerOf(call, n ?? 0);
      for (let slot = 1; slot <= 3; slot++) consumer.deliver(result(slot));
      expect(call.writes).toEqual([]); // gathered until the turn ends
      await Promise.resolve();
      // One response each, byte for byte ts-proto's single-result response.
      expect(call.writes.map((w) => w.bytes)).toEqual(
        [1, 2, 3].map((slot) =>
          Buffer.from(SubscribeResponse.encode({ result: toWireResult(result(slot)), results: [] }).finish()),
        ),
      );
    },
  );

  it("gathers the results delivered in one turn into responses of up to the count asked, as `results`", async () => {
    const call = fakeCall();
    const consumer = writerOf(call, 16);
    for (let slot = 1; slot <= 40; slot++) consumer.deliver(result(slot));
    expect(call.writes).toHaveLength(0); // written when the turn ends
    await turn();
    expect(call.writes.map((w) => ComputeResponse.decode(w.bytes).results.length)).toEqual([16, 16, 8]);
    for (const w of call.writes) {
      for (const response of [ComputeResponse.decode(w.bytes), SubscribeResponse.decode(w.bytes)]) {
        expect(response.result).toBeUndefined();
      }
    }
    const decoded = call.writes.flatMap((w) => ComputeResponse.decode(w.bytes).results);
    expect(decoded).toEqual(Array.from({ length: 40 }, (_, i) => toWireResult(result(i + 1))));
  });

  it("never holds a result back to fill a response: one live result goes alone, in the same turn", async () => {
    const call = fakeCall();
    const consumer = writerOf(call, 64);
    consumer.deliver(result(7));
    await Promise.resolve(); // a microtask, not a timer
    expect(call.writes.map((w) => slotsOf(w.bytes))).toEqual([[7n]]);
    consumer.deliver(result(8));
    consumer.deliver(result(9));
    await Promise.resolve();
    expect(call.writes.map((w) => slotsOf(w.bytes))).toEqual([[7n], [8n, 9n]]);
  });

  it("takes a count above the most as the most", async () => {
    const call = fakeCall();
    const consumer = writerOf(call, 1_000_000);
    for (let slot = 1; slot <= 2 * MAX_RESULTS_PER_RESPONSE + 2; slot++) consumer.deliver(result(slot, 1));
    await turn();
    expect(call.writes.map((w) => slotsOf(w.bytes).length)).toEqual([
      MAX_RESULTS_PER_RESPONSE,
      MAX_RESULTS_PER_RESPONSE,
      2,
    ]);
  });

  it("keeps a response under the byte bound and the server's largest message; a larger result goes alone", async () => {
    const cases = [
      { maxMessageBytes: 4 << 20, sizes: [40_000, 40_000, 40_000, 300_000, 40_000, 40_000], counts: [3, 1, 2] },
      { maxMessageBytes: 100_000, sizes: [40_000, 40_000, 40_000, 90_000, 40_000, 40_000], counts: [2, 1, 1, 2] },
    ];
    for (const { maxMessageBytes, sizes, counts } of cases) {
      const call = fakeCall();
      const consumer = writerOf(call, 1024, { maxMessageBytes });
      sizes.forEach((bytes, i) => consumer.deliver(result(i + 1, bytes)));
      await turn();
      const bound = Math.min(MAX_GROUPED_RESPONSE_BYTES, maxMessageBytes);
      for (const w of call.writes) {
        if (slotsOf(w.bytes).length > 1) expect(w.bytes.length).toBeLessThanOrEqual(bound);
      }
      expect(call.writes.flatMap((w) => slotsOf(w.bytes))).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);
      expect(call.writes.map((w) => slotsOf(w.bytes).length)).toEqual(counts);
    }
  });

  it.each([1, 16])(
    "fails the call with RESOURCE_EXHAUSTED, as grpc-js would, when a response is over the largest message (%s a response)",
    async (perResponse) => {
      const sentSlots = (call: ReturnType<typeof fakeCall>) =>
        call.writes.flatMap((w) => slotsOf(w.bytes).concat(SubscribeResponse.decode(w.bytes).result?.slot ?? []));
      // The large result in a later turn, or in the same turn as the results around it.
      for (const sameTurn of [false, true]) {
        const call = fakeCall();
        const stream = fakeStream();
        const ended: (Error | undefined)[] = [];
        const consumer = writerOf(call, perResponse, { stream, maxMessageBytes: 50_000, done: (e) => ended.push(e) });
        consumer.deliver(result(1, 10));
        if (!sameTurn) await Promise.resolve();
        consumer.deliver(result(2, 60_000));
        consumer.deliver(result(3, 10));
        await Promise.resolve();
        expect(sentSlots(call)).toEqual([1n]); // what came before it, nothing after
        expect(ended).toHaveLength(1);
        expect(ended[0]).toMatchObject({ code: "resource_exhausted" });
        expect(ended[0]?.message).toMatch(/over the server's largest message \(50000 bytes\)/);
        expect(stream.close).toHaveBeenCalledTimes(1);
        expect(consumer.deliver(result(4))).toBe(false); // nothing more after the end
        consumer.end();
        await Promise.resolve();
        expect(sentSlots(call)).toEqual([1n]);
        expect(ended).toHaveLength(1);
      }
    },
  );

  it("writes a turn's responses in one sink write, and mid-turn once they pass 64 KiB", async () => {
    const writes: { count: number; bytes: number; sent: () => void }[] = [];
    const sink = {
      write: (responses: readonly Buffer[], bytes: number, sent: () => void) =>
        void writes.push({ count: responses.length, bytes, sent }),
    };
    const stream = fakeStream();
    const consumer = slotWriter(fakeCall() as unknown as SlotCall, stream, {
      perResponse: 0,
      maxMessageBytes: 4 << 20,
      done: () => undefined,
      sink,
    });
    for (let slot = 1; slot <= 100; slot++) consumer.deliver(result(slot, 10));
    expect(writes).toEqual([]);
    await Promise.resolve();
    expect(writes.map((w) => w.count)).toEqual([100]);
    expect(writes[0]?.bytes).toBe(
      Array.from({ length: 100 }, (_, i) => encodedLength(result(i + 1, 10))).reduce((a, b) => a + b, 0),
    );
    writes[0]?.sent();
    expect(stream.progress).toHaveBeenCalledTimes(1);
    writes.length = 0;
    for (let slot = 101; slot <= 110; slot++) consumer.deliver(result(slot, 10_000));
    expect(writes.map((w) => w.count)).toEqual([7]); // 7 × ~10 KB passed 64 KiB
    await Promise.resolve();
    expect(writes.map((w) => w.count)).toEqual([7, 3]);
  });

  it("flushes every stream of a turn at its end, and one that gets results while others flush", async () => {
    const calls = Array.from({ length: 3 }, () => fakeCall());
    const writers = calls.map((call) => writerOf(call, 0));
    // The first stream's write hands the last stream a result (as a resumed stream would).
    const firstWrite = calls[0]!.write.bind(calls[0]);
    calls[0]!.write = (bytes, sent) => {
      writers[2]!.deliver(result(9));
      return firstWrite(bytes, sent);
    };
    writers[0]!.deliver(result(1));
    writers[1]!.deliver(result(2));
    await Promise.resolve();
    expect(calls.map((call) => call.writes.map((w) => SubscribeResponse.decode(w.bytes).result?.slot))).toEqual([
      [1n],
      [2n],
      [9n],
    ]);
  });

  it("writes nothing gathered once the client has gone away", async () => {
    const call = fakeCall();
    const consumer = writerOf(call, 16);
    consumer.deliver(result(1));
    call.cancelled = true;
    await turn();
    expect(call.writes).toEqual([]);
  });

  it("writes what it gathered before it ends or fails the call", () => {
    for (const how of ["end", "fail"] as const) {
      const call = fakeCall();
      const order: string[] = [];
      const write = call.write.bind(call);
      call.write = (bytes, sent) => {
        order.push(`write ${slotsOf(bytes as Buffer).join(",")}`);
        return write(bytes, sent);
      };
      const consumer = writerOf(call, 16, { done: (error) => order.push(`done ${error?.message ?? "ok"}`) });
      consumer.deliver(result(1));
      consumer.deliver(result(2));
      if (how === "end") consumer.end();
      else consumer.fail(new Error("worker died"));
      expect(order).toEqual(["write 1,2", how === "end" ? "done ok" : "done worker died"]);
    }
  });

  it("counts flow control in results: full at `depth` unsent, resumed once the client took enough", async () => {
    const call = fakeCall();
    const stream = fakeStream(64);
    const consumer = writerOf(call, 16, { stream });
    const accepted = Array.from({ length: 64 }, (_, i) => consumer.deliver(result(i + 1)));
    expect(accepted.slice(0, 63).every(Boolean)).toBe(true);
    expect(accepted[63]).toBe(false); // 64 results unsent: full
    await Promise.resolve(); // the turn's four responses are written together, one callback
    expect(call.writes).toHaveLength(4);
    expect(stream.resume).not.toHaveBeenCalled();
    call.send();
    expect(stream.progress).toHaveBeenCalledTimes(1);
    expect(stream.resume).toHaveBeenCalledTimes(1);
    expect(consumer.deliver(result(65))).toBe(true);
  });
});
