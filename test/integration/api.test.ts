import { status, type ServiceError } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { messageId } from "../../src/core/message.js";
import { readAll } from "../../src/service/client.js";
import { GroupKind } from "../../src/generated/procworker/v1/types.js";
import type { SubscribeResponse } from "../../src/generated/procworker/v1/process_worker_service.js";
import type { SlotResult } from "../../src/generated/procworker/v1/types.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { msg, take } from "../support/wire.js";
import { until } from "../support/until.js";

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

const counter = (tags: Record<string, string> = {}) => msg({ "Execution-Device": "counter@1.0", ...tags });
const total = (r: { result?: SlotResult | undefined }) => r.result?.output?.tags.get("Total");

async function spawn(tags: Record<string, string> = {}): Promise<string> {
  return (await s!.client.spawn({ process: counter(tags), module: Buffer.alloc(0) })).processId;
}
async function schedule(processId: string, ...amounts: string[]) {
  return (await s!.client.schedule({ processId, messages: amounts.map((a) => msg({ Amount: a })) })).assignments;
}
describe("Spawn", () => {
  it("returns the id of the spawn message and is idempotent", async () => {
    s = await startTestServer();
    const id = await spawn({ Initial: "3" });
    expect(id).toBe(messageId({ tags: { "Execution-Device": "counter@1.0", Initial: "3" }, data: new Uint8Array() }));
    expect(await spawn({ Initial: "3" })).toBe(id);
  });

  it("refuses bad definitions with INVALID_ARGUMENT and a missing module with NOT_FOUND", async () => {
    s = await startTestServer();
    const spawnOf = (tags: Record<string, string>, module = Buffer.alloc(0)) =>
      s!.client.spawn({ process: msg(tags), module });
    await expect(spawnOf({ "Execution-Device": "counter@1.0", Initial: "x" })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
    });
    await expect(spawnOf({ "Execution-Device": "nope@9" })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(spawnOf({})).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(s.client.spawn({ module: Buffer.alloc(0) })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(spawnOf({ "Execution-Device": "wasm@1.0", Module: "A".repeat(43) })).rejects.toMatchObject({
      code: status.NOT_FOUND,
    });
    await expect(spawnOf({ "Execution-Device": "wasm@1.0" }, Buffer.from("not wasm"))).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
    });
    await expect(
      spawnOf({ "Execution-Device": "wasm@1.0", Module: "B".repeat(43) }, Buffer.from("\0asm")),
    ).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
    });
  });
});

describe("Schedule", () => {
  it("assigns gap-free slots and message ids, atomically and in order", async () => {
    s = await startTestServer();
    const p = await spawn();
    const a = await schedule(p, "1", "2");
    const b = await schedule(p, "3");
    expect([...a, ...b].map((x) => x.slot)).toEqual([1n, 2n, 3n]);
    expect(a[0]?.messageId).toBe(messageId({ tags: { Amount: "1" }, data: new Uint8Array() }));
  });

  it("refuses an empty list, a bad id and an unknown process", async () => {
    s = await startTestServer();
    const p = await spawn();
    await expect(s.client.schedule({ processId: p, messages: [] })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
    });
    await expect(s.client.schedule({ processId: "x", messages: [msg({})] })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
    });
    await expect(s.client.schedule({ processId: "Q".repeat(43), messages: [msg({})] })).rejects.toMatchObject({
      code: status.NOT_FOUND,
    });
  });

  it("refuses a request larger than max_message_bytes with RESOURCE_EXHAUSTED", async () => {
    s = await startTestServer({ maxMessageBytes: 64 * 1024 });
    const p = await spawn();
    const big = msg({ Amount: "1" }, "x".repeat(100 * 1024));
    await expect(s.client.schedule({ processId: p, messages: [big] })).rejects.toMatchObject({
      code: status.RESOURCE_EXHAUSTED,
    });
    expect(await schedule(p, "1")).toMatchObject([{ slot: 1n }]);
  });
});

describe("Group", () => {
  it("maps compute to the process's worker group and other paths to a default group", async () => {
    s = await startTestServer();
    const p = await spawn();
    expect(await s.client.group({ processId: p, path: "/compute", slot: 3n })).toEqual({
      group: p,
      kind: GroupKind.GROUP_KIND_WORKER,
    });
    const other = await s.client.group({ processId: p, path: "now" });
    expect(other.kind).toBe(GroupKind.GROUP_KIND_DEFAULT);
    expect(other.group).toMatch(/^default:/);
    await expect(s.client.group({ processId: "Z".repeat(43), path: "compute" })).rejects.toMatchObject({
      code: status.NOT_FOUND,
    });
  });

  it("uses default groups for everything when process_workers is off", async () => {
    s = await startTestServer({ processWorkers: false });
    const p = await spawn();
    expect((await s.client.group({ processId: p, path: "compute" })).kind).toBe(GroupKind.GROUP_KIND_DEFAULT);
  });
});

