/**
 * The worker-thread entry of the wasm@1.0 device: holds live instances (runner.ts) and
 * answers the host's requests (protocol.ts) one at a time, in arrival order. Process code
 * runs only here, never on the main thread, so the host can stop a runaway slot by
 * terminating this thread.
 */
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import type { ThreadRequest, ThreadResponse } from "./protocol.js";
import { progressView } from "./protocol.js";
import { InvalidModuleError, prepareModule } from "./prepare.js";
import { ProgressMarker, Runner } from "./runner.js";

if (isMainThread || parentPort === null) {
  throw new Error("src/device/wasm/thread is a worker-thread entry and must not run on the main thread");
}

const port = parentPort;
const progress = new ProgressMarker(progressView((workerData as { progress: SharedArrayBuffer }).progress));
const runners = new Map<number, Runner>();
let queue: Promise<void> = Promise.resolve();

port.on("message", (request: ThreadRequest) => {
  queue = queue.then(() => handle(request));
});

async function handle(request: ThreadRequest): Promise<void> {
  let response: ThreadResponse;
  const transfer: ArrayBuffer[] = [];
  try {
    response = await answer(request, transfer);
  } catch (err) {
    const invalid = err instanceof InvalidModuleError;
    response = {
      kind: "failed",
      id: request.id,
      code: invalid ? "invalid_argument" : "internal",
      message: err instanceof Error ? err.message : String(err),
    };
    if (request.kind === "create" || request.kind === "run") runners.delete(request.instance);
  }
  port.postMessage(response, transfer);
}

async function answer(request: ThreadRequest, transfer: ArrayBuffer[]): Promise<ThreadResponse> {
  switch (request.kind) {
    case "prepare": {
      const { module, layout } = await prepareModule(request.bytes, request.maxPages);
      // Instantiate once, so a start function that traps or runs away is refused at Spawn.
      try {
        new Runner(module, layout, "", progress, null, { maxReplaySteps: 1, maxOutputBytes: 0 }).restore(
          [],
          request.id,
        );
      } catch (err) {
        throw new InvalidModuleError(`instantiating the module failed: ${(err as Error).message}`);
      }
      return { kind: "prepared", id: request.id, module, layout };
    }
    case "create": {
      runners.delete(request.instance);
      const runner = new Runner(
        request.module,
        request.layout,
        request.processId,
        progress,
        request.checkpoint,
        request.limits,
      );
      runner.restore(request.replay, request.id);
      runners.set(request.instance, runner);
      const image = runner.maybeCheckpoint();
      const checkpoint = image ? { image, afterStep: request.replay.length - 1 } : null;
      return { kind: "created", id: request.id, memoryBytes: runner.memoryBytes(), checkpoint };
    }
    case "run": {
      const runner = runnerFor(request.instance);
      const { outcomes, checkpoint } = runner.run(request.steps, request.id);
      return { kind: "ran", id: request.id, outcomes, memoryBytes: runner.memoryBytes(), checkpoint };
    }
    case "export": {
      const state = runnerFor(request.instance).exportState();
      transfer.push(state.buffer as ArrayBuffer);
      return { kind: "exported", id: request.id, state };
    }
    case "close":
      runners.delete(request.instance);
      return { kind: "closed", id: request.id };
    case "crash":
      process.exit(70);
  }
}

function runnerFor(instance: number): Runner {
  const runner = runners.get(instance);
  if (!runner) throw new Error(`no instance ${instance} on this thread`);
  return runner;
}
