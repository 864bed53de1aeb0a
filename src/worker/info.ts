/**
 * The hooks the process device exposes (the seed's `info/1` as `dev_process` reports it):
 * its grouper, its worker (server) and its await. HyperBEAM's `info_test` asserts the
 * grouper; ours asserts all three, so a reader can find each seed function here.
 */
import { Engine } from "./engine.js";
import { group } from "./group.js";
import { ProcessHub } from "./process-hub.js";
import { Worker } from "./worker.js";

/** The seed's exports, by the seed's names. */
export interface ProcessWorkerInfo {
  grouper: typeof group;
  worker: typeof Worker;
  await: Engine["await"];
  notifyCompute: ProcessHub["notifyCompute"];
  stop: Engine["stop"];
}

/** The process device's worker hooks. */
export function info(): ProcessWorkerInfo {
  return {
    grouper: group,
    worker: Worker,
    await: Engine.prototype.await,
    notifyCompute: ProcessHub.prototype.notifyCompute,
    stop: Engine.prototype.stop,
  };
}
