/**
 * WebAssembly limits on a real server (issue 4): a process that loops forever fails its
 * slot at the time limit while another keeps computing and the main thread stays
 * responsive; a memory bomb meets memory.grow = −1 at the cap, the server's resident memory
 * stays under the cap plus the documented overhead, and the server keeps serving.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createCounterDevice } from "../../src/device/counter.js";
import { createWasmDevice } from "../../src/device/wasm/index.js";
import { readAll } from "../../src/service/client.js";
import { compileKvWat } from "../../examples/build.mjs";
import { PROBE_WAT, wat } from "../unit/device/wasm-fixtures.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { msg, tagsOf } from "../support/wire.js";

const MIB = 1024 * 1024;
let probeModule: Buffer;
let kv: Buffer;
beforeAll(async () => {
  probeModule = Buffer.from(await wat(PROBE_WAT));
  kv = Buffer.from(await compileKvWat());
}, 60_000);

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

const spawn = async (module: Buffer, tags: Record<string, string> = {}) =>
  (await s!.client.spawn({ process: msg({ "Execution-Device": "wasm@1.0", ...tags }), module })).processId;

describe("wasm limits on a live server", () => {
  it("fails a slot that loops forever at the time limit while another process computes and the event loop stays responsive", async () => {
    const wasm = createWasmDevice({ slotTimeLimitMs: 1_000, maxMemoryMib: 64, threads: 2 });
    s = await startTestServer({}, { devices: [createCounterDevice({ slotTimeLimitMs: 1_000 }), wasm] });
    const looping = await spawn(probeModule);
    // A second process on the other thread (placement is sticky by process id).
    let busy = await spawn(kv);
    for (let i = 0; wasm.laneOf(busy) === wasm.laneOf(looping); i++) busy = await spawn(kv, { Name: String(i) });
    await readAll(s.client.compute({ processId: busy }));
    await s.client.schedule({ processId: looping, messages: [msg({ Do: "loop" }), msg({ Do: "count" })] });

    const looped = readAll(s.client.compute({ processId: looping }));
    let otherSlots = 0;
    const started = Date.now();
    let finished = false;
    void looped.finally(() => (finished = true));
    while (!finished) {
      await s.client.schedule({
        processId: busy,
        messages: [msg({ Action: "Set", Key: `k${otherSlots}`, Value: "v" })],
      });
      const [latest] = await readAll(s.client.compute({ processId: busy }));
      expect(tagsOf(latest?.result)).toMatchObject({ Status: "stored" });
      otherSlots++;
    }
    const results = await looped;
    expect(results.map((r) => r.result?.slot)).toEqual([0n, 1n, 2n]);
    expect(results[1]?.result?.error).toMatchObject({ phase: "compute", attemptedSlot: 1n });
    expect(results[1]?.result?.error?.message).toMatch(/time limit/);
    expect(tagsOf(results[2]?.result)).toEqual({ N: "1", M: "1" }); // the state from before the loop, plus one
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    // The event loop stayed free while the slot looped: it served round trip after round trip
    // for the other process (a blocked loop would have served none until the slot failed).
    expect(otherSlots).toBeGreaterThan(3);
  });

  it("caps memory.grow at wasm_max_memory_mib; resident memory stays under the cap plus overhead; the server keeps serving", async () => {
    const capMib = 64;
    s = await startTestServer({ wasmMaxMemoryMib: capMib, wasmThreads: 1 });
    const bomb = await spawn(probeModule);
    await readAll(s.client.compute({ processId: bomb }));
    global.gc?.();
    const before = process.memoryUsage().rss;
    await s.client.schedule({
      processId: bomb,
      messages: [msg({ Do: "grow" }), msg({ Do: "count" }), msg({ Do: "grow" })],
    });
    const results = await readAll(s.client.compute({ processId: bomb }));
    const after = process.memoryUsage().rss;
    expect(results.map((r) => tagsOf(r.result))).toEqual([
      { Pages: String(capMib * 16) },
      { N: "1", M: "1" },
      { Pages: String(capMib * 16) },
    ]);
    // Documented overhead (docs/wasm-abi.md): an instance holds its memory and one checkpoint
    // image of it, so at most twice the cap, plus slack for buffers and the allocator.
    expect(after - before).toBeLessThan(2 * capMib * MIB + 64 * MIB);
    const { workers } = await s.client.listWorkers();
    expect(Number(workers.find((w) => w.processId === bomb)?.stateBytes)).toBeLessThanOrEqual(2 * capMib * MIB + 4096);
    // Still serving: a new process computes.
    const other = await spawn(kv);
    await s.client.schedule({ processId: other, messages: [msg({ Action: "Set", Key: "a", Value: "b" })] });
    expect(tagsOf((await s.client.await({ processId: other, slot: 1n })).result)).toEqual({
      Status: "stored",
      Keys: "1",
    });
  });
});
