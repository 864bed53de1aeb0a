/**
 * Figure 5: one new slot broadcast to SUBSCRIBERS Subscribe streams spread over CHANNELS
 * client connections. Each round schedules one message and times from the Schedule ack to
 * the moment the last stream has received that slot. Baseline: a raw grpc-js server stream
 * per subscriber (same connections layout); a unary Trigger acknowledges and then writes one
 * pre-encoded message of the same size to every stream; timed from the Trigger ack to the
 * last receipt.
 */
import type { ClientReadableStream } from "@grpc/grpc-js";
import { AwaitResponse, type SubscribeResponse } from "../../src/generated/procworker/v1/process_worker_service.js";
import { echoClient, type EchoClient, type EchoServer } from "../lib/echo.js";
import { scheduleOne, spawnCounter, type BenchServer } from "../lib/procworker.js";
import { row, type Row } from "../lib/report.js";
import { median, now, percentile, settle } from "../lib/stats.js";

const SUBSCRIBERS = 1000;
const CHANNELS = 4;
const ROUNDS = 9;
const WARMUP = 2;

/** Counts receipts per key; resolves `until(key)` with the time of the SUBSCRIBERS-th. */
class Arrivals {
  private counts = new Map<string, number>();
  private waiting = new Map<string, (t: number) => void>();
  private done = new Map<string, number>();

  arrive(key: string): void {
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    if (n === SUBSCRIBERS) {
      const t = now();
      this.done.set(key, t);
      this.waiting.get(key)?.(t);
    }
  }

  until(key: string, timeoutMs = 30_000): Promise<number> {
    const t = this.done.get(key);
    if (t !== undefined) return Promise.resolve(t);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${this.counts.get(key) ?? 0} of ${SUBSCRIBERS} streams received ${key}`)),
        timeoutMs,
      );
      this.waiting.set(key, (at) => {
        clearTimeout(timer);
        resolve(at);
      });
    });
  }
}

export async function subscribeBroadcast({ pw, echo }: { pw: BenchServer; echo: EchoServer }): Promise<Row[]> {
  // --- procworker ---
  const processId = await spawnCounter(pw.client, "f5");
  const first = await scheduleOne(pw.client, processId);
  const firstResult = await pw.client.await({ processId, slot: first }, { timeoutMs: 10_000 });
  const messageBytes = AwaitResponse.encode(firstResult).finish().byteLength;
  const arrivals = new Arrivals();
  const channels = Array.from({ length: CHANNELS }, () => pw.ownConnection());
  const streams: ClientReadableStream<SubscribeResponse>[] = [];
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const s = channels[i % CHANNELS]!.subscribe({ processId, fromSlot: first });
    s.on("data", (r: SubscribeResponse) => arrivals.arrive(String(r.result?.slot)));
    s.on("error", () => undefined); // cancelled at the end
    streams.push(s);
  }
  await arrivals.until(String(first)); // every stream is live
  const pwRounds: { fromAck: number; fromCall: number }[] = [];
  try {
    for (let r = 0; r < WARMUP + ROUNDS; r++) {
      await settle(30);
      const t0 = now();
      const slot = await scheduleOne(pw.client, processId);
      const tAck = now();
      const tAll = await arrivals.until(String(slot));
      if (r >= WARMUP) pwRounds.push({ fromAck: Math.max(0, tAll - tAck), fromCall: tAll - t0 });
    }
  } finally {
    streams.forEach((s) => s.cancel());
    channels.forEach((c) => c.close());
  }
  await settle(200);

  // --- baseline: raw grpc-js server streams ---
  echo.setReplyBytes(messageBytes);
  const raw = new Arrivals();
  const rawClients: EchoClient[] = Array.from({ length: CHANNELS }, () => echoClient(echo.address, true));
  const trigger = echoClient(echo.address);
  const rawStreams: ClientReadableStream<Buffer>[] = [];
  let round = 0;
  const rawRounds: { fromAck: number; fromCall: number }[] = [];
  try {
    // each stream counts its n-th message as round n (the first is the "hello" of round 0)
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const s = rawClients[i % CHANNELS]!.listen();
      let seen = 0;
      s.on("data", () => raw.arrive(String(seen++)));
      s.on("error", () => undefined);
      rawStreams.push(s);
    }
    await raw.until("0");
    for (let r = 0; r < WARMUP + ROUNDS; r++) {
      await settle(30);
      const t0 = now();
      await trigger.trigger();
      const tAck = now();
      const tAll = await raw.until(String(++round));
      if (r >= WARMUP) rawRounds.push({ fromAck: Math.max(0, tAll - tAck), fromCall: tAll - t0 });
    }
  } finally {
    rawStreams.forEach((s) => s.cancel());
    rawClients.forEach((c) => c.close());
    trigger.close();
  }

  const detail = {
    subscribers: SUBSCRIBERS,
    channels: CHANNELS,
    rounds: ROUNDS,
    messageBytes,
    procworker: {
      fromAckP50: median(pwRounds.map((r) => r.fromAck)),
      fromCallP50: median(pwRounds.map((r) => r.fromCall)),
      fromAckMax: percentile(
        pwRounds.map((r) => r.fromAck),
        100,
      ),
      perRound: pwRounds,
    },
    baseline: {
      fromAckP50: median(rawRounds.map((r) => r.fromAck)),
      fromCallP50: median(rawRounds.map((r) => r.fromCall)),
      perRound: rawRounds,
    },
  };
  return [
    row({
      id: "5a",
      figure: `Subscribe: ${SUBSCRIBERS} streams get 1 new slot, from ack p50`,
      unit: "ms",
      procworker: detail.procworker.fromAckP50,
      baseline: detail.baseline.fromAckP50,
      baselineIs: `grpc-js stream broadcast to ${SUBSCRIBERS}, from ack`,
      detail,
    }),
    row({
      id: "5b",
      figure: `Subscribe: ${SUBSCRIBERS} streams get 1 new slot, from call p50`,
      unit: "ms",
      procworker: detail.procworker.fromCallP50,
      baseline: detail.baseline.fromCallP50,
      baselineIs: `grpc-js stream broadcast to ${SUBSCRIBERS}, from call`,
    }),
  ];
}
