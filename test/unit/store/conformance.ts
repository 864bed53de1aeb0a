/**
 * The Store conformance suite: every implementation runs exactly these tests
 * (memory-store.test.ts, lmdb-store.test.ts, postgres-store.pg.test.ts). Tests that need a
 * reopen run only when the fixture provides one (stores that persist).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ErrorCode } from "../../../src/core/errors.js";
import { canonicalBytes, message, messageId, sha256Id, type Message } from "../../../src/core/message.js";
import type { SlotResult } from "../../../src/core/result.js";
import { decodeResult, encodeResult } from "../../../src/store/codec.js";
import type { Store } from "../../../src/store/store.js";

/** What a fixture hands each test: a fresh empty store, maybe a way to reopen it, cleanup. */
export interface StoreFixture {
  store: Store;
  /** Opens the same data again (call after closing `store`). */
  reopen?: () => Promise<Store>;
  cleanup: () => Promise<void>;
}

const MAX = 2n ** 64n - 1n;
const spawnOf = (name: string): Message => message({ "Execution-Device": "counter@1.0", Name: name }, `spawn ${name}`);
const msg = (i: number): Message => message({ Action: "Add", N: String(i) }, `data ${i}`);

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  await expect(promise).rejects.toMatchObject({ name: "ProcworkerError", code });
}

function ok(processId: string, slot: bigint, text = `out ${slot}`): SlotResult {
  return { processId, slot, messageId: `m${slot}`, output: message({ Result: text }, text) };
}

function failed(processId: string, slot: bigint, attemptedSlot = slot): SlotResult {
  return {
    processId,
    slot,
    messageId: `m${slot}`,
    error: { phase: "compute", attemptedSlot, message: "trap: unreachable" },
  };
}

