/**
 * Figure 6: one new slot broadcast to many Subscribe streams (10,000; 1,000 with --quick)
 * spread over several client connections, read by raw-bytes clients. Each round schedules
 * one message and waits until every stream has it: the server process's CPU for the round
 * (the Schedule, the slot, and every stream's write), and the wall time from the Schedule
 * ack to the last receipt. Baseline on the raw process: the same number of grpc-js server
 * streams; a unary Trigger acknowledges and writes one pre-encoded message of the same size
 * to every stream.
 */
import type { ClientReadableStream } from "@grpc/grpc-js";
import type { BenchContext } from "../lib/context.js";
import { profiled } from "../lib/context.js";
import { scheduleOne, spawnCounter } from "../lib/procworker.js";
import { overRounds, row, type Row } from "../lib/report.js";
import { now, settle } from "../lib/stats.js";

const CHANNELS = 8;

/** Counts messages over all streams; `until(n)` resolves once `n` have arrived in all. */
class Arrivals {
  count = 0;
  private want = Infinity;
  private wake: (() => void) | undefined;
  arrive(): void {
    if (++this.count >= this.want) this.wake?.();
  }
  until(n: number, timeoutMs = 120_000): Promise<void> {
    if (this.count >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${this.count} of ${n} messages arrived`)), timeoutMs);
      this.want = n;
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        this.want = Infinity;
        resolve();
      };
    });
  }
}

export async function broadcastFigures(ctx: BenchContext): Promise<Row[]> {
  const streams = ctx.quick ? 1_000 : 10_000;
  const roundsCount = ctx.quick ? 3 : 5;
  const warmup = 2;

  // --- procworker ---
  const processId = await spawnCounter(ctx.pw.client, "f6");
  const first = await scheduleOne(ctx.pw.client, processId);
  const stored = await ctx.pw.rawClient().await({ processId, slot: first });
  const clients = Array.from({ length: CHANNELS }, () => ctx.pw.rawClient());
  const arrivals = new Arrivals();
  const open: ClientReadableStream<Buffer>[] = [];
  for (let i = 0; i < streams; i++) {
    const s = (clients[i % CHANNELS] as (typeof clients)[number]).subscribe({ processId, fromSlot: first });
    s.on("data", () => arrivals.arrive());
    s.on("error", () => undefined); // cancelled at the end
    open.push(s);
  }
  await arrivals.until(streams); // every stream has the stored slot: all live
  const pw: { cpuMs: number; fromAckMs: number }[] = [];
  try {
    for (let r = 0; r < warmup + roundsCount; r++) {
      await settle(50);
      const round = async () => {
        const cpu0 = await ctx.pw.cpu();
        await scheduleOne(ctx.pw.client, processId);
        const tAck = now();
        await arrivals.until(streams * (r + 2));
        const tAll = now();
        const cpu1 = await ctx.pw.cpu();
        return { cpuMs: (cpu1.processUs - cpu0.processUs) / 1000, fromAckMs: tAll - tAck };
      };
      const result = r === warmup + roundsCount - 1 ? await profiled(ctx, "broadcast", round) : await round();
      if (r >= warmup) pw.push(result);
    }
  } finally {
    open.forEach((s) => s.cancel());
  }
  await settle(500);

  // --- baseline: raw grpc-js server streams ---
  await ctx.raw.setReplyBytes(stored.byteLength);
  const rawClients = Array.from({ length: CHANNELS }, () => ctx.raw.echoClient(true));
  const trigger = ctx.raw.echoClient(true);
  const rawArrivals = new Arrivals();
  const rawOpen: ClientReadableStream<Buffer>[] = [];
  const base: { cpuMs: number; fromAckMs: number }[] = [];
  try {
    for (let i = 0; i < streams; i++) {
      const s = (rawClients[i % CHANNELS] as (typeof rawClients)[number]).listen();
      s.on("data", () => rawArrivals.arrive());
      s.on("error", () => undefined);
      rawOpen.push(s);
    }
    await rawArrivals.until(streams); // hellos
    for (let r = 0; r < warmup + roundsCount; r++) {
      await settle(50);
      const cpu0 = await ctx.raw.cpu();
      await trigger.trigger();
      const tAck = now();
      await rawArrivals.until(streams * (r + 2));
      const tAll = now();
      const cpu1 = await ctx.raw.cpu();
      if (r >= warmup) base.push({ cpuMs: (cpu1.processUs - cpu0.processUs) / 1000, fromAckMs: tAll - tAck });
    }
  } finally {
    rawOpen.forEach((s) => s.cancel());
  }
  await settle(200);
  const detail = { streams, channels: CHANNELS, messageBytes: stored.byteLength, procworker: pw, baseline: base };
  return [
    row({
      id: "6a",
      figure: `${streams / 1000}k subscribers: server CPU per new slot`,
      unit: "ms",
      ...overRounds(
        pw.map((r, i) => [r, base[i]] as const),
        ([r]) => r.cpuMs,
        ([, b]) => b?.cpuMs,
      ),
      baselineIs: `grpc-js writing 1 pre-encoded message to ${streams / 1000}k streams`,
      target: { maxCost: 1.2 },
      detail,
    }),
    row({
      id: "6b",
      figure: `${streams / 1000}k subscribers: ack to last receipt`,
      unit: "ms",
      ...overRounds(
        pw.map((r, i) => [r, base[i]] as const),
        ([r]) => r.fromAckMs,
        ([, b]) => b?.fromAckMs,
      ),
      baselineIs: "the same broadcast, from the Trigger ack",
    }),
  ];
}
