import { describe, expect, it } from "vitest";
import { messageId } from "../../../src/core/message.js";
import { defaultGroup, groupOf, isComputePath } from "../../../src/worker/group.js";
import { closeWithoutLeaks, testEngine } from "../../support/engine.js";

const P = "n6ZxmYiXF1mXoQ1M7X4zqfMkv2rQf2bq8QmYd4qmTuE";

describe("info (HyperBEAM's info_test: the process device's grouper is group/3)", () => {
  it("groups a spawned process's requests with group/3, workers on and off", async () => {
    for (const processWorkers of [true, false]) {
      const t = testEngine({ processWorkers });
      const id = await t.spawnCounter();
      for (const [path, slot] of [
        ["compute", 1n],
        ["now", 2n],
        ["", undefined],
      ] as const) {
        const expected = groupOf({ processId: id, path, ...(slot !== undefined ? { slot } : {}) }, processWorkers);
        expect(await t.engine.group(id, path, slot)).toEqual(expected);
      }
      await closeWithoutLeaks(t);
    }
  });
});

describe("group (HyperBEAM's grouper_test)", () => {
  it("puts two compute requests of one process in one group, and a non-compute request in another", () => {
    const m2 = groupOf({ processId: P, path: "compute", slot: 1n }, true);
    const m3 = groupOf({ processId: P, path: "compute", slot: 2n }, true);
    const m4 = groupOf({ processId: P, path: "not-compute", slot: 3n }, true);
    expect(m2).toEqual({ name: P, kind: "worker" });
    expect(m3).toEqual(m2);
    expect(m4.kind).toBe("default");
    expect(m4.name).not.toBe(m2.name);
  });

  it("matches compute case-insensitively on the first segment, ignoring a leading slash", () => {
    expect(isComputePath("/Compute/results")).toBe(true);
    expect(isComputePath("COMPUTE")).toBe(true);
    expect(isComputePath("computed")).toBe(false);
    expect(isComputePath("now/compute")).toBe(false);
    expect(groupOf({ processId: P, path: "//compute/x" }, true).kind).toBe("worker");
  });

  it("with process workers off, gives every request its default group", () => {
    const g = groupOf({ processId: P, path: "compute", slot: 1n }, false);
    expect(g.kind).toBe("default");
    expect(g.name).toBe(defaultGroup({ processId: P, path: "compute", slot: 1n }));
  });

  it("hashes identical requests to one default group and different ones apart", () => {
    const a = defaultGroup({ processId: P, path: "now", slot: 5n });
    expect(defaultGroup({ processId: P, path: "now", slot: 5n })).toBe(a);
    expect(defaultGroup({ processId: P, path: "now", slot: 6n })).not.toBe(a);
    expect(defaultGroup({ processId: P, path: "now" })).not.toBe(a);
    expect(a).toMatch(/^default:[A-Za-z0-9_-]{43}$/);
  });

  it("hashes a request with no request part (empty path) by the process alone", () => {
    const none = groupOf({ processId: P, path: "", slot: 9n }, true);
    expect(none.kind).toBe("default");
    expect(none.name).toBe(`default:${messageId({ tags: { Process: P }, data: new Uint8Array() })}`);
    expect(groupOf({ processId: P, path: "" }, false).name).toBe(none.name);
  });

  it("keeps slots above 2^53 exact in the default group", () => {
    const big = 2n ** 53n + 1n;
    expect(defaultGroup({ processId: P, path: "x", slot: big })).not.toBe(
      defaultGroup({ processId: P, path: "x", slot: big - 1n }),
    );
    expect(defaultGroup({ processId: P, path: "x", slot: big })).toBe(
      `default:${messageId({ tags: { Process: P, Path: "x", Slot: "9007199254740993" }, data: new Uint8Array() })}`,
    );
  });
});
