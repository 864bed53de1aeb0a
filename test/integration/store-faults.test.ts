/**
 * A real server whose real LMDB store cannot grow its file (the child runs under a file-size
 * limit, `ulimit -f`, with SIGXFSZ ignored, so LMDB's writes fail as on a failing disk; no
 * privileges needed): Schedule answers with the store's status and acknowledges nothing, the
 * server stays up and answers reads, and after a restart without the limit every acknowledged
 * message is there and computes to the same results.
 */
import { mkdtemp, rm, statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ProcworkerClient, readAll } from "../../src/service/client.js";
import { FULL_BELOW_BYTES } from "../../src/store/lmdb-store.js";
import { startChildServer } from "../support/child-server.js";
import { msg } from "../support/wire.js";

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "procworker-fsize-"));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const SERVE = "exec node --import tsx src/cli/main.ts serve";

it.runIf(process.platform === "linux")(
  "answers writes the store cannot make with its status, stays up, and loses nothing acknowledged",
  async () => {
    // 8 MiB in dash's 512-byte blocks (16 MiB where sh counts 1 KiB).
    const limited = await startChildServer("sh", ["-c", `ulimit -f 16384; trap '' XFSZ; ${SERVE}`], {
      PROCWORKER_DATA_DIR: dataDir,
    });
    const client = new ProcworkerClient(`127.0.0.1:${limited.port}`);
    const { processId } = await client.spawn({
      process: msg({ "Execution-Device": "counter@1.0" }),
      module: Buffer.alloc(0),
    });
    const payload = "x".repeat(256 * 1024);
    const acknowledged: bigint[] = [];
    let refused: ServiceError | undefined;
    for (let i = 1; i <= 200 && refused === undefined; i++) {
      await client.schedule({ processId, messages: [msg({ Amount: String(i) }, payload)] }).then(
        (r) => acknowledged.push(...r.assignments.map((a) => a.slot)),
        (e: ServiceError) => (refused = e),
      );
    }
    const free = await statfs(dataDir);
    const full = free.bavail * free.bsize < FULL_BELOW_BYTES;
    expect(refused?.code).toBe(full ? status.RESOURCE_EXHAUSTED : status.UNAVAILABLE);
    expect(acknowledged.length).toBeGreaterThan(0);
    expect(acknowledged).toEqual(acknowledged.map((_, i) => BigInt(i + 1)));
    // Still up: reads are answered, and a second failed write is refused the same way.
    expect((await client.getProcess({ processId })).latestScheduledSlot).toBe(BigInt(acknowledged.length));
    await expect(client.schedule({ processId, messages: [msg({ Amount: "1" }, payload)] })).rejects.toMatchObject({
      code: refused?.code,
    });
    client.close();
    expect(await limited.signalGroup("SIGTERM")).toBe(0);

    const again = await startChildServer("sh", ["-c", SERVE], { PROCWORKER_DATA_DIR: dataDir });
    const after = new ProcworkerClient(`127.0.0.1:${again.port}`);
    const entries = await readAll(after.readSchedule({ processId, fromSlot: 1n }));
    expect(entries.map((e) => e.entry?.slot)).toEqual(acknowledged);
    const results = await readAll(after.compute({ processId }));
    const n = acknowledged.length;
    expect(results.at(-1)?.result?.output?.tags.get("Total")).toBe(String((n * (n + 1)) / 2));
    after.close();
    expect(await again.signalGroup("SIGTERM")).toBe(0);
  },
  120_000,
);
