/**
 * The crash soak's load on one server incarnation: per process, a writer (Schedule of 1–3
 * messages), a subscriber, a computer (Compute after each acknowledgement) and an awaiter
 * (Await of a slot near the latest acknowledged), all at once, until the round is stopped —
 * by the server's SIGKILL. Every acknowledgement and result is recorded on the process's
 * TrackedProcess; every status a call ended with is counted, before the kill and at it.
 */
import { once, setMaxListeners } from "node:events";
import { status, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import type { SlotResult } from "../../../src/generated/procworker/v1/types.js";
import { ProcworkerClient } from "../../../src/service/client.js";
import type { TrackedProcess } from "./tracked-process.js";

/** Calls by `${method} ${STATUS}` ("Schedule OK"), counted. */
export type StatusCounts = Map<string, number>;

/** The load of one round. */
export interface Load {
  /** Acknowledged messages and first-seen results so far: the soak kills after a random number. */
  readonly events: number;
  /** Resolves if every loop ended by itself (a call failed as it must not): nothing will come. */
  readonly settled: Promise<unknown>;
  /** Runs `kill` with every call as it is (calls ending from here on count as ended by the
   * kill), then cancels what is left and resolves once every loop has ended. */
  stop(kill: () => Promise<void>): Promise<void>;
}

/** What counts statuses: calls that ended before the kill, and those it ended. */
export interface LoadStatuses {
  before: StatusCounts;
  atKill: StatusCounts;
}

/** Statuses that may end a call while the server is up: only a wait reaching its deadline. */
const EXPECTED_BEFORE_KILL = new Set([status.DEADLINE_EXCEEDED]);

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;
const int = (min: number, max: number): number => min + Math.floor(Math.random() * (max - min + 1));

let sequence = 0;

/** A message for a process of the given device: mostly valid, one in ten a failing slot. */
export function soakMessage(device: "counter" | "kv"): Record<string, string> {
  const seq = String(++sequence) + "-" + String(process.pid);
  if (device === "counter") {
    return Math.random() < 0.1 ? { Amount: "x", Seq: seq } : { Amount: String(int(-100, 100)), Seq: seq };
  }
  const key = `k${int(0, 4)}`;
  const action = Math.random() < 0.05 ? "Oops" : pick(["Set", "Set", "Get", "Delete"]);
  return action === "Set"
    ? { Action: action, Key: key, Value: `v${int(0, 999)}`, Seq: seq }
    : { Action: action, Key: key, Seq: seq };
}

/** Starts the load on `address` for every process; `onEvent` hears of every event. */
export function startLoad(
  address: string,
  processes: TrackedProcess[],
  statuses: LoadStatuses,
  onEvent: () => void,
): Load {
  const client = new ProcworkerClient(address);
  const abort = new AbortController();
  setMaxListeners(0, abort.signal); // every loop waits on it
  let killing = false;
  let events = 0;
  const event = (): void => {
    events++;
    onEvent();
  };
  /** Counts a call's status under `${call} ${STATUS}`, before the kill or at it. */
  const record = (call: string, code: number): void => {
    const counts = killing ? statuses.atKill : statuses.before;
    const name = `${call} ${status[code] ?? String(code)}`;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  };
  const ended = (call: string, error: ServiceError | Error): void => {
    const code = "code" in error && typeof error.code === "number" ? error.code : status.UNKNOWN;
    record(call, code);
    if (!killing && !EXPECTED_BEFORE_KILL.has(code)) throw error;
  };
  /** Follows a result stream to its end, recording its results; cancelled by the abort. */
  const follow = async (
    call: string,
    p: TrackedProcess,
    stream: ClientReadableStream<{ result?: SlotResult }>,
  ): Promise<void> => {
    const cancel = (): void => stream.cancel();
    abort.signal.addEventListener("abort", cancel, { once: true });
    stream.on("data", (response: { result?: SlotResult }) => {
      if (p.saw(response.result)) event();
    });
    try {
      await once(stream, "end");
      record(call, status.OK);
    } finally {
      abort.signal.removeEventListener("abort", cancel);
    }
  };
  const nextAck = (p: TrackedProcess): Promise<unknown> => once(p.acks, "ack", { signal: abort.signal });
  const loop = async (call: string, body: () => Promise<void>): Promise<void> => {
    // No call starts once the kill is under way: every call it ends was in flight.
    while (!killing) {
      try {
        await body();
      } catch (error) {
        if (
          abort.signal.aborted &&
          ((error as Error).name === "AbortError" || (error as ServiceError).code === status.CANCELLED)
        )
          return;
        ended(call, error as ServiceError);
      }
    }
  };

  const loops: Promise<void>[] = [];
  for (const p of processes) {
    const device = p.model.device;
    // The writer.
    loops.push(
      loop("Schedule", async () => {
        const messages = Array.from({ length: int(1, 3) }, () => soakMessage(device));
        const ids = p.sending(messages);
        const wire = messages.map((tags) => ({ tags: new Map(Object.entries(tags)), data: Buffer.alloc(0) }));
        const { assignments } = await client.schedule({ processId: p.id, messages: wire }, { timeoutMs: 20_000 });
        p.acknowledged(assignments, ids);
        record("Schedule", status.OK);
        for (let i = 0; i < assignments.length; i++) event();
      }),
    );
    // The subscriber: one stream for the whole round, from the first slot not verified.
    loops.push(
      follow("Subscribe", p, client.subscribe({ processId: p.id, fromSlot: p.verified + 1n })).catch(
        (error: ServiceError) => {
          if (!(abort.signal.aborted && error.code === status.CANCELLED)) ended("Subscribe", error);
        },
      ),
    );
    // The computer: a Compute to the latest slot after each acknowledgement.
    loops.push(
      loop("Compute", async () => {
        await nextAck(p);
        if (killing) return;
        await follow("Compute", p, client.compute({ processId: p.id }, { timeoutMs: 20_000 }));
      }),
    );
    // The awaiter: one slot near the latest acknowledged, maybe not yet scheduled.
    loops.push(
      loop("Await", async () => {
        await nextAck(p);
        if (killing) return;
        const slot = p.latestAcked + BigInt(int(-2, 2));
        if (slot < 0n) return;
        const { result } = await client.await({ processId: p.id, slot }, { timeoutMs: int(500, 3000) });
        record("Await", status.OK);
        if (p.saw(result)) event();
      }),
    );
  }
  const all = Promise.allSettled(loops);
  return {
    get events() {
      return events;
    },
    settled: all,
    async stop(kill) {
      killing = true;
      await kill();
      abort.abort();
      const settled = await all;
      client.close();
      for (const s of settled) if (s.status === "rejected") throw s.reason;
    },
  };
}
