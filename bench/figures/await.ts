/**
 * Figure 4: Await of a slot that is already stored, 64 calls in flight, from a raw-bytes
 * client (it decodes nothing), against a grpc-js echo with the same request and reply sizes
 * on the raw process. Rates, and the server's CPU per call against the echo server's.
 */
import { AwaitRequest } from "../../src/generated/procworker/v1/process_worker_service.js";
import type { BenchContext } from "../lib/context.js";
import { profiled } from "../lib/context.js";
import { scheduleOne, spawnCounter } from "../lib/procworker.js";
import { overRounds, row, type Row } from "../lib/report.js";
import { concurrent, rounds, settle } from "../lib/stats.js";

const IN_FLIGHT = 64;

export async function awaitFigures(ctx: BenchContext): Promise<Row[]> {
  const calls = ctx.quick ? 1_500 : 4_000;
  const processId = await spawnCounter(ctx.pw.client, "f4");
  const slot = await scheduleOne(ctx.pw.client, processId);
  const request = { processId, slot };
  const raw = ctx.pw.rawClient();
  const reply = await raw.await(request);
  const requestBytes = AwaitRequest.encode(request).finish().byteLength;
  await ctx.raw.setReplyBytes(reply.byteLength);
  const echo = ctx.raw.echoClient(true);
  const payload = Buffer.alloc(requestBytes, 1);
  try {
    const results = await rounds(ctx.quick ? 2 : 3, 1, async (round) => {
      const pwCpu0 = await ctx.pw.cpu();
      const run = () => concurrent(calls, IN_FLIGHT, () => raw.await(request));
      const pwRate = round === (ctx.quick ? 1 : 2) ? await profiled(ctx, "await", run) : await run();
      const pwCpu1 = await ctx.pw.cpu();
      await settle(50);
      const rawCpu0 = await ctx.raw.cpu();
      const echoRun = () => concurrent(calls, IN_FLIGHT, () => echo.echo(payload));
      const echoRate =
        round === (ctx.quick ? 1 : 2) ? await profiled(ctx, "await-echo", echoRun, "raw") : await echoRun();
      const rawCpu1 = await ctx.raw.cpu();
      await settle(50);
      return {
        pwRate,
        echoRate,
        pwCpuUs: (pwCpu1.processUs - pwCpu0.processUs) / calls,
        echoCpuUs: (rawCpu1.processUs - rawCpu0.processUs) / calls,
      };
    });
    const detail = { calls, inFlight: IN_FLIGHT, requestBytes, responseBytes: reply.byteLength, perRound: results };
    return [
      row({
        id: "4a",
        figure: "Await stored slot, 64 in flight",
        unit: "/s",
        ...overRounds(
          results,
          (r) => r.pwRate,
          (r) => r.echoRate,
        ),
        baselineIs: "grpc-js echo, same sizes, 64 in flight",
        target: { maxCost: 1 / 0.85 },
        detail,
      }),
      row({
        id: "4b",
        figure: "Await stored slot: server CPU per call",
        unit: "us",
        ...overRounds(
          results,
          (r) => r.pwCpuUs,
          (r) => r.echoCpuUs,
        ),
        baselineIs: "the echo server's CPU per call",
      }),
    ];
  } finally {
    raw.close();
  }
}