describe("Compute", () => {
  it("streams every slot in order, the target last; then an already computed target alone", async () => {
    s = await startTestServer();
    const p = await spawn({ Initial: "1" });
    await schedule(p, "1", "2", "3");
    const all = await readAll(s.client.compute({ processId: p, slot: 2n }));
    expect(all.map((r) => r.result?.slot)).toEqual([0n, 1n, 2n]);
    expect(all.map(total)).toEqual(["1", "2", "4"]);
    const stored = await readAll(s.client.compute({ processId: p, slot: 1n }));
    expect(stored.map((r) => [r.result?.slot, total(r)])).toEqual([[1n, "2"]]);
    const latest = await readAll(s.client.compute({ processId: p }));
    expect(latest.map((r) => [r.result?.slot, total(r)])).toEqual([[3n, "7"]]);
  });

  it("carries several results per response when asked: the same results, in order, each once", async () => {
    s = await startTestServer();
    const p = await spawn();
    for (let i = 0; i < 3; i++) await schedule(p, ...Array.from({ length: 100 }, () => "1"));
    const grouped = await readAll(s.client.compute({ processId: p, maxResultsPerResponse: 16 }));
    expect(grouped.every((r) => r.result === undefined && r.results.length >= 1 && r.results.length <= 16)).toBe(true);
    // A catch-up fills responses: far fewer responses than results.
    expect(grouped.length).toBeLessThan(301 / 4);
    const results = grouped.flatMap((r) => r.results);
    expect(results.map((r) => r.slot)).toEqual(Array.from({ length: 301 }, (_, i) => BigInt(i)));
    // The same results as the stream of one result per response.
    const single = await take(s.client.subscribe({ processId: p, fromSlot: 0n }), 301);
    expect(results).toEqual(single.map((r) => r.result));
  });

  it("refuses a target past the schedule with OUT_OF_RANGE and an unknown process with NOT_FOUND", async () => {
    s = await startTestServer();
    const p = await spawn();
    await expect(readAll(s.client.compute({ processId: p, slot: 5n }))).rejects.toMatchObject({
      code: status.OUT_OF_RANGE,
    });
    await expect(readAll(s.client.compute({ processId: "Y".repeat(43) }))).rejects.toMatchObject({
      code: status.NOT_FOUND,
    });
  });

  it("returns a failed slot as an error result", async () => {
    s = await startTestServer();
    const p = await spawn();
    await schedule(p, "oops", "2");
    const all = await readAll(s.client.compute({ processId: p }));
    expect(all[1]?.result?.error).toEqual({
      phase: "compute",
      attemptedSlot: 1n,
      message: 'Amount must be an integer, got "oops"',
    });
    expect(all[1]?.result?.output).toBeUndefined();
    expect(total(all[2]!)).toBe("2");
  });
});

describe("Await", () => {
  it("returns a stored slot, waits for a future one, and honours deadlines", async () => {
    s = await startTestServer();
    const p = await spawn();
    expect((await s.client.await({ processId: p, slot: 0n })).result?.slot).toBe(0n);
    const waiting = s.client.await({ processId: p, slot: 1n });
    await until(s.server.engine, () => s!.server.engine.attached().waiters === 1, "one waiter");
    await schedule(p, "5");
    expect(total(await waiting)).toBe("5");
    await expect(s.client.await({ processId: p, slot: 9n }, { timeoutMs: 50 })).rejects.toMatchObject({
      code: status.DEADLINE_EXCEEDED,
    });
    await expect(s.client.await({ processId: "W".repeat(43) })).rejects.toMatchObject({ code: status.NOT_FOUND });
  });

  it("caps a wait with no deadline at max_await_ms", async () => {
    s = await startTestServer({ maxAwaitMs: 50 });
    const p = await spawn();
    await expect(s.client.await({ processId: p, slot: 3n })).rejects.toMatchObject({ code: status.DEADLINE_EXCEEDED });
  });

  it("fails waiters with ABORTED when the worker is stopped, and the next call recovers", async () => {
    s = await startTestServer();
    const p = await spawn();
    await schedule(p, "1", "1");
    await readAll(s.client.compute({ processId: p }));
    const waiting = expect(s.client.await({ processId: p, slot: 7n })).rejects.toMatchObject({ code: status.ABORTED });
    await until(s.server.engine, () => s!.server.engine.attached().waiters === 1, "one waiter");
    expect(await s.client.stop({ processId: p, skipSnapshot: false })).toEqual({ stopped: true, atSlot: 2n });
    await waiting;
    await schedule(p, "1");
    expect(total(await s.client.await({ processId: p, slot: 3n }))).toBe("3");
  });
});

