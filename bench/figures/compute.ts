/**
 * Figure 3: computing a backlog. A fresh counter@1.0 process gets BACKLOG scheduled slots
 * (untimed), then one Compute stream computes and streams them all (timed: call to end of
 * stream). Baseline: writing the same number of ~result-sized values to LMDB in durable
 * transactions of the worker's batch (DEFAULT_BATCH_SLOTS), each awaited before the next.
 */
import { AwaitResponse } from "../../src/generated/procworker/v1/process_worker_service.js";
import { readAll } from "../../src/service/client.js";
import { batchedPuts, type RawLmdb } from "../lib/lmdb.js";
import { scheduleMany, spawnCounter, type BenchServer } from "../lib/procworker.js";
import { row, type Row } from "../lib/report.js";
import { median, now, rounds, settle } from "../lib/stats.js";
import { DEFAULT_BATCH_SLOTS } from "../../src/worker/engine.js";

export const BACKLOG = 20_000;
const WARMUP_BACKLOG = 2_000;

export async function computeBacklog({ pw, lmdb }: { pw: BenchServer; lmdb: RawLmdb }): Promise<Row[]> {
  let resultBytes = 150;
  const results = await rounds(3, 1, async (round) => {
    const n = round < 0 ? WARMUP_BACKLOG : BACKLOG;
    const processId = await spawnCounter(pw.client, `f3-${round}`);
    const last = await scheduleMany(pw.client, processId, n);
    await settle(50);
    const t0 = now();
    const items = await readAll(pw.client.compute({ processId, slot: last }, { timeoutMs: 120_000 }));
    const pwMs = now() - t0;
    if (items.length !== n + 1) throw new Error(`Compute streamed ${items.length} results, expected ${n + 1}`);
    const lastItem = items.at(-1);
    if (lastItem) resultBytes = AwaitResponse.encode(lastItem).finish().byteLength;
    // stop the worker so that rounds do not accumulate live workers
    await pw.client.stop({ processId, skipSnapshot: false });
    await settle(50);
    const t1 = now();
    await batchedPuts(lmdb, n + 1, DEFAULT_BATCH_SLOTS, Buffer.alloc(resultBytes, 5));
    const lmdbMs = now() - t1;
    await settle(50);
    return { pwRate: (n + 1) / (pwMs / 1000), lmdbRate: (n + 1) / (lmdbMs / 1000), pwMs, lmdbMs };
  });
  return [
    row({
      id: "3",
      figure: `Compute backlog of ${BACKLOG / 1000}k slots, counter@1.0`,
      unit: "/s",
      procworker: median(results.map((r) => r.pwRate)),
      baseline: median(results.map((r) => r.lmdbRate)),
      baselineIs: `LMDB ${resultBytes} B puts, durable txns of ${DEFAULT_BATCH_SLOTS}`,
      detail: { backlog: BACKLOG, rounds: results.length, resultBytes, perRound: results },
    }),
  ];
}
