/**
 * What every benchmark child process can report about itself: CPU time (the whole process,
 * and the main thread alone from Linux's schedstat), heap after a full GC, and CPU profiles
 * (`node --cpu-prof` format, written where the client asks).
 */
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";

/** CPU time in µs: user + system of the whole process, and of its main thread. */
export interface CpuSample {
  processUs: number;
  mainUs: number;
}

/** CPU time of the main thread in µs (Linux schedstat; elsewhere the process's). */
export function mainThreadCpuUs(): number {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]) / 1e3;
  } catch {
    const u = process.cpuUsage();
    return u.user + u.system;
  }
}

export function cpuSample(): CpuSample {
  const u = process.cpuUsage();
  return { processUs: u.user + u.system, mainUs: mainThreadCpuUs() };
}

/** The difference of two samples. */
export function cpuSince(before: CpuSample, after: CpuSample = cpuSample()): CpuSample {
  return { processUs: after.processUs - before.processUs, mainUs: after.mainUs - before.mainUs };
}

let session: Session | undefined;

/** The commands every child answers. */
export const probeCommands = {
  cpu: (): CpuSample => cpuSample(),
  heap: (): NodeJS.MemoryUsage => {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    gc?.();
    return process.memoryUsage();
  },
  profileStart: async (): Promise<void> => {
    session ??= new Session();
    session.connect();
    await session.post("Profiler.enable");
    await session.post("Profiler.setSamplingInterval", { interval: 200 });
    await session.post("Profiler.start");
  },
  profileStop: async (path: string): Promise<void> => {
    if (session === undefined) throw new Error("no profile running");
    const { profile } = await session.post("Profiler.stop");
    session.disconnect();
    session = undefined;
    await writeFile(path, JSON.stringify(profile));
  },
};
