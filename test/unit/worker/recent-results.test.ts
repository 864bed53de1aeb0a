import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { SlotResult } from "../../../src/core/result.js";
import { defaultConfig } from "../../../src/core/config.js";
import {
  DEFAULT_STREAM_WINDOW_BYTES,
  RecentResults,
  resultBytes,
  type RecentRun,
} from "../../../src/worker/recent-results.js";

const result = (process: number, slot: number, data = 0): SlotResult => ({
  processId: `P${process}`,
  slot: BigInt(slot),
  messageId: "M".repeat(43),
  output: { tags: { Total: String(slot) }, data: new Uint8Array(data) },
});

const slotsOf = (run: RecentRun, from: number, to: number): (number | undefined)[] =>
  Array.from({ length: to - from + 1 }, (_, i) => {
    const r = run.get(BigInt(from + i));
    return r === undefined ? undefined : Number(r.slot);
  });

describe("recent results", () => {
  it("keep a process's results by slot, ignore repeats, and start again after a gap", () => {
    const recent = new RecentResults(1 << 20);
    const run = recent.run();
    for (const slot of [3, 4, 5, 4, 3, 5]) run.add(result(1, slot));
    expect(slotsOf(run, 2, 6)).toEqual([undefined, 3, 4, 5, undefined]);
    expect(recent.size).toBe(3);
    run.add(result(1, 9)); // slots 6–8 were not published here: the run starts again at 9
    expect(slotsOf(run, 3, 10)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      9,
      undefined,
    ]);
    expect(recent.size).toBe(1);
    expect(recent.bytes).toBe(resultBytes(result(1, 9)));
  });

  it("stay within the bound node-wide, the oldest published out first whatever its process", () => {
    const one = resultBytes(result(1, 0));
    const recent = new RecentResults(one * 4);
    const a = recent.run();
    const b = recent.run();
    a.add(result(1, 0));
    a.add(result(1, 1));
    b.add(result(2, 0));
    a.add(result(1, 2));
    b.add(result(2, 1)); // 5 results, room for 4: a's slot 0 goes
    expect(slotsOf(a, 0, 2)).toEqual([undefined, 1, 2]);
    expect(slotsOf(b, 0, 1)).toEqual([0, 1]);
    expect(recent.bytes).toBe(one * 4);
    b.add(result(2, 2)); // then a's slot 1, the oldest left
    expect(slotsOf(a, 0, 2)).toEqual([undefined, undefined, 2]);
    expect(slotsOf(b, 0, 2)).toEqual([0, 1, 2]);
  });

  it("free a closed run's bytes at once and keep nothing more for it", () => {
    const recent = new RecentResults(1 << 20);
    const a = recent.run();
    const b = recent.run();
    for (let slot = 0; slot < 10; slot++) a.add(result(1, slot, 100));
    b.add(result(2, 0));
    a.close();
    a.add(result(1, 10));
    expect(a.get(5n)).toBeUndefined();
    expect(a.size).toBe(0);
    expect(recent.size).toBe(1);
    expect(recent.bytes).toBe(resultBytes(result(2, 0)));
  });

  it("forget what closed runs left in the eviction order, so it does not grow with them", () => {
    const recent = new RecentResults(1 << 30);
    const kept = recent.run();
    kept.add(result(0, 0));
    for (let i = 0; i < 2000; i++) {
      const run = recent.run();
      for (let slot = 0; slot < 50; slot++) run.add(result(1, slot));
      run.close();
      expect(recent.orderEntries).toBeLessThanOrEqual(2 * recent.size + 1024 + 50);
    }
    expect(recent.size).toBe(1);
    expect(recent.bytes).toBe(resultBytes(result(0, 0)));
    expect(kept.get(0n)?.slot).toBe(0n);
  });

  it("let go of the results before a slot, freeing their bytes, and keep the rest", () => {
    const recent = new RecentResults(1 << 20);
    const run = recent.run();
    const other = recent.run();
    for (let slot = 0; slot < 10; slot++) run.add(result(1, slot));
    other.add(result(2, 0));
    const one = resultBytes(result(1, 0));
    run.dropBefore(2n);
    run.dropBefore(1n); // already gone: nothing more
    expect(slotsOf(run, 0, 10)).toEqual([undefined, undefined, 2, 3, 4, 5, 6, 7, 8, 9, undefined]);
    expect(run.size).toBe(8);
    expect(recent.size).toBe(9);
    expect(recent.bytes).toBe(9 * one);
    run.add(result(1, 10)); // still contiguous from slot 2
    expect(run.get(10n)?.slot).toBe(10n);
    run.dropBefore(100n);
    expect(run.size).toBe(0);
    expect(recent.size).toBe(1);
    expect(recent.bytes).toBe(resultBytes(result(2, 0)));
    run.add(result(1, 11)); // an empty run starts again from the next result published
    expect(slotsOf(run, 10, 11)).toEqual([undefined, 11]);
  });

  it("keep nothing with a bound of 0, and not a result larger than the bound", () => {
    const none = new RecentResults(0);
    const run = none.run();
    run.add(result(1, 0));
    expect(run.get(0n)).toBeUndefined();
    expect(none.bytes).toBe(0);
    const small = new RecentResults(resultBytes(result(1, 0)));
    const other = small.run();
    other.add(result(1, 0, 1000));
    expect(other.get(0n)).toBeUndefined();
    expect(small.bytes).toBe(0);
    other.add(result(1, 1));
    expect(other.get(1n)?.slot).toBe(1n);
  });

  it("are bounded by default as the option stream_window_bytes is", () => {
    expect(DEFAULT_STREAM_WINDOW_BYTES).toBe(defaultConfig().streamWindowBytes);
  });

  it("count a result's strings, tags and data", () => {
    const bare = resultBytes({ processId: "p", slot: 1n, messageId: "m" });
    expect(
      resultBytes({ processId: "p", slot: 1n, messageId: "m", output: { tags: {}, data: new Uint8Array(500) } }),
    ).toBe(bare + 500);
    expect(
      resultBytes({
        processId: "p",
        slot: 1n,
        messageId: "m",
        error: { phase: "compute", attemptedSlot: 1n, message: "x".repeat(300) },
      }),
    ).toBeGreaterThan(bare + 300);
  });

  it("hold exactly what a model of the bound holds, however results, gaps and closes interleave", () => {
    type Op = { kind: "next" | "gap" | "repeat" | "close" | "open" | "taken"; run: number; data: number };
    const kind = fc.oneof(
      { weight: 30, arbitrary: fc.constant<Op["kind"]>("next") },
      { weight: 1, arbitrary: fc.constantFrom<Op["kind"]>("gap", "repeat", "close", "open", "taken") },
    );
    const op: fc.Arbitrary<Op> = fc.record({
      kind,
      run: fc.integer({ min: 0, max: 3 }),
      data: fc.integer({ min: 0, max: 400 }),
    });
    // Small bounds evict all the time; large ones let stale entries pile up until the order
    // is rebuilt without them.
    const bound = fc.oneof(fc.integer({ min: 0, max: 40_000 }), fc.integer({ min: 40_000, max: 4_000_000 }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 6000, size: "max" }), bound, (ops, maxBytes) => {
        const recent = new RecentResults(maxBytes);
        const runs: RecentRun[] = [0, 1, 2, 3].map(() => recent.run());
        const nextSlot = [0, 0, 0, 0];
        const closed = [false, false, false, false];
        // The model: every kept result, oldest first, as [run, slot, bytes].
        let model: [number, number, number][] = [];
        const evict = (): void => {
          let bytes = model.reduce((n, [, , b]) => n + b, 0);
          while (bytes > maxBytes) bytes -= (model.shift() as [number, number, number])[2];
        };
        for (const { kind, run, data } of ops) {
          if (kind === "open") {
            runs[run]?.close();
            runs[run] = recent.run();
            closed[run] = false;
            model = model.filter(([r]) => r !== run);
            continue;
          }
          if (kind === "close") {
            runs[run]?.close();
            closed[run] = true;
            model = model.filter(([r]) => r !== run);
            continue;
          }
          const target = runs[run] as RecentRun;
          if (kind === "taken") {
            // Every stream took the slots before one `data % 8` back from the next.
            const before = (nextSlot[run] as number) - (data % 8);
            target.dropBefore(BigInt(Math.max(0, before)));
            model = model.filter(([r, slot]) => r !== run || slot >= before);
            continue;
          }
          if (kind === "repeat") {
            if (nextSlot[run] === 0) continue;
            // Ignored while the run keeps results (the last one is this slot); an empty run
            // starts from it.
            const r = result(run, (nextSlot[run] as number) - 1, data);
            target.add(r);
            if (!closed[run] && maxBytes > 0 && !model.some(([m]) => m === run)) {
              model.push([run, Number(r.slot), resultBytes(r)]);
              evict();
            }
            continue;
          }
          if (kind === "gap") {
            nextSlot[run] = (nextSlot[run] as number) + 2;
            model = model.filter(([r]) => r !== run);
          }
          const slot = nextSlot[run] as number;
          nextSlot[run] = slot + 1;
          const r = result(run, slot, data);
          target.add(r);
          if (!closed[run] && maxBytes > 0) {
            model.push([run, slot, resultBytes(r)]);
            evict();
          }
        }
        expect(recent.size).toBe(model.length);
        expect(recent.bytes).toBe(model.reduce((n, [, , b]) => n + b, 0));
        expect(recent.bytes).toBeLessThanOrEqual(maxBytes);
        for (let run = 0; run < 4; run++) {
          const kept = model.filter(([r]) => r === run).map(([, slot]) => slot);
          expect(kept.every((slot) => runs[run]?.get(BigInt(slot))?.slot === BigInt(slot))).toBe(true);
          expect(runs[run]?.size).toBe(kept.length);
          expect(runs[run]?.get(BigInt((kept[0] ?? 0) - 1))).toBeUndefined();
          expect(runs[run]?.get(BigInt(nextSlot[run] as number))).toBeUndefined();
        }
      }),
      { numRuns: 60 },
    );
  });
});
