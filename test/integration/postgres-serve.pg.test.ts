import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ProcworkerClient, readAll } from "../../src/service/client.js";
import { startChildServer } from "../support/child-server.js";
import { createTestDatabase, query, type TestDatabase } from "../support/postgres.js";
import { msg } from "../support/wire.js";

let db: TestDatabase;
let dir: string;
beforeAll(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), "procworker-pg-serve-"));
});
afterAll(async () => {
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});

it("procworker serve with PROCWORKER_DATABASE_URL keeps everything in PostgreSQL, none in LMDB", async () => {
  const dataDir = join(dir, "unused");
  const server = await startChildServer(process.execPath, ["--import", "tsx", "src/cli/main.ts", "serve"], {
    PROCWORKER_DATABASE_URL: db.url,
    PROCWORKER_DATA_DIR: dataDir,
  });
  const client = new ProcworkerClient(`127.0.0.1:${server.port}`);
  try {
    const { processId } = await client.spawn({
      process: msg({ "Execution-Device": "counter@1.0" }),
      module: Buffer.alloc(0),
    });
    const { assignments } = await client.schedule({
      processId,
      messages: [msg({ Amount: "2" }), msg({ Amount: "5" })],
    });
    expect(assignments.map((a) => a.slot)).toEqual([1n, 2n]);
    const computed = await readAll(client.compute({ processId, slot: 2n }));
    expect(computed.at(-1)?.result?.output?.tags.get("Total")).toBe("7");

    const rows = await query<{ latest: string; results: number }>(
      db.url,
      `SELECT p.latest_slot::text AS latest, (SELECT count(*)::int FROM procworker.results) AS results
       FROM procworker.processes p WHERE p.process_id = $1`,
      [processId],
    );
    expect(rows).toEqual([{ latest: (2n - 2n ** 63n).toString(), results: 3 }]);
    await expect(access(dataDir)).rejects.toMatchObject({ code: "ENOENT" });

    // The logged configuration names the database but not its password.
    const logged = server.stdout.find((l) => l.includes('"event":"config"')) ?? "";
    const password = new URL(db.url).password;
    expect(logged).toContain(`${new URL(db.url).host}`);
    expect(logged).not.toContain(password);
  } finally {
    client.close();
    expect(await server.signalGroup("SIGTERM")).toBe(0);
  }
});
