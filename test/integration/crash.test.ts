/**
 * A crash in the middle of a large catch-up (docs/design.md §2.10). The worker computes a
 * batch while the previous batch's durable write is in flight (and, on wasm@1.0, the device
 * already computes the batch after it); a server killed at any moment (SIGKILL: no shutdown,
 * no snapshot) must leave a store from which a restarted server gives exactly the results of
 * a cold replay from slot 0 — the ones stored before the crash and the ones computed after it.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { compileCounterWat } from "../../bench/lib/wasm.js";
import { message } from "../../src/core/message.js";
import { createWasmDevice } from "../../src/device/wasm/index.js";
import type { SlotResult } from "../../src/core/result.js";
import type { SlotResult as WireSlotResult } from "../../src/generated/procworker/v1/types.js";
import { ProcworkerClient } from "../../src/service/client.js";
import { startChildServer } from "../support/child-server.js";
import { collect, testEngine } from "../support/engine.js";
import { msg, take } from "../support/wire.js";

const SLOTS = 30_000;
/** Amounts that move the total up and down, so every result differs from its neighbours
 * (the WAT counter reads unsigned amounts: it gets them shifted up). */
const amounts = Array.from({ length: SLOTS }, (_, i) => ((i * 7919) % 1001) - 500);

/** The processes the test crashes: counter@1.0, and wasm@1.0 running a WAT counter. */
const devices = [
  { device: "counter@1.0", module: async () => Buffer.alloc(0), amount: (a: number) => String(a) },
  { device: "wasm@1.0", module: compileCounterWat, amount: (a: number) => String(a + 500) },
];

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "procworker-crash-"));
  await promisify(execFile)("npm", ["run", "build", "--silent"], { cwd: new URL("../../", import.meta.url).pathname });
}, 120_000);
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

/** What a result says, comparably for the wire and the domain forms. */
function summary(r: {
  processId: string;
  slot: bigint;
  messageId: string;
  total: string | undefined;
  data: Uint8Array | undefined;
  error: string | undefined;
}): string {
  const data = r.data === undefined ? "-" : Buffer.from(r.data).toString("hex");
  return `${r.processId} ${r.slot} ${r.messageId} ${r.total ?? "-"} ${data} ${r.error ?? "-"}`;
}
const fromWire = (r: WireSlotResult | undefined): string =>
  summary({
    processId: r?.processId ?? "",
    slot: r?.slot ?? -1n,
    messageId: r?.messageId ?? "",
    total: r?.output?.tags.get("Total"),
    data: r?.output?.data,
    error: r?.error?.message,
  });
const fromDomain = (r: SlotResult): string =>
  summary({
    processId: r.processId,
    slot: r.slot,
    messageId: r.messageId,
    total: r.output?.tags["Total"],
    data: r.output?.data,
    error: r.error?.message,
  });

it.each(devices)(
  "after a SIGKILL during a large catch-up on $device, a restarted server's results equal a cold replay's",
  async ({ device, module: moduleBytes, amount }) => {
    const dir = join(dataDir, device);
    const module = await moduleBytes();
    const spawnTags = { "Execution-Device": device, Initial: "7" };
    const first = await startChildServer("node", ["dist/cli/main.js", "serve"], { PROCWORKER_DATA_DIR: dir });
    const client = new ProcworkerClient(`127.0.0.1:${first.port}`);
    const { processId } = await client.spawn({ process: msg(spawnTags), module: Buffer.from(module) });
    for (let i = 0; i < SLOTS; i += 1000) {
      await client.schedule({ processId, messages: amounts.slice(i, i + 1000).map((a) => msg({ Amount: amount(a) })) });
    }
    // An Await of the last slot starts the catch-up; the server dies as soon as it is under way.
    const waiting = client.await({ processId, slot: BigInt(SLOTS) }).catch(() => undefined);
    for (;;) {
      const { latestComputedSlot } = await client.getProcess({ processId });
      if ((latestComputedSlot ?? 0n) >= 1000n) break;
    }
    expect(await first.signalGroup("SIGKILL")).toBeNull();
    await waiting;
    client.close();

    const second = await startChildServer("node", ["dist/cli/main.js", "serve"], { PROCWORKER_DATA_DIR: dir });
    const again = new ProcworkerClient(`127.0.0.1:${second.port}`);
    try {
      const stored = await again.getProcess({ processId });
      const computedBeforeCrash = stored.latestComputedSlot ?? -1n;
      expect(computedBeforeCrash).toBeGreaterThanOrEqual(1000n);
      expect(computedBeforeCrash).toBeLessThan(BigInt(SLOTS)); // killed in the middle of the catch-up
      expect(stored.latestSnapshotSlot ?? 0n).toBeLessThanOrEqual(computedBeforeCrash);

      // Every result: the stored ones first (as they were written before the crash), then the rest.
      const received = await take(again.subscribe({ processId, fromSlot: 0n }), SLOTS + 1);
      const wasm = createWasmDevice({ slotTimeLimitMs: 5_000, maxMemoryMib: 16, threads: 1 });
      const t = testEngine({}, { devices: [wasm] });
      try {
        const cold = await t.engine.spawn(message(spawnTags), device === "wasm@1.0" ? module : undefined);
        expect(cold).toBe(processId);
        await t.engine.schedule(
          cold,
          amounts.map((a) => message({ Amount: amount(a) })),
        );
        const replay = await collect(await t.engine.compute(cold, undefined));
        expect(replay).toHaveLength(SLOTS + 1);
        expect(received.map((r) => fromWire(r.result))).toEqual(replay.map(fromDomain));
        if (device === "wasm@1.0") expect(replay.at(-1)?.output?.tags["Total"]).toMatch(/^\d+$/);
      } finally {
        await t.engine.close();
        await wasm.close();
      }
    } finally {
      again.close();
      expect(await second.signalGroup("SIGTERM")).toBe(0);
    }
  },
  240_000,
);
