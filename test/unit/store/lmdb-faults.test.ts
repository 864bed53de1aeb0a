/**
 * How the LMDB store fails: every failure is classified in one place (`storeFailure`), a full
 * disk is RESOURCE_EXHAUSTED, an I/O error UNAVAILABLE, a bug stays a bug (INTERNAL); a failed
 * commit never ends the process (lmdb-js rejects promises nobody else would handle), loses
 * nothing acknowledged, and the store works again once there is room.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcworkerError, StoreFailureError } from "../../../src/core/errors.js";
import { message } from "../../../src/core/message.js";
import { FULL_BELOW_BYTES, openLmdbStore, storeFailure } from "../../../src/store/lmdb-store.js";

const lmdbError = (text: string, code: number | string): Error => Object.assign(new Error(text), { code });

describe("storeFailure", () => {
  it("classifies no room as resource_exhausted, naming the code", () => {
    for (const [code, name] of [
      [-30792, "MDB_MAP_FULL"],
      [28, "ENOSPC"],
      ["ENOSPC", "ENOSPC"],
      [122, "EDQUOT"],
      [27, "EFBIG"],
    ] as const) {
      const error = storeFailure(lmdbError("whatever /var/secret/path", code));
      expect(error).toBeInstanceOf(StoreFailureError);
      expect(error).toMatchObject({ code: "resource_exhausted", message: `the store is full (${name})` });
    }
  });

  it("classifies an I/O error by the free space: little left is a full disk", () => {
    const eio = lmdbError("Input/output error", 5);
    expect(storeFailure(eio, FULL_BELOW_BYTES - 1)).toMatchObject({
      code: "resource_exhausted",
      message: "the store's disk is full (Input/output error)",
    });
    expect(storeFailure(eio, FULL_BELOW_BYTES)).toMatchObject({
      code: "unavailable",
      message: "the store failed (Input/output error); retry later",
    });
    expect(storeFailure(eio)).toMatchObject({ code: "unavailable" });
    expect(storeFailure(lmdbError("MDB_PANIC: Update of meta page failed", -30795))).toMatchObject({
      code: "unavailable",
    });
    // A Node system error names its code, never its path.
    expect(storeFailure(lmdbError("EACCES: permission denied, open '/var/secret'", "EACCES"))).toMatchObject({
      code: "unavailable",
      message: "the store failed (EACCES); retry later",
    });
  });

  it("leaves procworker's own errors and bugs as they are", () => {
    const own = new ProcworkerError("not_found", "process p not found");
    expect(storeFailure(own)).toBe(own);
    const bug = new RangeError("offset out of range");
    expect(storeFailure(bug)).toBe(bug);
    const internalCode = lmdbError("bad argument", "ERR_INVALID_ARG_TYPE");
    expect(storeFailure(internalCode)).toBe(internalCode);
  });
});

/** True when this process may mount a tmpfs (root with CAP_SYS_ADMIN): the only way to give
 * a real LMDB a real full disk. */
function canMountTmpfs(): boolean {
  if (process.platform !== "linux" || process.getuid?.() !== 0) return false;
  const probe = join(tmpdir(), `procworker-mount-probe-${process.pid}`);
  try {
    execFileSync("mkdir", ["-p", probe]);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe], { stdio: "ignore" });
    execFileSync("umount", [probe], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  } finally {
    execFileSync("rm", ["-rf", probe]);
  }
}

describe.runIf(canMountTmpfs())("LMDB on a full disk (a 4 MiB tmpfs)", () => {
  let mountPoint: string;
  beforeAll(async () => {
    mountPoint = await mkdtemp(join(tmpdir(), "procworker-full-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mountPoint]);
  });
  afterAll(async () => {
    execFileSync("umount", ["-l", mountPoint]);
    await rm(mountPoint, { recursive: true, force: true });
  });

  it("refuses appends with resource_exhausted, keeps every acknowledged one, and takes appends again once there is room", async () => {
    const filler = join(mountPoint, "filler");
    await writeFile(filler, Buffer.alloc(1024 * 1024));
    const path = join(mountPoint, "store");
    const store = await openLmdbStore({ path });
    await store.createProcess("p", message({ "Execution-Device": "counter@1.0" }), 1);
    const data = new Uint8Array(32 * 1024).fill(7);
    let acknowledged = 0n;
    let failure: unknown;
    for (let i = 0; i < 1000 && failure === undefined; i++) {
      await store.appendSchedule("p", [message({ Amount: String(i) }, data)], 2).then(
        (entries) => (acknowledged = entries[0]!.slot),
        (error: unknown) => (failure = error),
      );
    }
    expect(failure).toBeInstanceOf(StoreFailureError);
    expect(failure).toMatchObject({ code: "resource_exhausted" });
    expect(acknowledged).toBeGreaterThan(0n);
    // A second failure while still full: the same, and still no unhandled rejection.
    await expect(store.appendSchedule("p", [message({}, data)], 3)).rejects.toMatchObject({
      code: "resource_exhausted",
    });
    expect(await store.latestScheduledSlot("p")).toBe(acknowledged);

    await rm(filler);
    const [next] = await store.appendSchedule("p", [message({ Amount: "1" })], 4);
    expect(next?.slot).toBe(acknowledged + 1n);
    await store.close();

    const reopened = await openLmdbStore({ path });
    const entries = await reopened.readSchedule("p", 1n, acknowledged + 1n);
    expect(entries.map((e) => e.slot)).toEqual(
      Array.from({ length: Number(acknowledged) + 1 }, (_, i) => BigInt(i + 1)),
    );
    expect(entries.slice(0, -1).every((e, i) => e.message.tags["Amount"] === String(i))).toBe(true);
    await reopened.close();
  });
});
