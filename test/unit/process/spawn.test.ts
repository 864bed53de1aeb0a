/**
 * Spawn's rules for modules (docs/design.md §3, §5) with a stand-in device that needs one: the
 * Module tag is filled in before the id is computed, bytes and tag must agree, a stored
 * module can be named, and nothing is stored when anything is refused.
 */
import { describe, expect, it } from "vitest";
import { invalidArgument } from "../../../src/core/errors.js";
import { message, messageId, sha256Id } from "../../../src/core/message.js";
import type { Device } from "../../../src/device/device.js";
import { createDeviceRegistry } from "../../../src/device/registry.js";
import { spawnProcess } from "../../../src/process/spawn.js";
import { createMemoryStore } from "../../../src/store/memory-store.js";

/** Accepts modules whose bytes start with "ok". */
const moduleDevice: Device = {
  name: "mod@1.0",
  needsModule: true,
  async validate(ctx) {
    if (
      Buffer.from((await ctx.module?.bytes()) ?? [])
        .subarray(0, 2)
        .toString() !== "ok"
    )
      throw invalidArgument("bad module");
  },
  instantiate: () => Promise.reject(new Error("not used")),
  close: async () => undefined,
};

function setup() {
  const store = createMemoryStore();
  const deps = { store, devices: createDeviceRegistry([moduleDevice]), now: () => 1 };
  return {
    store,
    spawn: (tags: Record<string, string>, bytes?: string) =>
      spawnProcess(deps, message(tags), bytes ? Buffer.from(bytes) : undefined),
  };
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (e: { code: string }) => e.code,
  );

describe("spawn with a module", () => {
  it("stores the bytes once by id and fills in the Module tag before computing the process id", async () => {
    const { store, spawn } = setup();
    const id = await spawn({ "Execution-Device": "mod@1.0" }, "ok-module");
    const moduleId = sha256Id(Buffer.from("ok-module"));
    expect(id).toBe(messageId(message({ "Execution-Device": "mod@1.0", Module: moduleId })));
    expect((await store.getProcess(id))?.tags["Module"]).toBe(moduleId);
    expect(Buffer.from((await store.getModule(moduleId)) ?? []).toString()).toBe("ok-module");
    // The same definition by tag alone, or with bytes and a matching tag, is the same process.
    expect(await spawn({ "Execution-Device": "mod@1.0", Module: moduleId })).toBe(id);
    expect(await spawn({ "Execution-Device": "mod@1.0", Module: moduleId }, "ok-module")).toBe(id);
  });

  it("refuses bytes that do not match the tag, a tag that is not an id, and an unknown module", async () => {
    const { store, spawn } = setup();
    expect(
      await codeOf(spawn({ "Execution-Device": "mod@1.0", Module: sha256Id(Buffer.from("other")) }, "ok-module")),
    ).toBe("invalid_argument");
    expect(await codeOf(spawn({ "Execution-Device": "mod@1.0", Module: "short" }))).toBe("invalid_argument");
    expect(await codeOf(spawn({ "Execution-Device": "mod@1.0", Module: sha256Id(Buffer.from("never stored")) }))).toBe(
      "not_found",
    );
    expect(await codeOf(spawn({ "Execution-Device": "mod@1.0" }))).toBe("invalid_argument");
    expect(await store.getModule(sha256Id(Buffer.from("ok-module")))).toBeUndefined();
  });

  it("stores nothing, module included, when the device refuses the definition", async () => {
    const { store, spawn } = setup();
    expect(await codeOf(spawn({ "Execution-Device": "mod@1.0" }, "bad-module"))).toBe("invalid_argument");
    const moduleId = sha256Id(Buffer.from("bad-module"));
    expect(await store.getModule(moduleId)).toBeUndefined();
    expect(
      await store.getProcess(messageId(message({ "Execution-Device": "mod@1.0", Module: moduleId }))),
    ).toBeUndefined();
  });
});
