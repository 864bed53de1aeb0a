import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { floodRequest, startEchoServer, type EchoServer } from "../../../bench/lib/echo.js";
import { readStream, StreamStatusError } from "../../../bench/lib/frame-reader.js";
import { overRounds, row } from "../../../bench/lib/report.js";

let echo: EchoServer;
beforeAll(async () => {
  echo = await startEchoServer(() => Promise.resolve());
});
afterAll(() => echo.close());

describe("the benchmarks' frame reader", () => {
  it("reads every response of a stream, whole, however HTTP/2 cuts the bytes", async () => {
    for (const [count, size] of [
      [2000, 60],
      [5, 70_000], // each response spans several DATA frames
      [0, 10],
    ] as const) {
      const sizes: number[] = [];
      const read = await readStream(echo.address, "/bench.Echo/Flood", floodRequest(count, size), (response) => {
        expect(response.every((byte) => byte === 7)).toBe(true);
        sizes.push(response.length);
      });
      expect(read).toEqual({ messages: count, bytes: count * size });
      expect(sizes).toEqual(Array.from({ length: count }, () => size));
    }
  });

  it("stops after as many responses as asked, cancelling the call", async () => {
    const read = await readStream(echo.address, "/bench.Echo/Flood", floodRequest(100_000, 60), undefined, 1000);
    expect(read).toEqual({ messages: 1000, bytes: 60_000 });
  });

  it("rejects a call that ends with a status other than OK", async () => {
    const call = readStream(echo.address, "/bench.Echo/NoSuchMethod", Buffer.alloc(0));
    await expect(call).rejects.toBeInstanceOf(StreamStatusError);
    await expect(call).rejects.toMatchObject({ code: 12 }); // UNIMPLEMENTED
  });
});

describe("a benchmark row over rounds", () => {
  it("is the medians of the figure and the baseline, with the range of the rounds' costs", () => {
    const rounds = [
      { pw: 10, base: 8 },
      { pw: 12, base: 8 },
      { pw: 30, base: 10 },
    ];
    const r = row({
      id: "x",
      figure: "x",
      unit: "us",
      ...overRounds(
        rounds,
        (x) => x.pw,
        (x) => x.base,
      ),
      baselineIs: "x",
      target: { maxCost: 1.5 },
    });
    expect(r.procworker).toBe(12);
    expect(r.baseline).toBe(8);
    expect(r.cost).toBe(1.5);
    expect(r.met).toBe(true);
    expect(r.spread).toEqual([1.25, 3]);
    const rates = row({
      id: "y",
      figure: "y",
      unit: "/s",
      ...overRounds(
        rounds,
        (x) => x.pw,
        (x) => x.base,
      ),
      baselineIs: "y",
    });
    expect(rates.spread).toEqual([1 / 3, 0.8]); // rates: baseline ÷ figure
  });
});
