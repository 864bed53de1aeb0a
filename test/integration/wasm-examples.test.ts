/**
 * The WebAssembly examples end to end over the gRPC API (issue 4): spawn with module bytes,
 * schedule, compute, subscribe, stop, restore — on a real server with LMDB.
 */
import { status } from "@grpc/grpc-js";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { sha256Id } from "../../src/core/message.js";
import { readAll } from "../../src/service/client.js";
import { compileCounterAs, compileKvWat } from "../../examples/build.mjs";
import { startTestServer, type TestServer } from "../support/server.js";
import { msg, tagsOf, take } from "../support/wire.js";

let kv: Buffer;
let counterAs: Buffer;
beforeAll(async () => {
  [kv, counterAs] = (await Promise.all([compileKvWat(), compileCounterAs()])).map((b) => Buffer.from(b)) as [
    Buffer,
    Buffer,
  ];
}, 60_000);

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

async function spawnWasm(module: Buffer, tags: Record<string, string> = {}): Promise<string> {
  return (await s!.client.spawn({ process: msg({ "Execution-Device": "wasm@1.0", ...tags }), module })).processId;
}
async function schedule(processId: string, ...messages: Record<string, string>[]) {
  return (await s!.client.schedule({ processId, messages: messages.map((m) => msg(m)) })).assignments;
}
describe("kv-wat over gRPC", () => {
  it("spawns, schedules, computes, streams to a subscriber, stops and restores", async () => {
    s = await startTestServer();
    const p = await spawnWasm(kv);
    expect(await spawnWasm(kv)).toBe(p);
    const subscription = take(s.client.subscribe({ processId: p, fromSlot: 0n }), 6);
    await schedule(
      p,
      { Action: "Set", Key: "color", Value: "blue" },
      { Action: "Get", Key: "color" },
      { Action: "Oops", Key: "x" },
    );
    const computed = await readAll(s.client.compute({ processId: p }));
    expect(computed.map((r) => r.result?.slot)).toEqual([0n, 1n, 2n, 3n].slice(4 - computed.length));
    const all = [];
    for (let slot = 0n; slot <= 3n; slot++) all.push((await s.client.await({ processId: p, slot })).result);
    expect(all.map(tagsOf).slice(0, 3)).toEqual([
      { Status: "ready", Keys: "0" },
      { Status: "stored", Keys: "1" },
      { Status: "found", Value: "blue" },
    ]);
    expect(all[3]?.error).toMatchObject({ phase: "compute", attemptedSlot: 3n });

    expect(await s.client.stop({ processId: p, skipSnapshot: false })).toEqual({ stopped: true, atSlot: 3n });
    await schedule(p, { Action: "Get", Key: "color" }, { Action: "Delete", Key: "color" });
    // The subscriber makes the engine compute eagerly, so read the new slots one by one.
    const restored = [];
    for (const slot of [4n, 5n]) restored.push(await s.client.await({ processId: p, slot }));
    expect(restored.map((r) => tagsOf(r.result))).toEqual([
      { Status: "found", Value: "blue" },
      { Status: "deleted", Keys: "0" },
    ]);
    const streamed = await subscription;
    expect(streamed.map((r) => r.result?.slot)).toEqual([0n, 1n, 2n, 3n, 4n, 5n]);
    expect(streamed.map((r) => r.result)).toEqual([...all, ...restored.map((r) => r.result)]);
  });

  it("spawns from a stored module named by its Module tag, and refuses a tag that does not match the bytes", async () => {
    s = await startTestServer();
    const first = await spawnWasm(kv, { Name: "a" });
    const byTag = await spawnWasm(Buffer.alloc(0), { Name: "b", Module: sha256Id(kv) });
    expect(byTag).not.toBe(first);
    await schedule(byTag, { Action: "Set", Key: "k", Value: "v" });
    expect(tagsOf((await s.client.await({ processId: byTag, slot: 1n })).result)).toEqual({
      Status: "stored",
      Keys: "1",
    });
    await expect(spawnWasm(kv, { Module: sha256Id(counterAs) })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
    });
    await expect(spawnWasm(Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]), {})).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
    });
  });
});

describe("counter-as (AssemblyScript) over gRPC", () => {
  it("keeps its heap across stop and restore, and after the server restarts", async () => {
    s = await startTestServer();
    const q = await spawnWasm(counterAs);
    await schedule(q, { Key: "apple" }, { Key: "apple" }, { Key: "pear" });
    const first = await readAll(s.client.compute({ processId: q }));
    expect(first.map((r) => tagsOf(r.result))).toEqual([
      { Keys: "0", Total: "0" },
      { Key: "apple", Count: "1", Keys: "1", Total: "1" },
      { Key: "apple", Count: "2", Keys: "1", Total: "2" },
      { Key: "pear", Count: "1", Keys: "2", Total: "3" },
    ]);
    await s.client.stop({ processId: q, skipSnapshot: false });
    await schedule(q, { Key: "apple" });
    expect(tagsOf((await s.client.await({ processId: q, slot: 4n })).result)).toEqual({
      Key: "apple",
      Count: "3",
      Keys: "2",
      Total: "4",
    });

    const dataDir = s.dataDir;
    await s.close({ keepData: true });
    s = await startTestServer({}, { dataDir });
    await schedule(q, { Key: "pear" });
    expect(tagsOf((await s.client.await({ processId: q, slot: 5n })).result)).toEqual({
      Key: "pear",
      Count: "2",
      Keys: "2",
      Total: "5",
    });
  });
});
