/**
 * Node's HTTP/2 server ends a connection whose client resets more than 1,000 streams at once,
 * then 33 a second, with GOAWAY(INTERNAL_ERROR): every call on it fails. Deadlines that expire
 * cost resets, so an app that Awaits with short deadlines on one channel used to lose it.
 *
 * 2,000 Awaits expire on one connection at 500 a second while a bystander subscription runs
 * on it. The budget runs out after about 2 s at that rate (1,000 + 33/s < 500/s × t for
 * t > 2.2 s), so without the defence the bystander dies a little past 1,000 expiries; with it,
 * the server answers each expiring wait just before the client's timer (no reset) and drains
 * the connection before its budget is gone (its calls finish, new calls move to a new
 * connection). The same property at 100 a second needs 20 s; at 500 a second it needs 4 s,
 * and still fails without the defence for any rate the test machine can manage above ~70/s.
 */
import { status, type ServiceError } from "@grpc/grpc-js";
import { afterEach, expect, it } from "vitest";
import type { SubscribeResponse } from "../../src/generated/procworker/v1/process_worker_service.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { msg } from "../support/wire.js";

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

const EXPIRIES = 2000;
const PER_SECOND = 500;
const DEADLINE_MS = 200;

it(`${EXPIRIES} Awaits whose deadlines expire at ${PER_SECOND}/s on one connection leave a bystander Subscribe on it alive`, async () => {
  s = await startTestServer();
  const client = s.client;
  const { processId } = await client.spawn({
    process: msg({ "Execution-Device": "counter@1.0" }),
    module: Buffer.alloc(0),
  });

  const bystander = client.subscribe({ processId, fromSlot: 0n });
  const seen: bigint[] = [];
  let failure: ServiceError | undefined;
  let next: ((slot: bigint) => void) | undefined;
  bystander.on("data", (r: SubscribeResponse) => {
    const slot = r.result?.slot ?? -1n;
    seen.push(slot);
    next?.(slot);
  });
  bystander.on("error", (e: ServiceError) => (failure = e));
  const delivered = (slot: bigint): Promise<void> =>
    seen.includes(slot) ? Promise.resolve() : new Promise((resolve) => (next = (s) => s === slot && resolve()));
  await delivered(0n);

  try {
    const codes = new Map<number, number>();
    const waits: Promise<void>[] = [];
    const start = Date.now();
    for (let i = 0; i < EXPIRIES; i++) {
      const due = start + (i * 1000) / PER_SECOND - Date.now();
      if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
      waits.push(
        client.await({ processId, slot: 1_000_000n }, { timeoutMs: DEADLINE_MS }).then(
          () => void codes.set(status.OK, (codes.get(status.OK) ?? 0) + 1),
          (e: ServiceError) => void codes.set(e.code, (codes.get(e.code) ?? 0) + 1),
        ),
      );
    }
    await Promise.all(waits);
    expect(Object.fromEntries(codes)).toEqual({ [status.DEADLINE_EXCEEDED]: EXPIRIES });

    // The bystander is alive on its connection: it gets the next slot.
    await client.schedule({ processId, messages: [msg({ Amount: "1" })] });
    await delivered(1n);
    expect(failure).toBeUndefined();
    expect(seen).toEqual([0n, 1n]);
    const metrics = await s.server.metrics.registry.getMetricsAsJSON();
    const value = (name: string) => metrics.find((m) => m.name === name)?.values[0]?.value;
    expect(value("procworker_connections_drained_total")).toBeGreaterThanOrEqual(1);
    expect(value("procworker_reset_floods_total")).toBe(0);
  } finally {
    bystander.cancel();
  }
}, 60_000);
