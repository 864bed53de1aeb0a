/**
 * Figure 4d: "the next slot costs one step, not a replay" where restoring is not free. A
 * wasm@1.0 key-value process (examples/kv-wat) holding KEYS keys of VALUE_BYTES each: on a
 * warm worker, Schedule one Get and Await it. Baseline: the same on a server with
 * process_workers=false, where every compute is a one-shot worker that instantiates the
 * module on a thread, imports the latest snapshot, replays up to snapshot_interval slots,
 * computes the new slot and writes a snapshot.
 */
import { compileKvWat } from "../../examples/build.mjs";
import { startBenchServer, wire, type BenchServer } from "../lib/procworker.js";
import { row, type Row } from "../lib/report.js";
import { median, rounds, sequential } from "../lib/stats.js";

const KEYS = 2_000;
const VALUE_BYTES = 512;
const ITER = 20;

export async function warmWasmNextSlot({ pw }: { pw: BenchServer }): Promise<Row[]> {
  const module = Buffer.from(await compileKvWat());
  const cold = await startBenchServer({ processWorkers: false });
  try {
    const value = "v".repeat(VALUE_BYTES);
    const ids: string[] = [];
    for (const server of [pw, cold]) {
      const { processId } = await server.client.spawn({
        process: wire({ "Execution-Device": "wasm@1.0", Bench: "4d" }),
        module,
      });
      for (let i = 0; i < KEYS; i += 500) {
        const messages = Array.from({ length: Math.min(500, KEYS - i) }, (_, j) =>
          wire({ Action: "Set", Key: `k${i + j}`, Value: value }),
        );
        await server.client.schedule({ processId, messages });
      }
      await server.client.await({ processId, slot: BigInt(KEYS) }, { timeoutMs: 60_000 });
      ids.push(processId);
    }
    const step =
      (server: BenchServer, processId: string) =>
      async (i: number): Promise<void> => {
        const [assigned] = (
          await server.client.schedule({ processId, messages: [wire({ Action: "Get", Key: `k${i % KEYS}` })] })
        ).assignments;
        await server.client.await({ processId, slot: assigned!.slot }, { timeoutMs: 60_000 });
      };
    const results = await rounds(3, 1, async () => {
      const warm = median(await sequential(ITER, step(pw, ids[0]!)));
      const oneShot = median(await sequential(ITER, step(cold, ids[1]!)));
      return { warm, oneShot };
    });
    const stateBytes = (await pw.client.listWorkers()).workers.find((w) => w.processId === ids[0])?.stateBytes;
    return [
      row({
        id: "4d",
        figure: `wasm kv (${KEYS} keys): Schedule 1 + Await, warm p50`,
        unit: "ms",
        procworker: median(results.map((r) => r.warm)),
        baseline: median(results.map((r) => r.oneShot)),
        baselineIs: "same, process_workers=false (restore each time)",
        detail: { keys: KEYS, valueBytes: VALUE_BYTES, workerStateBytes: Number(stateBytes ?? 0), perRound: results },
      }),
    ];
  } finally {
    await cold.close();
  }
}
