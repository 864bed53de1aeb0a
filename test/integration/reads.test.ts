/**
 * GetProcess, ReadSchedule and DryRun over gRPC: the shapes on the wire (uint64, Timestamp,
 * optional slots), the statuses, and that a dry run leaves no trace.
 */
import { status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { readAll } from "../../src/service/client.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { msg, tagsOf } from "../support/wire.js";

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

async function counter(initial: string): Promise<string> {
  const process = msg({ "Execution-Device": "counter@1.0", Initial: initial });
  return (await s!.client.spawn({ process, module: Buffer.alloc(0) })).processId;
}

describe("the reads over gRPC", () => {
  it("GetProcess reports the definition, the latest slots and the live worker with its node", async () => {
    s = await startTestServer({ snapshotInterval: 2 });
    const p = await counter("1");
    const fresh = await s.client.getProcess({ processId: p });
    expect(fresh).toMatchObject({ processId: p, device: "counter@1.0", latestScheduledSlot: 0n });
    expect(fresh.latestComputedSlot).toBeUndefined();
    expect(fresh.latestSnapshotSlot).toBeUndefined();
    expect(fresh.worker).toBeUndefined();
    expect(Object.fromEntries(fresh.process?.tags ?? [])).toEqual({ "Execution-Device": "counter@1.0", Initial: "1" });
    await s.client.schedule({ processId: p, messages: [msg({ Amount: "2" }), msg({ Amount: "3" })] });
    await readAll(s.client.compute({ processId: p }));
    const after = await s.client.getProcess({ processId: p });
    expect(after).toMatchObject({ latestScheduledSlot: 2n, latestComputedSlot: 2n, latestSnapshotSlot: 2n });
    expect(after.worker).toMatchObject({ processId: p, atSlot: 2n, node: s.address });
    await expect(s.client.getProcess({ processId: "Z".repeat(43) })).rejects.toMatchObject({ code: status.NOT_FOUND });
  });

  it("ReadSchedule streams the log with slots, ids, timestamps and messages", async () => {
    s = await startTestServer();
    const p = await counter("0");
    const before = Date.now();
    const { assignments } = await s.client.schedule({ processId: p, messages: [msg({ Amount: "5" }, "hi")] });
    const all = await readAll(s.client.readSchedule({ processId: p, fromSlot: 0n }));
    expect(all.map((r) => [r.entry?.slot, r.entry?.messageId])).toEqual([
      [0n, p],
      [1n, assignments[0]?.messageId],
    ]);
    expect(Buffer.from(all[1]?.entry?.message?.data ?? []).toString()).toBe("hi");
    const stamp = all[1]?.entry?.timestamp?.getTime() ?? 0;
    expect(stamp).toBeGreaterThanOrEqual(before - 1);
    expect(stamp).toBeLessThanOrEqual(Date.now());
    expect((await readAll(s.client.readSchedule({ processId: p, fromSlot: 1n, toSlot: 1n }))).length).toBe(1);
    await expect(readAll(s.client.readSchedule({ processId: p, fromSlot: 2n, toSlot: 1n }))).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
    });
    await expect(readAll(s.client.readSchedule({ processId: "Z".repeat(43), fromSlot: 0n }))).rejects.toMatchObject({
      code: status.NOT_FOUND,
    });
  });

  it("DryRun answers from the latest state and leaves the process as it was", async () => {
    s = await startTestServer();
    const p = await counter("10");
    await s.client.schedule({ processId: p, messages: [msg({ Amount: "1" })] });
    const { result } = await s.client.dryRun({ processId: p, message: msg({ Amount: "5" }) });
    expect(result).toMatchObject({ processId: p, slot: 1n });
    expect(tagsOf(result)).toEqual({ Total: "16" });
    expect(tagsOf((await s.client.await({ processId: p, slot: 1n })).result)).toEqual({ Total: "11" });
    const failed = await s.client.dryRun({ processId: p, message: msg({ Amount: "x" }) });
    expect(failed.result?.error).toMatchObject({ phase: "compute", attemptedSlot: 2n });
    expect((await s.client.getProcess({ processId: p })).latestScheduledSlot).toBe(1n);
    expect(tagsOf((await s.client.await({ processId: p, slot: 1n })).result)).toEqual({ Total: "11" });
    await expect(s.client.dryRun({ processId: p })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(s.client.dryRun({ processId: "Z".repeat(43), message: msg({}) })).rejects.toMatchObject({
      code: status.NOT_FOUND,
    });
  });
});
