/**
 * Figures 1, 2 and 4: unary calls.
 *   1. Await of a stored slot, sequential (p50, p99) vs raw grpc-js echo of the same sizes.
 *   2. Schedule of one message at 64 in flight vs raw grpc-js echo, and vs raw LMDB durable puts.
 *   4. Schedule 1 + Await it on a warm worker vs the same with process_workers=false, and
 *      vs two raw grpc-js echo round trips.
 * Each round measures procworker and its baselines back to back, so noise hits both.
 */
import {
  AwaitRequest,
  AwaitResponse,
  ScheduleRequest,
  ScheduleResponse,
} from "../../src/generated/procworker/v1/process_worker_service.js";
import { echoClient, type EchoServer } from "../lib/echo.js";
import { durablePut, type RawLmdb } from "../lib/lmdb.js";
import { scheduleOne, spawnCounter, startBenchServer, wire, type BenchServer } from "../lib/procworker.js";
import { row, type Row } from "../lib/report.js";
import { concurrent, median, now, percentile, rounds, sequential, settle } from "../lib/stats.js";

export interface UnaryContext {
  pw: BenchServer;
  echo: EchoServer;
  lmdb: RawLmdb;
  log: (text: string) => void;
}

const size = (bytes: Uint8Array): number => bytes.byteLength;

/** Figure 1. */
export async function awaitLatency({ pw, echo }: UnaryContext): Promise<Row[]> {
  const CALLS = 400;
  const processId = await spawnCounter(pw.client, "f1");
  const slot = await scheduleOne(pw.client, processId);
  const request = { processId, slot };
  const response = await pw.client.await(request, { timeoutMs: 10_000 });
  const reqBytes = size(AwaitRequest.encode(request).finish());
  const resBytes = size(AwaitResponse.encode(response).finish());
  echo.setReplyBytes(resBytes);
  const ec = echoClient(echo.address);
  const payload = Buffer.alloc(reqBytes, 1);
  try {
    const results = await rounds(5, 1, async () => {
      const pwTimes = await sequential(CALLS, () => pw.client.await(request));
      const echoTimes = await sequential(CALLS, () => ec.echo(payload));
      return {
        pw50: percentile(pwTimes, 50),
        pw99: percentile(pwTimes, 99),
        e50: percentile(echoTimes, 50),
        e99: percentile(echoTimes, 99),
      };
    });
    const detail = {
      callsPerRound: CALLS,
      rounds: results.length,
      requestBytes: reqBytes,
      responseBytes: resBytes,
      perRound: results,
    };
    return [
      row({
        id: "1a",
        figure: "Await stored slot, sequential p50",
        unit: "ms",
        procworker: median(results.map((r) => r.pw50)),
        baseline: median(results.map((r) => r.e50)),
        baselineIs: "grpc-js unary echo p50",
        detail,
      }),
      row({
        id: "1b",
        figure: "Await stored slot, sequential p99",
        unit: "ms",
        procworker: median(results.map((r) => r.pw99)),
        baseline: median(results.map((r) => r.e99)),
        baselineIs: "grpc-js unary echo p99",
      }),
    ];
  } finally {
    ec.close();
  }
}

/** Figure 2. */
export async function scheduleThroughput({ pw, echo, lmdb }: UnaryContext): Promise<Row[]> {
  const CALLS = 1500;
  const IN_FLIGHT = 64;
  const SEQ_PUTS = 200;
  const processId = await spawnCounter(pw.client, "f2");
  const request = { processId, messages: [wire({ Amount: "1" })] };
  const response = await pw.client.schedule(request);
  const reqBytes = size(ScheduleRequest.encode(request).finish());
  const resBytes = size(ScheduleResponse.encode(response).finish());
  echo.setReplyBytes(resBytes);
  const ec = echoClient(echo.address);
  const payload = Buffer.alloc(reqBytes, 1);
  const value = Buffer.alloc(128, 3); // about a stored schedule entry
  try {
    const results = await rounds(3, 1, async () => {
      const pwRate = await concurrent(CALLS, IN_FLIGHT, () => pw.client.schedule(request));
      await settle(20);
      const echoRate = await concurrent(CALLS, IN_FLIGHT, () => ec.echo(payload));
      await settle(20);
      const echoDurableRate = await concurrent(CALLS, IN_FLIGHT, () => ec.echoDurable(payload));
      await settle(20);
      const putRate = await concurrent(CALLS, IN_FLIGHT, () => durablePut(lmdb, value));
      await settle(20);
      const seqTimes = await sequential(SEQ_PUTS, () => durablePut(lmdb, value));
      await settle(20);
      return { pwRate, echoRate, echoDurableRate, putRate, seqPutP50Ms: median(seqTimes) };
    });
    const pwRate = median(results.map((r) => r.pwRate));
    const detail = {
      callsPerRound: CALLS,
      inFlight: IN_FLIGHT,
      rounds: results.length,
      requestBytes: reqBytes,
      responseBytes: resBytes,
      lmdbSequentialPutP50Ms: median(results.map((r) => r.seqPutP50Ms)),
      perRound: results,
    };
    return [
      row({
        id: "2a",
        figure: "Schedule 1 msg, 64 in flight",
        unit: "/s",
        procworker: pwRate,
        baseline: median(results.map((r) => r.echoRate)),
        baselineIs: "grpc-js unary echo, 64 in flight",
        detail,
      }),
      row({
        id: "2b",
        figure: "Schedule 1 msg, 64 in flight",
        unit: "/s",
        procworker: pwRate,
        baseline: median(results.map((r) => r.echoDurableRate)),
        baselineIs: "grpc-js echo + 1 durable LMDB put, 64 in flight",
      }),
      row({
        id: "2c",
        figure: "Schedule 1 msg, 64 in flight",
        unit: "/s",
        procworker: pwRate,
        baseline: median(results.map((r) => r.putRate)),
        baselineIs: "LMDB durable put (1 txn each), 64 in flight",
      }),
    ];
  } finally {
    ec.close();
  }
}

