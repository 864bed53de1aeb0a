import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { message } from "../../../src/core/message.js";
import type { Store } from "../../../src/store/store.js";
import { openLmdbStore } from "../../../src/store/lmdb-store.js";
import { storeConformance } from "./conformance.js";

storeConformance("lmdb", async () => {
  const path = await mkdtemp(join(tmpdir(), "procworker-store-"));
  const opened: Store[] = [await openLmdbStore({ path })];
  return {
    store: opened[0]!,
    reopen: async () => {
      const store = await openLmdbStore({ path });
      opened.push(store);
      return store;
    },
    cleanup: async () => {
      for (const store of opened) await store.close();
      await rm(path, { recursive: true, force: true });
    },
  };
});

describe("LMDB store on disk", () => {
  it("treats a path with a dot as a directory, existing or not", async () => {
    const path = await mkdtemp(join(tmpdir(), "procworker.store-")); // exists, "has an extension"
    try {
      const store = await openLmdbStore({ path });
      expect(await store.createProcess("p", message(), 1)).toBe(true);
      await store.close();
      const again = await openLmdbStore({ path });
      expect(await again.latestScheduledSlot("p")).toBe(0n);
      await again.close();
      const fresh = join(path, "data.v1");
      await (await openLmdbStore({ path: fresh })).close();
      expect((await readdir(fresh)).sort()).toEqual(["data.mdb", "lock.mdb"]);
    } finally {
      await rm(path, { recursive: true, force: true });
    }
  });

  it("a write that resolved survives the process being killed at once (SIGKILL, no close)", async () => {
    const path = await mkdtemp(join(tmpdir(), "procworker-store-"));
    const storeModule = fileURLToPath(new URL("../../../src/store/lmdb-store.ts", import.meta.url));
    const child = `
      import { openLmdbStore } from ${JSON.stringify(storeModule)};
      const store = await openLmdbStore({ path: ${JSON.stringify(path)} });
      await store.createProcess("p", { tags: {}, data: new Uint8Array() }, 1);
      const msgs = Array.from({ length: 10 }, (_, i) => ({ tags: { N: String(i) }, data: Uint8Array.of(i) }));
      await store.appendSchedule("p", msgs, 2);
      await store.putResults([{ processId: "p", slot: 2n ** 64n - 1n, messageId: "m", output: msgs[3] }]);
      process.stdout.write("written\\n");
      process.kill(process.pid, "SIGKILL");
    `;
    try {
      const proc = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", child], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      let out = "";
      proc.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
      const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
        proc.on("exit", (_code, sig) => resolve(sig)),
      );
      expect(signal).toBe("SIGKILL");
      expect(out).toBe("written\n");

      const store = await openLmdbStore({ path });
      expect(await store.latestScheduledSlot("p")).toBe(10n);
      expect((await store.readSchedule("p", 4n, 4n))[0]?.message).toEqual(message({ N: "3" }, Uint8Array.of(3)));
      expect((await store.getResult("p", 2n ** 64n - 1n))?.output).toEqual(message({ N: "3" }, Uint8Array.of(3)));
      await store.close();
    } finally {
      await rm(path, { recursive: true, force: true });
    }
  });
});
