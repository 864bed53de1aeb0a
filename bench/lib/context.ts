/**
 * What every figure gets: the procworker server and the raw baselines (each in its own
 * process), the WAT counter module for wasm@1.0 figures, and the run's settings.
 */
import { join } from "node:path";
import type { BenchServer } from "./procworker.js";
import type { RawBaselines } from "./raw.js";

export interface BenchContext {
  pw: BenchServer;
  raw: RawBaselines;
  /** The WAT counter (bench/lib/wasm.ts), or undefined if it could not be compiled. */
  module: Uint8Array | undefined;
  /** `--quick`: fewer slots, streams and rounds (a smoke run). */
  quick: boolean;
  log: (text: string) => void;
  /** `--profile`: where the server's CPU profiles go (one per figure that takes one). */
  profileDir: string | undefined;
}

/** Runs `work` under a CPU profile of the server (or of the raw baselines' process) when
 * profiles were asked for. */
export async function profiled<T>(
  ctx: BenchContext,
  name: string,
  work: () => Promise<T>,
  of: "server" | "raw" = "server",
): Promise<T> {
  if (ctx.profileDir === undefined) return work();
  const child = of === "server" ? ctx.pw.child : ctx.raw.child;
  await child.call("profileStart");
  try {
    return await work();
  } finally {
    const path = join(ctx.profileDir, `${name}.cpuprofile`);
    await child.call("profileStop", path);
    ctx.log(`  profile: ${path}`);
  }
}