/** Figure 4. */
export async function warmNextSlot({ pw, echo, log }: UnaryContext): Promise<Row[]> {
  const ITER = 60;
  const HISTORY = 200; // slots already computed before the measurement
  const ec = echoClient(echo.address);
  const cold = await startBenchServer({ processWorkers: false });
  try {
    const warmId = await spawnCounter(pw.client, "f4");
    const coldId = await spawnCounter(cold.client, "f4");
    // some history, computed (so the one-shot worker restores from a snapshot, not from slot 0)
    for (const [client, id] of [
      [pw.client, warmId],
      [cold.client, coldId],
    ] as const) {
      await client.schedule({ processId: id, messages: Array.from({ length: HISTORY }, () => wire({ Amount: "1" })) });
      await client.await({ processId: id, slot: BigInt(HISTORY) }, { timeoutMs: 30_000 });
    }
    // each step also records how long its Schedule and its Await took
    const parts = { schedule: [] as number[], await: [] as number[] };
    const step = (client: BenchServer["client"], id: string, record: boolean) => async (): Promise<void> => {
      const t0 = now();
      const slot = await scheduleOne(client, id);
      const t1 = now();
      await client.await({ processId: id, slot }, { timeoutMs: 30_000 });
      if (record) {
        parts.schedule.push(t1 - t0);
        parts.await.push(now() - t1);
      }
    };
    const probe = await pw.client.await({ processId: warmId, slot: BigInt(HISTORY) });
    echo.setReplyBytes(size(AwaitResponse.encode(probe).finish()));
    const payload = Buffer.alloc(60, 1);
    const results = await rounds(5, 1, async () => {
      const warm = await sequential(ITER, step(pw.client, warmId, true));
      const oneShot = await sequential(ITER, step(cold.client, coldId, false));
      const echo2 = await sequential(ITER, async () => {
        await ec.echo(payload);
        await ec.echo(payload);
      });
      const durable2 = await sequential(ITER, async () => {
        await ec.echoDurable(payload);
        await ec.echoDurable(payload);
      });
      return { warm: median(warm), oneShot: median(oneShot), echo2: median(echo2), durable2: median(durable2) };
    });
    const warm = median(results.map((r) => r.warm));
    log(
      `  (workers listed on the warm server: ${(await pw.client.listWorkers()).workers.length}; on the one-shot server: ${(await cold.client.listWorkers()).workers.length})`,
    );
    const detail = {
      iterationsPerRound: ITER,
      rounds: results.length,
      history: HISTORY,
      warmScheduleP50Ms: median(parts.schedule),
      warmAwaitP50Ms: median(parts.await),
      perRound: results,
    };
    return [
      row({
        id: "4a",
        figure: "Schedule 1 + Await it, warm worker p50",
        unit: "ms",
        procworker: warm,
        baseline: median(results.map((r) => r.oneShot)),
        baselineIs: "same, process_workers=false (restore each time)",
        detail,
      }),
      row({
        id: "4b",
        figure: "Schedule 1 + Await it, warm worker p50",
        unit: "ms",
        procworker: warm,
        baseline: median(results.map((r) => r.echo2)),
        baselineIs: "2 sequential grpc-js echo round trips",
      }),
      row({
        id: "4c",
        figure: "Schedule 1 + Await it, warm worker p50",
        unit: "ms",
        procworker: warm,
        baseline: median(results.map((r) => r.durable2)),
        baselineIs: "2 sequential echo + durable LMDB put",
      }),
    ];
  } finally {
    ec.close();
    await cold.close();
  }
}
