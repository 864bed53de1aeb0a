/**
 * The worker-thread entry of the wasm@1.0 device: holds runners (runner.ts), one per process
 * placed on this thread, and answers the host's requests (protocol.ts) one at a time, in
 * arrival order. Process code runs only here, never on the main thread, so the host can stop
 * a runaway slot by terminating this thread.
 */
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { OutcomeWriter } from "./outcome-batch.js";
import { InvalidModuleError, prepareModule } from "./prepare.js";
import type { ThreadRequest, ThreadResponse } from "./protocol.js";
import { progressView } from "./protocol.js";
import { rollbackPointAt } from "./rollback-log.js";
import { ProgressMarker, Runner } from "./runner.js";
import { StepBatch } from "./step-batch.js";

if (isMainThread || parentPort === null) {
  throw new Error("src/device/wasm/thread is a worker-thread entry and must not run on the main thread");
}

const port = parentPort;
const progress = new ProgressMarker(progressView((workerData as { progress: SharedArrayBuffer }).progress));
const runners = new Map<number, Runner>();

// Every request is handled synchronously, so requests are answered in arrival order.
port.on("message", (request: ThreadRequest) => {
  let response: ThreadResponse;
  const transfer: ArrayBuffer[] = [];
  try {
    response = answer(request, transfer);
  } catch (err) {
    const invalid = err instanceof InvalidModuleError;
    response = {
      kind: "failed",
      id: request.id,
      code: invalid ? "invalid_argument" : "internal",
      message: err instanceof Error ? err.message : String(err),
    };
    if (request.kind === "create" || request.kind === "run") runners.delete(request.runner);
  }
  port.postMessage(response, transfer);
});

function answer(request: ThreadRequest, transfer: ArrayBuffer[]): ThreadResponse {
  switch (request.kind) {
    case "prepare": {
      const { module, layout } = prepareModule(request.bytes, request.maxPages);
      // Instantiate once, so a start function that traps or runs away is refused at Spawn.
      try {
        const limits = { maxReplaySteps: 1, maxOutputBytes: 0 };
        new Runner(module, layout, "", progress, rollbackPointAt(null), limits).restore(request.id);
      } catch (err) {
        throw new InvalidModuleError(`instantiating the module failed: ${(err as Error).message}`);
      }
      return { kind: "prepared", id: request.id, module, layout };
    }
    case "create": {
      runners.delete(request.runner);
      const runner = new Runner(
        request.module,
        request.layout,
        request.processId,
        progress,
        request.rollback,
        request.limits,
      );
      runner.restore(request.id);
      runners.set(request.runner, runner);
      const memoryBytes = runner.memoryPages() * 65536;
      return { kind: "created", id: request.id, memoryBytes, rollback: runner.rollbackPoint() };
    }
    case "run": {
      const runner = runnerFor(request.runner);
      const batch = new StepBatch(request.batch);
      const out = new OutcomeWriter(64 + 96 * batch.count);
      runner.run(batch, request.id, out, request.dry);
      const outcomes = out.finish(runner.memoryPages(), runner.logBytes());
      transfer.push(outcomes);
      return { kind: "ran", id: request.id, outcomes, rollback: runner.takeRollbackChange() };
    }
    case "export": {
      const state = runnerFor(request.runner).exportState();
      transfer.push(state.buffer as ArrayBuffer);
      return { kind: "exported", id: request.id, state };
    }
    case "close":
      runners.delete(request.runner);
      return { kind: "closed", id: request.id };
    case "crash":
      process.exit(70);
  }
}

function runnerFor(runner: number): Runner {
  const found = runners.get(runner);
  if (!found) throw new Error(`no runner ${runner} on this thread`);
  return found;
}
