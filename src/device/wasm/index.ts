/**
 * The `wasm@1.0` device (docs/wasm-abi.md): processes are WebAssembly modules whose state is
 * their linear memory plus every mutable global. Modules are validated, rewritten (globals
 * exported, memory capped) and compiled once per module id on a compiler thread; each
 * process's module instance lives in a runner on a pool of worker threads, never on the main
 * thread.
 */
import { ProcworkerError } from "../../core/errors.js";
import { capDelay } from "../../core/timers.js";
import type { Device, DeviceInstance, ProcessContext } from "../device.js";
import { WasmDeviceInstance, isBystander } from "./device-instance.js";
import { ModuleCache, type PreparedModule } from "./module-cache.js";
import { ThreadPool } from "./pool.js";
import { maxPagesFor } from "./prepare.js";
import { ThreadLostError, type WasmLogger } from "./thread-handle.js";

export type { WasmLogger } from "./thread-handle.js";

export interface WasmDeviceOptions {
  /** Wall time one slot may run (config `slot_time_limit_ms`). */
  slotTimeLimitMs: number;
  /** Hard cap on one process's linear memory (config `wasm_max_memory_mib`). */
  maxMemoryMib: number;
  /** Worker threads for runners (config `wasm_threads`, which config.ts resolves from 0). */
  threads: number;
  /** Rollback tuning: a checkpoint image is taken at least every this many successful slots
   * (default 4096), bounding the replay a failed slot costs. Mostly for tests. */
  maxReplaySteps?: number;
  /** An output longer than this (in bytes, as the module returned it) fails its slot;
   * default 4 MiB, gRPC's usual message limit. */
  maxOutputBytes?: number;
  /** Compiled modules kept, in bytes as estimated (config `module_cache_bytes`; default 256 MiB). */
  moduleCacheBytes?: number;
  logger?: WasmLogger;
}

/** The device, plus what tests and operators may ask of its placement. */
export interface WasmDevice extends Device {
  /** The lane (thread index) a process's runner lives on. */
  laneOf(processId: string): number;
  /** Test hook: makes the thread hosting `processId` exit abruptly, as a crash would. */
  crashThreadForTesting(processId: string): void;
}

/** Creates the wasm@1.0 device. Threads start on first use; `close()` stops them all. */
export function createWasmDevice(opts: WasmDeviceOptions): WasmDevice {
  const threads = opts.threads;
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(`wasm threads must be a positive integer, got ${threads}`);
  }
  if (!(opts.slotTimeLimitMs > 0))
    throw new RangeError(`slotTimeLimitMs must be positive, got ${opts.slotTimeLimitMs}`);
  if (!(opts.maxMemoryMib > 0)) throw new RangeError(`maxMemoryMib must be positive, got ${opts.maxMemoryMib}`);
  const slotTimeLimitMs = capDelay(opts.slotTimeLimitMs);
  const maxPages = maxPagesFor(opts.maxMemoryMib);
  const maxReplaySteps = opts.maxReplaySteps ?? 4096;
  if (!Number.isInteger(maxReplaySteps) || maxReplaySteps < 1) {
    throw new RangeError(`maxReplaySteps must be a positive integer, got ${maxReplaySteps}`);
  }
  const maxOutputBytes = opts.maxOutputBytes ?? 4 * 1024 * 1024;
  if (!(maxOutputBytes >= 0)) throw new RangeError(`maxOutputBytes must not be negative, got ${maxOutputBytes}`);
  const pool = new ThreadPool(threads, slotTimeLimitMs, opts.logger);
  const cache = new ModuleCache(opts.moduleCacheBytes ?? 256 * 1024 * 1024);
  let nextRunner = 1;

  function moduleOf(ctx: ProcessContext): Promise<PreparedModule> {
    const source = ctx.module;
    if (source === undefined) {
      return Promise.reject(new ProcworkerError("invalid_argument", "a wasm@1.0 process needs its module's bytes"));
    }
    const id = source.id;
    return cache.get(id, async () => {
      const bytes = await source.bytes();
      if (bytes.byteLength === 0)
        throw new ProcworkerError("invalid_argument", "a wasm@1.0 process needs its module's bytes");
      for (;;) {
        try {
          const prepared = await pool.withCompiler((thread) =>
            thread.request("prepared", { kind: "prepare", bytes, maxPages }),
          );
          return { id, module: prepared.module, layout: prepared.layout, sourceBytes: bytes.byteLength };
        } catch (err) {
          // Another module's start function ran away on the compiler thread: prepare again.
          if (isBystander(err)) continue;
          if (err instanceof ThreadLostError && err.reason === "time_limit") {
            throw new ProcworkerError(
              "invalid_argument",
              `invalid wasm module: instantiating it (its start function) ran longer than ${slotTimeLimitMs} ms`,
            );
          }
          if (err instanceof ProcworkerError && err.code === "invalid_argument") {
            throw new ProcworkerError("invalid_argument", `invalid wasm module: ${err.message}`);
          }
          throw err;
        }
      }
    });
  }

  return {
    name: "wasm@1.0",
    needsModule: true,
    async validate(ctx: ProcessContext): Promise<void> {
      await moduleOf(ctx);
    },
    async prepare(ctx: ProcessContext): Promise<void> {
      pool.thread(pool.laneOf(ctx.processId)); // starts the lane's thread if it is not running
      await moduleOf(ctx);
    },
    async instantiate(ctx: ProcessContext): Promise<DeviceInstance> {
      const prepared = await moduleOf(ctx);
      const limits = { slotTimeLimitMs, maxReplaySteps, maxOutputBytes };
      return WasmDeviceInstance.create(pool, prepared, ctx.processId, nextRunner++, limits, opts.logger);
    },
    close(): Promise<void> {
      return pool.close();
    },
    laneOf(processId: string): number {
      return pool.laneOf(processId);
    },
    crashThreadForTesting(processId: string): void {
      pool.crash(pool.laneOf(processId));
    },
  };
}
