import { describe, expect, it } from "vitest";
import { ThreadHandle, ThreadLostError } from "../../../src/device/wasm/thread-handle.js";

describe("wasm worker threads", () => {
  it("the thread entry refuses to run on the main thread", async () => {
    await expect(import("../../../src/device/wasm/thread.js")).rejects.toThrow(/must not run on the main thread/);
  });

  it("a thread goes running → stopping → exited, and its pending requests fail at once", async () => {
    const thread = new ThreadHandle("test", 1000, undefined);
    expect(thread.state).toBe("running");
    // Sent while the thread is still starting, so it is certainly pending when we stop it.
    const pending = thread.request("exported", { kind: "export", runner: 7 });
    const stopped = thread.terminate();
    expect(thread.state).toBe("stopping");
    await expect(pending).rejects.toBeInstanceOf(ThreadLostError);
    await expect(pending).rejects.toMatchObject({
      reason: "closed",
      message: expect.stringMatching(/stopped before answering export/),
    });
    await stopped;
    expect(thread.state).toBe("exited");
    expect(thread.pendingCount).toBe(0);
    await expect(thread.request("closed", { kind: "close", runner: 7 })).rejects.toMatchObject({ reason: "closed" });
  });
});
