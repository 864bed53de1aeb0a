/**
 * Figure 5: a live slot end to end. One Subscribe stream is open on a process with a warm
 * worker; each iteration schedules one message and waits until the stream has its result:
 * time from the Schedule call to the receipt. Baseline, on the raw process: Pipeline, which
 * does a durable write, replies, does a second durable write and then writes one message to
 * an open stream — the floor of a live slot (its schedule entry is durable before the ack,
 * its result durable before anyone is notified). p50 and p99.
 */
import type { BenchContext } from "../lib/context.js";
import { spawnCounter, scheduleOne } from "../lib/procworker.js";
import { row, type Row } from "../lib/report.js";
import { median, now, percentile, rounds, settle } from "../lib/stats.js";

/** Resolves with the next message of a stream each time it is called. */
function nextOf(stream: NodeJS.EventEmitter): () => Promise<void> {
  const waiting: (() => void)[] = [];
  let ready = 0;
  stream.on("data", () => {
    const w = waiting.shift();
    if (w) w();
    else ready++;
  });
  return () =>
    ready > 0
      ? (ready--, Promise.resolve())
      : new Promise<void>((resolve) => {
          waiting.push(resolve);
        });
}

export async function liveFigures(ctx: BenchContext): Promise<Row[]> {
  const iterations = ctx.quick ? 100 : 300;
  const processId = await spawnCounter(ctx.pw.client, "f5");
  const first = await scheduleOne(ctx.pw.client, processId);
  await ctx.pw.client.await({ processId, slot: first }, { timeoutMs: 10_000 });
  const raw = ctx.pw.rawClient();
  const sub = raw.subscribe({ processId, fromSlot: first + 1n });
  sub.on("error", () => undefined); // cancelled at the end
  const pwNext = nextOf(sub);
  const echo = ctx.raw.echoClient(true);
  const listen = echo.listen();
  listen.on("error", () => undefined);
  const rawNext = nextOf(listen);
  await rawNext(); // its hello
  const payload = Buffer.alloc(60, 1);
  try {
    const results = await rounds(ctx.quick ? 2 : 3, 1, async () => {
      const pw: number[] = [];
      const base: number[] = [];
      for (let i = 0; i < iterations; i++) {
        const t0 = now();
        const arrived = pwNext();
        await scheduleOne(ctx.pw.client, processId);
        await arrived;
        pw.push(now() - t0);
        const t1 = now();
        const got = rawNext();
        await echo.pipeline(payload);
        await got;
        base.push(now() - t1);
      }
      await settle(20);
      return {
        pw50: percentile(pw, 50),
        pw99: percentile(pw, 99),
        raw50: percentile(base, 50),
        raw99: percentile(base, 99),
      };
    });
    const detail = { iterationsPerRound: iterations, perRound: results };
    return [
      row({
        id: "5a",
        figure: "Schedule → Subscribe receipt, live slot, p50",
        unit: "ms",
        procworker: median(results.map((r) => r.pw50)),
        baseline: median(results.map((r) => r.raw50)),
        baselineIs: "raw pipeline: durable put, ack, durable put, notify",
        target: { maxCost: 1.3 },
        detail,
      }),
      row({
        id: "5b",
        figure: "Schedule → Subscribe receipt, live slot, p99",
        unit: "ms",
        procworker: median(results.map((r) => r.pw99)),
        baseline: median(results.map((r) => r.raw99)),
        baselineIs: "the same raw pipeline, p99",
        target: { maxCost: 2 },
      }),
    ];
  } finally {
    sub.cancel();
    listen.cancel();
    raw.close();
  }
}