/** Registers the conformance tests for one Store implementation. */
export function storeConformance(name: string, open: () => Promise<StoreFixture>): void {
  describe(`Store conformance: ${name}`, () => {
    let fx: StoreFixture;
    let store: Store;
    const spawn = spawnOf("a");
    const pid = messageId(spawn);

    beforeEach(async () => {
      fx = await open();
      store = fx.store;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    describe("processes", () => {
      it("createProcess stores the definition and slot 0 whose message id is the process id", async () => {
        expect(await store.createProcess(pid, spawn, 1_700_000_000_123)).toBe(true);
        expect(await store.getProcess(pid)).toEqual(spawn);
        expect(await store.latestScheduledSlot(pid)).toBe(0n);
        expect(await store.readSchedule(pid, 0n, 0n)).toEqual([
          { slot: 0n, messageId: pid, timestampMs: 1_700_000_000_123, message: spawn },
        ]);
      });

      it("createProcess is idempotent: false the second time and nothing is rewritten", async () => {
        expect(await store.createProcess(pid, spawn, 1)).toBe(true);
        expect(await store.createProcess(pid, spawnOf("other"), 2, { id: "mod", bytes: Uint8Array.of(9) })).toBe(false);
        expect(await store.getProcess(pid)).toEqual(spawn);
        expect((await store.readSchedule(pid, 0n, 0n))[0]?.timestampMs).toBe(1);
        expect(await store.getModule("mod")).toBeUndefined();
      });

      it("concurrent createProcess of one id succeeds exactly once", async () => {
        const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => store.createProcess(pid, spawn, i)));
        expect(outcomes.filter(Boolean)).toHaveLength(1);
        expect(await store.latestScheduledSlot(pid)).toBe(0n);
      });

      it("createProcess stores the module given with it", async () => {
        const bytes = Uint8Array.of(0, 97, 115, 109);
        const id = sha256Id(bytes);
        const creating = store.createProcess(pid, spawn, 1, { id, bytes });
        bytes[0] = 99; // before the write has resolved: the store copied already
        await creating;
        expect(await store.getModule(id)).toEqual(Uint8Array.of(0, 97, 115, 109));
      });

      it("an unknown process has no definition, no latest slot, no schedule", async () => {
        expect(await store.getProcess(pid)).toBeUndefined();
        expect(await store.latestScheduledSlot(pid)).toBeUndefined();
        expect(await store.readSchedule(pid, 0n, MAX)).toEqual([]);
      });
    });

    describe("modules", () => {
      it("stores a process's module by id, once for every process that shares it; unknown ids are undefined", async () => {
        const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
        const id = sha256Id(bytes);
        expect(await store.createProcess("p1", msg(1), 1, { id, bytes })).toBe(true);
        expect(await store.createProcess("p2", msg(2), 1, { id, bytes: Uint8Array.of(9) })).toBe(true);
        expect(await store.getModule(id)).toEqual(bytes); // the first copy stays
        expect(await store.getModule(sha256Id(Uint8Array.of(1)))).toBeUndefined();
      });

      it("copies module bytes in and out", async () => {
        const bytes = Uint8Array.of(1, 2, 3);
        const creating = store.createProcess("p1", msg(1), 1, { id: "m", bytes });
        bytes[0] = 99; // before the write has resolved
        await creating;
        const read = await store.getModule("m");
        expect(read).toEqual(Uint8Array.of(1, 2, 3));
        read![1] = 99;
        expect(await store.getModule("m")).toEqual(Uint8Array.of(1, 2, 3));
      });
    });

    describe("schedule", () => {
      beforeEach(async () => {
        await store.createProcess(pid, spawn, 1);
      });

      it("appends gap-free from 1, several messages in order, with their message ids", async () => {
        const first = await store.appendSchedule(pid, [msg(1)], 10);
        const next = await store.appendSchedule(pid, [msg(2), msg(3), msg(4)], 20);
        expect(first.map((e) => e.slot)).toEqual([1n]);
        expect(next.map((e) => e.slot)).toEqual([2n, 3n, 4n]);
        expect([...first, ...next].map((e) => e.messageId)).toEqual([1, 2, 3, 4].map((i) => messageId(msg(i))));
        expect(next.every((e) => e.timestampMs === 20)).toBe(true);
        expect(await store.latestScheduledSlot(pid)).toBe(4n);
        expect(await store.readSchedule(pid, 1n, 4n)).toEqual([...first, ...next]);
      });

      it("reads the schedule with messages left encoded: the same entries, each message's canonical bytes", async () => {
        const appended = await store.appendSchedule(pid, [msg(1), msg(2), msg(3)], 10);
        const encoded = await store.readEncodedSchedule(pid, 0n, 2n);
        const decoded = await store.readSchedule(pid, 0n, 2n);
        expect(encoded).toEqual(
          decoded.map((e) => ({
            slot: e.slot,
            messageId: e.messageId,
            canonical: new Uint8Array(canonicalBytes(e.message)),
          })),
        );
        expect(encoded.map((e) => e.slot)).toEqual([0n, 1n, 2n]);
        expect(decoded[1]?.message).toEqual(appended[0]?.message);
        expect(await store.readEncodedSchedule(pid, 2n, MAX, 1)).toHaveLength(1);
        expect(await store.readEncodedSchedule(messageId(spawnOf("nobody")), 0n, MAX)).toEqual([]);
      });

      it("an empty append is a no-op", async () => {
        expect(await store.appendSchedule(pid, [], 5)).toEqual([]);
        expect(await store.latestScheduledSlot(pid)).toBe(0n);
      });

      it("appends to an unknown process reject with not_found and write nothing", async () => {
        const other = messageId(spawnOf("nobody"));
        await expectCode(store.appendSchedule(other, [msg(1)], 1), "not_found");
        expect(await store.latestScheduledSlot(other)).toBeUndefined();
        expect(await store.readSchedule(other, 0n, MAX)).toEqual([]);
      });

      it("50 concurrent appends produce exactly slots 1..N, each append contiguous", async () => {
        const sizes = Array.from({ length: 50 }, (_, i) => (i % 3) + 1);
        let n = 0;
        const batches = sizes.map((size) => Array.from({ length: size }, () => msg(++n)));
        const appended = await Promise.all(batches.map((batch) => store.appendSchedule(pid, batch, 7)));
        const slots = appended
          .flat()
          .map((e) => e.slot)
          .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        expect(slots).toEqual(Array.from({ length: n }, (_, i) => BigInt(i + 1)));
        for (const entries of appended) {
          entries.forEach((e, i) => expect(e.slot).toBe(entries[0]!.slot + BigInt(i)));
        }
        const stored = await store.readSchedule(pid, 1n, MAX);
        expect(stored).toHaveLength(n);
        const bySlot = new Map(appended.flat().map((e) => [e.slot, e]));
        for (const e of stored) expect(e).toEqual(bySlot.get(e.slot));
        expect(await store.latestScheduledSlot(pid)).toBe(BigInt(n));
      });

      it("readSchedule is inclusive at both ends, clipped to what exists, empty when reversed", async () => {
        await store.appendSchedule(pid, [msg(1), msg(2), msg(3), msg(4), msg(5)], 1);
        const slots = async (from: bigint, to: bigint) => (await store.readSchedule(pid, from, to)).map((e) => e.slot);
        expect(await slots(2n, 4n)).toEqual([2n, 3n, 4n]);
        expect(await slots(3n, 3n)).toEqual([3n]);
        expect(await slots(0n, 1n)).toEqual([0n, 1n]);
        expect(await slots(4n, MAX)).toEqual([4n, 5n]);
        expect(await slots(6n, 10n)).toEqual([]);
        expect(await slots(4n, 2n)).toEqual([]);
      });

      it("keeps processes apart, also when one id is a prefix of another", async () => {
        await store.createProcess("p", spawnOf("p"), 1);
        await store.createProcess("pp", spawnOf("pp"), 1);
        await store.appendSchedule("pp", [msg(1), msg(2)], 1);
        await store.putResults([ok("pp", 1n), ok("p", 0n)]);
        expect(await store.latestScheduledSlot("p")).toBe(0n);
        expect((await store.readSchedule("p", 0n, MAX)).map((e) => e.slot)).toEqual([0n]);
        expect(await store.latestResultSlot("p")).toBe(0n);
        expect(await store.latestResultSlot("pp")).toBe(1n);
      });

      it("stored messages are copies: mutating inputs or outputs changes nothing stored", async () => {
        const m = msg(1);
        const appending = store.appendSchedule(pid, [m], 1);
        m.data[0] = 0; // before the write has resolved
        m.tags.Action = "Changed";
        const [entry] = await appending;
        const [read] = await store.readSchedule(pid, 1n, 1n);
        expect(read?.message).toEqual(msg(1));
        read!.message.data[0] = 0;
        expect((await store.readSchedule(pid, 1n, 1n))[0]?.message).toEqual(msg(1));
        expect(entry?.messageId).toBe(messageId(msg(1)));
      });
    });

    describe("results", () => {
      it("putResults stores outputs and errors; getResult reads them back", async () => {
        await store.putResults([ok(pid, 0n), ok(pid, 1n), failed(pid, 2n)]);
        expect(await store.getResult(pid, 1n)).toEqual(ok(pid, 1n));
        expect(await store.getResult(pid, 2n)).toEqual(failed(pid, 2n));
        expect(await store.getResult(pid, 3n)).toBeUndefined();
        expect(await store.latestResultSlot(pid)).toBe(2n);
      });

      it("putResults overwrites a slot's result", async () => {
        await store.putResults([failed(pid, 1n)]);
        await store.putResults([ok(pid, 1n, "second")]);
        expect(await store.getResult(pid, 1n)).toEqual(ok(pid, 1n, "second"));
      });

      it("readResults is inclusive, in slot order, and honours limit", async () => {
        await store.putResults([3n, 1n, 2n, 0n, 4n].map((s) => ok(pid, s)));
        const slots = async (from: bigint, to: bigint, limit?: number) =>
          (await store.readResults(pid, from, to, limit)).map((r) => r.slot);
        expect(await slots(1n, 3n)).toEqual([1n, 2n, 3n]);
        expect(await slots(0n, MAX, 2)).toEqual([0n, 1n]);
        expect(await slots(2n, MAX, 100)).toEqual([2n, 3n, 4n]);
        expect(await slots(0n, MAX, 0)).toEqual([]);
        expect(await slots(5n, 9n)).toEqual([]);
        expect(await slots(3n, 1n)).toEqual([]);
        expect(await store.readResults(pid, 4n, 4n)).toEqual([ok(pid, 4n)]);
      });

      it("reads results left encoded: the same results, range and limit, each as its stored bytes", async () => {
        await store.putResults([3n, 1n, 2n, 0n, 4n].map((s) => (s === 2n ? failed(pid, s) : ok(pid, s))));
        const encoded = await store.readEncodedResults(pid, 1n, MAX, 3);
        const decoded = await store.readResults(pid, 1n, MAX, 3);
        expect(encoded.map((r) => r.slot)).toEqual([1n, 2n, 3n]);
        expect(encoded.map((r) => decodeResult(r.value))).toEqual(decoded);
        expect(encoded.map((r) => Buffer.from(r.value).toString("hex"))).toEqual(
          decoded.map((r) => Buffer.from(encodeResult(r)).toString("hex")),
        );
        expect(await store.readEncodedResults(pid, 5n, MAX)).toEqual([]);
        expect(await store.readEncodedResults(messageId(spawnOf("nobody")), 0n, MAX)).toEqual([]);
        await expectCode(store.readEncodedResults(pid, 0n, 1n, -1), "invalid_argument");
      });

      it("an unknown process has no results", async () => {
        expect(await store.latestResultSlot(pid)).toBeUndefined();
        expect(await store.readResults(pid, 0n, MAX)).toEqual([]);
      });

      it("putResults is all or nothing when one result is invalid", async () => {
        await expectCode(store.putResults([ok(pid, 1n), ok(pid, -1n)]), "invalid_argument");
        expect(await store.getResult(pid, 1n)).toBeUndefined();
      });
    });

    describe("snapshots", () => {
      const state = (slot: bigint) => new TextEncoder().encode(`state after ${slot}`);

      beforeEach(async () => {
        for (const slot of [5n, 10n, 20n])
          await store.putSnapshot({ processId: pid, snapshot: { slot, state: state(slot) } });
      });

      it("latestSnapshot picks the highest slot at or below the target", async () => {
        expect(await store.latestSnapshot(pid, 15n)).toEqual({ slot: 10n, state: state(10n) });
        expect(await store.latestSnapshot(pid, 10n)).toEqual({ slot: 10n, state: state(10n) });
        expect(await store.latestSnapshot(pid, MAX)).toEqual({ slot: 20n, state: state(20n) });
        expect(await store.latestSnapshot(pid, 4n)).toBeUndefined();
        expect(await store.latestSnapshot("other", MAX)).toBeUndefined();
      });

      it("putSnapshot overwrites the snapshot at the same slot", async () => {
        await store.putSnapshot({ processId: pid, snapshot: { slot: 10n, state: Uint8Array.of(7) } });
        expect(await store.latestSnapshot(pid, 10n)).toEqual({ slot: 10n, state: Uint8Array.of(7) });
      });

      it("putSnapshot with deleteBelow removes only lower slots of that process", async () => {
        await store.putSnapshot({ processId: "other", snapshot: { slot: 1n, state: state(1n) } });
        await store.putSnapshot({ processId: pid, snapshot: { slot: 20n, state: state(20n) }, deleteBelow: 10n });
        expect(await store.latestSnapshot(pid, 9n)).toBeUndefined();
        expect(await store.latestSnapshot(pid, 10n)).toEqual({ slot: 10n, state: state(10n) });
        expect(await store.latestSnapshot(pid, MAX)).toEqual({ slot: 20n, state: state(20n) });
        expect(await store.latestSnapshot("other", MAX)).toEqual({ slot: 1n, state: state(1n) });
      });

      it("latestSnapshotSlot finds the slot without the state, and putSnapshot can prune in the same write", async () => {
        await store.putSnapshot({ processId: pid, snapshot: { slot: 40n, state: Uint8Array.of(4) } });
        await store.putSnapshot({ processId: pid, snapshot: { slot: 50n, state: Uint8Array.of(5) } });
        expect(await store.latestSnapshotSlot(pid, 49n)).toBe(40n);
        expect(await store.latestSnapshotSlot(pid, 50n)).toBe(50n);
        expect(await store.latestSnapshotSlot(pid, 39n)).not.toBe(40n);
        await store.putSnapshot({ processId: pid, snapshot: { slot: 60n, state: Uint8Array.of(6) }, deleteBelow: 50n });
        expect(await store.latestSnapshotSlot(pid, 49n)).toBeUndefined();
        expect(await store.latestSnapshot(pid, 59n)).toEqual({ slot: 50n, state: Uint8Array.of(5) });
        expect(await store.latestSnapshot(pid, 60n)).toEqual({ slot: 60n, state: Uint8Array.of(6) });
      });

      it("putResults writes its snapshots with its results, in one write, retention included", async () => {
        await store.putResults([ok(pid, 30n), ok(pid, 31n)], {
          processId: pid,
          snapshot: { slot: 31n, state: state(31n) },
        });
        expect(await store.getResult(pid, 31n)).toEqual(ok(pid, 31n));
        expect(await store.latestSnapshot(pid, MAX)).toEqual({ slot: 31n, state: state(31n) });
        // several snapshots: each stored, and the last one's retention applied after them all
        await store.putResults(
          [40n, 41n, 42n].map((slot) => ok(pid, slot)),
          [
            { processId: pid, snapshot: { slot: 40n, state: state(40n) } },
            { processId: pid, snapshot: { slot: 42n, state: state(42n) }, deleteBelow: 40n },
          ],
        );
        expect(await store.latestSnapshotSlot(pid, 39n)).toBeUndefined();
        expect(await store.latestSnapshot(pid, 41n)).toEqual({ slot: 40n, state: state(40n) });
        expect(await store.latestSnapshot(pid, MAX)).toEqual({ slot: 42n, state: state(42n) });
        expect((await store.readResults(pid, 40n, 42n, 10)).map((r) => r.slot)).toEqual([40n, 41n, 42n]);
      });

      it("putResults with snapshots is all or nothing when a snapshot is invalid", async () => {
        await expectCode(
          store.putResults([ok(pid, 60n)], [{ processId: pid, snapshot: { slot: MAX + 1n, state: state(60n) } }]),
          "invalid_argument",
        );
        expect(await store.getResult(pid, 60n)).toBeUndefined();
        expect(await store.latestSnapshot(pid, MAX)).toEqual({ slot: 20n, state: state(20n) });
      });

      it("snapshot states read back are copies (the store owns what it was given)", async () => {
        await store.putSnapshot({ processId: pid, snapshot: { slot: 30n, state: Uint8Array.of(1, 2) } });
        const read = await store.latestSnapshot(pid, 30n);
        expect(read?.state).toEqual(Uint8Array.of(1, 2));
        read!.state[1] = 9;
        expect((await store.latestSnapshot(pid, 30n))?.state).toEqual(Uint8Array.of(1, 2));
      });
    });

    describe("bigint slots", () => {
      // Across the 2^32 and 2^53 boundaries up to the last u64; shuffled on purpose.
      const slots = [
        2n ** 53n + 7n,
        1n,
        MAX,
        2n ** 32n,
        2n ** 53n - 1n,
        0n,
        2n ** 32n - 1n,
        2n ** 53n + 1n,
        2n ** 53n,
        2n ** 32n + 1n,
        255n,
        256n,
      ];
      const sorted = [...slots].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

      it("results round-trip exactly above 2^53 and read back in numeric order", async () => {
        await store.putResults(slots.map((s) => (s % 2n ? failed(pid, s, MAX - s) : ok(pid, s))));
        const all = await store.readResults(pid, 0n, MAX);
        expect(all.map((r) => r.slot)).toEqual(sorted);
        expect(await store.getResult(pid, 2n ** 53n + 7n)).toEqual(failed(pid, 2n ** 53n + 7n, MAX - (2n ** 53n + 7n)));
        expect(await store.getResult(pid, 2n ** 53n + 8n)).toBeUndefined();
        expect(await store.latestResultSlot(pid)).toBe(MAX);
        expect((await store.readResults(pid, 2n ** 32n, 2n ** 53n)).map((r) => r.slot)).toEqual([
          2n ** 32n,
          2n ** 32n + 1n,
          2n ** 53n - 1n,
          2n ** 53n,
        ]);
      });

      it("snapshots round-trip exactly above 2^53 and pick numerically", async () => {
        for (const slot of slots)
          await store.putSnapshot({ processId: pid, snapshot: { slot, state: Uint8Array.of(Number(slot % 251n)) } });
        expect((await store.latestSnapshot(pid, 2n ** 53n + 6n))?.slot).toBe(2n ** 53n + 1n);
        expect((await store.latestSnapshot(pid, MAX - 1n))?.slot).toBe(2n ** 53n + 7n);
        expect(await store.latestSnapshot(pid, MAX)).toEqual({ slot: MAX, state: Uint8Array.of(Number(MAX % 251n)) });
        expect((await store.latestSnapshot(pid, 2n ** 32n - 2n))?.slot).toBe(256n);
        await store.putSnapshot({
          processId: pid,
          snapshot: { slot: MAX, state: Uint8Array.of(Number(MAX % 251n)) },
          deleteBelow: 2n ** 53n,
        });
        expect((await store.latestSnapshot(pid, 2n ** 53n - 1n))?.slot).toBeUndefined();
        expect((await store.latestSnapshot(pid, 2n ** 53n))?.slot).toBe(2n ** 53n);
      });

      it("rejects slots outside 0..2^64-1 and bad limits with invalid_argument", async () => {
        await expectCode(store.getResult(pid, -1n), "invalid_argument");
        await expectCode(
          store.putSnapshot({ processId: pid, snapshot: { slot: MAX + 1n, state: Uint8Array.of() } }),
          "invalid_argument",
        );
        await expectCode(store.readSchedule(pid, 0n, MAX + 1n), "invalid_argument");
        await expectCode(store.readResults(pid, -1n, -5n), "invalid_argument");
        await expectCode(
          store.putSnapshot({ processId: pid, snapshot: { slot: 1n, state: Uint8Array.of() }, deleteBelow: -1n }),
          "invalid_argument",
        );
        await expectCode(store.readSchedule(pid, 0n, 1n, -1), "invalid_argument");
        await expectCode(store.readResults(pid, 0n, 1n, -1), "invalid_argument");
        await expectCode(store.readResults(pid, 0n, 1n, 1.5), "invalid_argument");
      });
    });

    describe("close", () => {
      it("close is idempotent and later calls reject with unavailable", async () => {
        await store.createProcess(pid, spawn, 1);
        await store.close();
        await store.close();
        await expectCode(store.getProcess(pid), "unavailable");
        await expectCode(store.appendSchedule(pid, [msg(1)], 1), "unavailable");
        await expectCode(store.putResults([ok(pid, 1n)]), "unavailable");
        await expectCode(store.latestSnapshot(pid, 1n), "unavailable");
      });

      it("writes in flight when close is called still complete", async () => {
        await store.createProcess(pid, spawn, 1);
        const appended = store.appendSchedule(pid, [msg(1)], 1);
        await store.close();
        expect((await appended).map((e) => e.slot)).toEqual([1n]);
        if (!fx.reopen) return;
        store = await fx.reopen();
        expect(await store.latestScheduledSlot(pid)).toBe(1n);
      });
    });

    describe("persistence", () => {
      it("data survives close and reopen, and appends continue after the last slot", async (ctx) => {
        if (!fx.reopen) return ctx.skip();
        const bytes = Uint8Array.of(0, 97, 115, 109);
        await store.createProcess(pid, spawn, 1, { id: sha256Id(bytes), bytes });
        const appended = await store.appendSchedule(pid, [msg(1), msg(2)], 2);
        await store.putResults([ok(pid, 1n), failed(pid, 2n ** 53n + 7n, MAX)]);
        await store.putSnapshot({ processId: pid, snapshot: { slot: MAX, state: Uint8Array.of(4, 2) } });
        await store.close();

        store = await fx.reopen();
        expect(await store.getProcess(pid)).toEqual(spawn);
        expect(await store.getModule(sha256Id(bytes))).toEqual(bytes);
        expect(await store.readSchedule(pid, 1n, MAX)).toEqual(appended);
        expect(await store.getResult(pid, 2n ** 53n + 7n)).toEqual(failed(pid, 2n ** 53n + 7n, MAX));
        expect(await store.latestResultSlot(pid)).toBe(2n ** 53n + 7n);
        expect(await store.latestSnapshot(pid, MAX)).toEqual({ slot: MAX, state: Uint8Array.of(4, 2) });
        expect((await store.appendSchedule(pid, [msg(3)], 3)).map((e) => e.slot)).toEqual([3n]);
      });
    });
  });
}
