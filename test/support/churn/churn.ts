/**
 * The churn test: many processes (counter and kv, half each) through a server whose
 * `max_worker_bytes` is tiny, so idle workers are evicted (snapshot, exit, later restore) all
 * the time, under a random mix of concurrent calls: Spawn, Schedule, Await (of slots done and
 * not yet scheduled), Compute and Subscribe streams cancelled part way, Stop (with and without
 * snapshot), DryRun and GetProcess. Every call ends with a status its situation allows; every
 * result any call returned is checked afterwards against the model and against every other
 * copy of it; every log is exactly the acknowledged messages. Used by
 * test/integration/churn.test.ts and `npm run churn`.
 */
import { status, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import { isDeepStrictEqual } from "node:util";
import pino from "pino";
import { messageId } from "../../../src/core/message.js";
import type { SlotResult } from "../../../src/generated/procworker/v1/types.js";
import { readAll, type ProcworkerClient } from "../../../src/service/client.js";
import { soakMessage } from "../soak/load.js";
import { counterModel, kvModel, mismatch, type ProcessModel } from "../soak/model.js";

export interface ChurnOptions {
  processes: number;
  operations: number;
  concurrency: number;
  kvModule: Uint8Array;
}

/** A process under churn: its acknowledged messages by slot, and every result seen. */
interface Churned {
  id: string;
  fresh: () => ProcessModel;
  /** slot → message tags (slot 0: the spawn). */
  log: Map<bigint, Record<string, string>>;
  latestAcked: bigint;
  seen: Map<bigint, SlotResult>;
  dryRuns: { tags: Record<string, string>; result: SlotResult }[];
}

export interface ChurnReport {
  processes: number;
  operations: number;
  /** Calls by operation and status ("await DEADLINE_EXCEEDED" → n). */
  outcomes: Map<string, number>;
  /** Results checked against the model (all slots of all processes, plus dry runs). */
  resultsChecked: number;
  problems: string[];
}

/** Statuses each operation may end with here (CANCELLED: the churn cancelled it). */
const ALLOWED: Record<string, status[]> = {
  spawn: [status.OK],
  schedule: [status.OK],
  await: [status.OK, status.DEADLINE_EXCEEDED, status.ABORTED],
  compute: [status.OK, status.CANCELLED, status.ABORTED],
  subscribe: [status.CANCELLED, status.DEADLINE_EXCEEDED],
  stop: [status.OK],
  dryRun: [status.OK, status.ABORTED],
  getProcess: [status.OK],
};

const int = (min: number, max: number): number => min + Math.floor(Math.random() * (max - min + 1));

/** A logger that counts the events the server logs (for `evicting`). */
export function countingLogger(): { logger: pino.Logger; events: Map<string, number> } {
  const events = new Map<string, number>();
  const logger = pino(
    { level: "info" },
    {
      write(line: string) {
        const event = (JSON.parse(line) as { event?: string }).event;
        if (event !== undefined) events.set(event, (events.get(event) ?? 0) + 1);
      },
    },
  );
  return { logger, events };
}

/** Runs the churn on `client`'s server; resolves with the report (problems listed). */
export async function churn(client: ProcworkerClient, opts: ChurnOptions): Promise<ChurnReport> {
  const report: ChurnReport = {
    processes: 0,
    operations: 0,
    outcomes: new Map(),
    resultsChecked: 0,
    problems: [],
  };
  const processes: Churned[] = [];
  const CALL = { timeoutMs: 30_000 };
  const wire = (tags: Record<string, string>) => ({ tags: new Map(Object.entries(tags)), data: Buffer.alloc(0) });
  const count = (op: string, code: status): void => {
    const key = `${op} ${status[code]}`;
    report.outcomes.set(key, (report.outcomes.get(key) ?? 0) + 1);
    if (!ALLOWED[op]?.includes(code)) report.problems.push(`${op} ended with ${status[code]}`);
  };
  const saw = (p: Churned, result: SlotResult | undefined): void => {
    if (result === undefined) return;
    const before = p.seen.get(result.slot);
    if (before === undefined) p.seen.set(result.slot, result);
    else if (!isDeepStrictEqual(before, result))
      report.problems.push(`${p.id}: slot ${result.slot} seen twice, differently`);
  };
  /** Reads a stream, cancelling it after `cancelAfter` results (never, if undefined). */
  const follow = (
    p: Churned,
    stream: ClientReadableStream<{ result?: SlotResult }>,
    cancelAfter: number | undefined,
  ): Promise<status> =>
    new Promise((resolve) => {
      let n = 0;
      stream.on("data", (response: { result?: SlotResult }) => {
        saw(p, response.result);
        if (++n === cancelAfter) stream.cancel();
      });
      stream.on("error", () => undefined);
      stream.on("status", (s: { code: status }) => resolve(s.code));
      if (cancelAfter === 0) stream.cancel();
    });
  const codeOf = (error: unknown): status => (error as ServiceError).code ?? status.UNKNOWN;

  const spawn = async (): Promise<void> => {
    const i = processes.length;
    const kv = i % 2 === 1;
    const tags: Record<string, string> = kv
      ? { "Execution-Device": "wasm@1.0", Churn: String(i) }
      : { "Execution-Device": "counter@1.0", Initial: String(i), Churn: String(i) };
    const placeholder: Churned = {
      id: "",
      fresh: () => counterModel(0n),
      log: new Map(),
      latestAcked: 0n,
      seen: new Map(),
      dryRuns: [],
    };
    processes.push(placeholder); // claims index i before the call, so indexes stay unique
    const { processId } = await client.spawn(
      { process: wire(tags), module: Buffer.from(kv ? opts.kvModule : []) },
      CALL,
    );
    Object.assign(placeholder, {
      id: processId,
      fresh: kv ? () => kvModel() : () => counterModel(BigInt(i)),
      log: new Map([[0n, tags]]),
    });
    report.processes++;
    count("spawn", status.OK);
  };

  const operations: Record<string, (p: Churned) => Promise<void>> = {
    async schedule(p) {
      const messages = Array.from({ length: int(1, 3) }, () => soakMessage(kvOf(p) ? "kv" : "counter"));
      const { assignments } = await client.schedule({ processId: p.id, messages: messages.map(wire) }, CALL);
      assignments.forEach((a, i) => {
        const tags = messages[i]!;
        if (a.messageId !== messageId({ tags, data: new Uint8Array() }))
          report.problems.push(`${p.id}: wrong id at ${a.slot}`);
        if (p.log.has(a.slot)) report.problems.push(`${p.id}: slot ${a.slot} assigned twice`);
        p.log.set(a.slot, tags);
        if (a.slot > p.latestAcked) p.latestAcked = a.slot;
      });
      count("schedule", status.OK);
    },
    async await(p) {
      const slot = BigInt(int(0, Number(p.latestAcked) + 2));
      saw(p, (await client.await({ processId: p.id, slot }, { timeoutMs: int(200, 1000) })).result);
      count("await", status.OK);
    },
    async compute(p) {
      const slot = Math.random() < 0.5 ? undefined : BigInt(int(0, Number(p.latestAcked)));
      const cancelAfter = Math.random() < 0.5 ? int(0, 3) : undefined;
      count(
        "compute",
        await follow(
          p,
          client.compute({ processId: p.id, ...(slot === undefined ? {} : { slot }) }, CALL),
          cancelAfter,
        ),
      );
    },
    async subscribe(p) {
      const fromSlot = BigInt(int(0, Number(p.latestAcked) + 1));
      count(
        "subscribe",
        await follow(p, client.subscribe({ processId: p.id, fromSlot }, { timeoutMs: int(200, 1000) }), int(0, 4)),
      );
    },
    async stop(p) {
      await client.stop({ processId: p.id, skipSnapshot: Math.random() < 0.3 }, CALL);
      count("stop", status.OK);
    },
    async dryRun(p) {
      const tags = soakMessage(kvOf(p) ? "kv" : "counter");
      const { result } = await client.dryRun({ processId: p.id, message: wire(tags) }, CALL);
      if (result !== undefined) p.dryRuns.push({ tags, result });
      count("dryRun", status.OK);
    },
    async getProcess(p) {
      const acked = p.latestAcked;
      const got = await client.getProcess({ processId: p.id }, CALL);
      if (got.latestScheduledSlot < acked)
        report.problems.push(`${p.id}: GetProcess says ${got.latestScheduledSlot} < ${acked}`);
      count("getProcess", status.OK);
    },
  };
  const kvOf = (p: Churned): boolean => p.log.get(0n)?.["Execution-Device"] === "wasm@1.0";
  const weights: [string, number][] = [
    ["schedule", 30],
    ["await", 14],
    ["compute", 14],
    ["subscribe", 14],
    ["stop", 12],
    ["dryRun", 8],
    ["getProcess", 8],
  ];
  const total = weights.reduce((n, [, w]) => n + w, 0);
  const pickOperation = (): string => {
    let r = Math.random() * total;
    for (const [name, w] of weights) if ((r -= w) < 0) return name;
    return "schedule";
  };

  let started = 0;
  const lane = async (): Promise<void> => {
    while (started < opts.operations) {
      started++;
      // New processes keep coming until there are enough: spawn is every tenth operation.
      const ready = processes.filter((p) => p.id !== "");
      const behind = opts.operations - started < opts.processes - processes.length;
      const name =
        processes.length < opts.processes && (ready.length === 0 || Math.random() < 0.1 || behind)
          ? "spawn"
          : pickOperation();
      try {
        await (name === "spawn" ? spawn() : operations[name]!(ready[int(0, ready.length - 1)]!));
      } catch (error) {
        count(name, codeOf(error));
      }
      report.operations++;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, lane));
  await checkAll(client, processes, report);
  return report;
}

/** Every process's log is its acknowledged messages; every result equals the model's and
 * every copy seen; every dry run equals the model's step from the state it saw. */
async function checkAll(client: ProcworkerClient, processes: Churned[], report: ChurnReport): Promise<void> {
  for (const p of processes) {
    const entries = await readAll(client.readSchedule({ processId: p.id, fromSlot: 0n }, { timeoutMs: 60_000 }));
    const slots = entries.map((e) => e.entry!.slot);
    if (
      !isDeepStrictEqual(
        slots,
        [...p.log.keys()].sort((a, b) => (a < b ? -1 : 1)),
      )
    ) {
      report.problems.push(`${p.id}: the log's slots are not the acknowledged ones`);
      continue;
    }
    const results = await readAll(client.compute({ processId: p.id }, { timeoutMs: 60_000 }));
    for (const r of results) {
      // The stream computes what was left; what the churn saw must match it too.
      const before = p.seen.get(r.result!.slot);
      if (before !== undefined && !isDeepStrictEqual(before, r.result))
        report.problems.push(`${p.id}: slot ${r.result!.slot} differs`);
      p.seen.set(r.result!.slot, r.result!);
    }
    const model = p.fresh();
    const states: ProcessModel[] = [];
    for (let slot = 0n; slot < BigInt(entries.length); slot++) {
      const expected = slot === 0n ? model.init() : model.step(p.log.get(slot)!);
      states.push(model.clone());
      const result = p.seen.get(slot) ?? (await client.await({ processId: p.id, slot }, { timeoutMs: 60_000 })).result;
      const wrong = mismatch(result, slot, expected);
      if (wrong !== undefined) report.problems.push(`${p.id}: ${wrong}`);
      report.resultsChecked++;
    }
    for (const { tags, result } of p.dryRuns) {
      // A dry run's slot is the one whose state it saw; its result is that state's next step.
      const expected = states[Number(result.slot)]!.clone().step(tags);
      const wrong = expected.error
        ? result.error === undefined
          ? `slot ${result.slot}: expected a failed dry run`
          : undefined
        : mismatch(result, result.slot, expected);
      if (wrong !== undefined) report.problems.push(`${p.id}: dry run ${wrong}`);
      report.resultsChecked++;
    }
  }
}