describe("Subscribe", () => {
  it("replays stored results, then live ones, to 100 concurrent subscribers, in order with no gaps", async () => {
    s = await startTestServer();
    const p = await spawn();
    await schedule(p, "1", "1");
    await readAll(s.client.compute({ processId: p }));
    const clients = Array.from({ length: 4 }, () => s!.newClient());
    const streams = Array.from({ length: 100 }, (_, i) =>
      take(clients[i % 4]!.subscribe({ processId: p, fromSlot: 1n }), 10),
    );
    await until(s.server.engine, () => s!.server.engine.attached().streams === 100, "100 streams");
    for (let i = 0; i < 8; i++) await schedule(p, "1");
    for (const results of await Promise.all(streams)) {
      expect(results.map((r) => r.result?.slot)).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n]);
      expect(results.map(total)).toEqual(["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]);
    }
  });

  it.each([undefined, 64])(
    "keeps delivering to others while one subscriber stops reading, and ends the stalled one with RESOURCE_EXHAUSTED (results per response: %s)",
    async (perResponse) => {
      s = await startTestServer({ subscriberBuffer: 64, subscriberStallMs: 50 });
      const p = await spawn();
      const stalledClient = s.newClient();
      const grouping = perResponse === undefined ? {} : { maxResultsPerResponse: perResponse };
      const stalled = stalledClient.subscribe({ processId: p, fromSlot: 0n, ...grouping });
      const stalledOutcome = new Promise<number>((resolve) => {
        stalled.on("error", (e: ServiceError) => resolve(e.code));
        stalled.on("end", () => resolve(-1));
      });
      // A client that was reading and stops (grpc-js only applies flow control once reading began).
      stalled.on("data", () => undefined);
      stalled.pause();
      const reader = take(s.client.subscribe({ processId: p, fromSlot: 0n }), 3001);
      await until(s.server.engine, () => s!.server.engine.attached().streams === 2, "2 streams");
      const data = "x".repeat(200);
      for (let i = 0; i < 30; i++) {
        await s.client.schedule({
          processId: p,
          messages: Array.from({ length: 100 }, () => msg({ Amount: "1" }, data)),
        });
      }
      const got = await reader;
      expect(got.at(-1)?.result?.slot).toBe(3000n);
      expect(got.map((r) => r.result?.slot)).toEqual(Array.from({ length: 3001 }, (_, i) => BigInt(i)));
      // The stalled stream ends on the server while its client is still not reading.
      await until(s.server.engine, () => s!.server.engine.attached().streams === 0, "the stalled stream ended");
      stalled.resume();
      expect(await stalledOutcome).toBe(status.RESOURCE_EXHAUSTED);
    },
  );

  it("with several results per response, sends a live result at once, alone, without waiting to fill a response", async () => {
    s = await startTestServer();
    const p = await spawn();
    await schedule(p, "1", "1");
    await readAll(s.client.compute({ processId: p }));
    const stream = s.client.subscribe({ processId: p, fromSlot: 0n, maxResultsPerResponse: 64 });
    stream.on("error", () => undefined); // the cancel below
    const responses = stream[Symbol.asyncIterator]() as AsyncIterator<SubscribeResponse>;
    const nextSlots = async (): Promise<bigint[]> => {
      const { value } = (await responses.next()) as IteratorYieldResult<SubscribeResponse>;
      expect(value.result).toBeUndefined();
      return value.results.map((r) => r.slot);
    };
    const stored: bigint[] = [];
    while (stored.length < 3) stored.push(...(await nextSlots()));
    expect(stored).toEqual([0n, 1n, 2n]);
    // Each live slot comes in a response of its own, as it completes: nothing waits for more.
    await schedule(p, "1");
    expect(await nextSlots()).toEqual([3n]);
    await schedule(p, "1");
    expect(await nextSlots()).toEqual([4n]);
    stream.cancel();
  });

  it("refuses an unknown process with NOT_FOUND", async () => {
    s = await startTestServer();
    await expect(readAll(s.client.subscribe({ processId: "V".repeat(43), fromSlot: 0n }))).rejects.toMatchObject({
      code: status.NOT_FOUND,
    });
  });
});

describe("Stop and ListWorkers", () => {
  it("lists live workers and stops them", async () => {
    s = await startTestServer();
    const p = await spawn();
    await schedule(p, "4");
    await readAll(s.client.compute({ processId: p }));
    const { workers } = await s.client.listWorkers();
    expect(workers).toHaveLength(1);
    expect(workers[0]).toMatchObject({
      group: p,
      processId: p,
      atSlot: 1n,
      mailbox: 0,
      waiters: 0,
      subscribers: 0,
      state: "idle",
      node: s.address,
    });
    expect(workers[0]!.stateBytes).toBeGreaterThan(0n);
    expect(await s.client.stop({ processId: p, skipSnapshot: true })).toEqual({ stopped: true, atSlot: 1n });
    expect((await s.client.listWorkers()).workers).toEqual([]);
    expect(await s.client.stop({ processId: p, skipSnapshot: false })).toEqual({ stopped: false, atSlot: 1n });
    await expect(s.client.stop({ processId: "U".repeat(43), skipSnapshot: false })).rejects.toMatchObject({
      code: status.NOT_FOUND,
    });
  });
});
