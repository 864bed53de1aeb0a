/**
 * The crash soak: a server in a child process on one LMDB data dir, counter and kv processes
 * under concurrent Schedule / Subscribe / Compute / Await, and the server SIGKILLed after a
 * random number of events (acknowledgements and results), again and again. After each
 * restart on the same data dir every process is verified (verify.ts): every acknowledged
 * message at its slot, no gaps, every result equal to the model's and to what clients saw
 * before the kill. At the end, the whole log and every result once more, and a graceful
 * shutdown. Used by test/integration/crash-soak.test.ts (5 kills) and `npm run soak`.
 */
import { ProcworkerClient } from "../../../src/service/client.js";
import { startChildServer, type ChildServer } from "../child-server.js";
import { residentMemory } from "../scrape.js";
import { startLoad, type LoadStatuses } from "./load.js";
import { counterModel, kvModel } from "./model.js";
import { TrackedProcess } from "./tracked-process.js";
import { fullCheck, verifyProcess } from "./verify.js";

export interface CrashSoakOptions {
  kills: number;
  dataDir: string;
  kvModule: Uint8Array;
  counters: number;
  kvs: number;
  /** The server is killed after a random number of events in [1, maxEvents]. */
  maxEvents: number;
  /** Extra environment for the server. */
  env?: Record<string, string>;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface CrashSoakReport {
  kills: number;
  /** Messages acknowledged, and slots verified, over all processes. */
  acknowledged: number;
  slots: number;
  /** Results clients saw before a kill, compared with the server's after the restart. */
  seenCompared: number;
  /** Messages whose Schedule the kill cut: found in the log after all / not. */
  unansweredKept: number;
  unansweredLost: number;
  statuses: LoadStatuses;
  /** The highest peak resident memory of any server incarnation. */
  peakRss: number;
  /** The exit code of the final graceful shutdown. */
  finalExit: number | null;
  problems: string[];
  seconds: number;
}

const SERVE = [process.execPath, ["--import", "tsx", "src/cli/main.ts", "serve"]] as const;

/** Runs the soak; resolves with its report (problems listed, never thrown). */
export async function crashSoak(opts: CrashSoakOptions): Promise<CrashSoakReport> {
  const started = performance.now();
  const env = {
    PROCWORKER_DATA_DIR: opts.dataDir,
    // Snapshots often, so that restarts restore from a snapshot and replay the slots after it.
    PROCWORKER_SNAPSHOT_INTERVAL: "8",
    ...opts.env,
  };
  const start = (): Promise<ChildServer> => startChildServer(SERVE[0], [...SERVE[1]], env);
  const report: CrashSoakReport = {
    kills: 0,
    acknowledged: 0,
    slots: 0,
    seenCompared: 0,
    unansweredKept: 0,
    unansweredLost: 0,
    statuses: { before: new Map(), atKill: new Map() },
    peakRss: 0,
    finalExit: null,
    problems: [],
    seconds: 0,
  };

  let server = await start();
  const processes = await spawnProcesses(`127.0.0.1:${server.port}`, opts);
  try {
    for (let round = 1; round <= opts.kills; round++) {
      const killAt = 1 + Math.floor(Math.random() * opts.maxEvents);
      const pid = server.child.pid as number;
      let reached!: () => void;
      const killTime = new Promise<void>((resolve) => (reached = resolve));
      const load = startLoad(`127.0.0.1:${server.port}`, processes, report.statuses, () => {
        if (load.events >= killAt) reached();
      });
      await Promise.race([killTime, load.settled]);
      const victim = server;
      await load.stop(async () => {
        report.peakRss = Math.max(report.peakRss, (await residentMemory(pid)).peak);
        await victim.signalGroup("SIGKILL");
      });
      report.kills++;
      report.acknowledged += processes.reduce((n, p) => n + p.acked.size, 0);

      server = await start();
      const client = new ProcworkerClient(`127.0.0.1:${server.port}`);
      try {
        for (const p of processes) {
          const v = await verifyProcess(client, p);
          report.slots += v.slots;
          report.seenCompared += v.seenCompared;
          report.unansweredKept += v.unansweredKept;
          report.unansweredLost += v.unansweredLost;
          report.problems.push(...v.problems.map((problem) => `after kill ${round}: ${problem}`));
        }
      } finally {
        client.close();
      }
      opts.log?.(
        `kill ${round}/${opts.kills} after ${killAt} events: ${report.slots} slots verified, ` +
          `${report.problems.length} problems`,
      );
      if (report.problems.length > 0) break;
    }
    const client = new ProcworkerClient(`127.0.0.1:${server.port}`);
    try {
      for (const p of processes) report.problems.push(...(await fullCheck(client, p)));
    } finally {
      client.close();
    }
  } catch (error) {
    report.problems.push(`the soak failed: ${error instanceof Error ? error.stack : String(error)}`);
  } finally {
    report.peakRss = Math.max(report.peakRss, (await residentMemory(server.child.pid as number)).peak);
    report.finalExit = await server.signalGroup("SIGTERM");
    if (report.finalExit !== 0) report.problems.push(`the final graceful shutdown exited ${report.finalExit}`);
    report.seconds = (performance.now() - started) / 1000;
  }
  return report;
}

/** Spawns the processes (idempotent: the same definitions give the same ids). */
async function spawnProcesses(address: string, opts: CrashSoakOptions): Promise<TrackedProcess[]> {
  const client = new ProcworkerClient(address);
  const processes: TrackedProcess[] = [];
  const spawn = async (tags: Record<string, string>, module: Uint8Array) =>
    (
      await client.spawn({
        process: { tags: new Map(Object.entries(tags)), data: Buffer.alloc(0) },
        module: Buffer.from(module),
      })
    ).processId;
  try {
    for (let i = 0; i < opts.counters; i++) {
      const initial = BigInt(i * 1000);
      const id = await spawn(
        { "Execution-Device": "counter@1.0", Initial: String(initial), Soak: `c${i}` },
        new Uint8Array(),
      );
      processes.push(new TrackedProcess(id, counterModel(initial)));
    }
    for (let i = 0; i < opts.kvs; i++) {
      const id = await spawn({ "Execution-Device": "wasm@1.0", Soak: `kv${i}` }, opts.kvModule);
      processes.push(new TrackedProcess(id, kvModel()));
    }
  } finally {
    client.close();
  }
  return processes;
}
