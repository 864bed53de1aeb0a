/**
 * The raw baselines, in a process of their own: a grpc-js server with raw-bytes methods
 * (bench/lib/echo.ts: no protobuf, no engine) and an lmdb-js environment opened the way the
 * LMDB store opens it (every write durable when it resolves), plus the raw catch-up loops
 * that figures 1 and 2 compare the engine with. Driven by the client over IPC.
 */
import { message, messageId } from "../../src/core/message.js";
import { createCounterDevice } from "../../src/device/counter.js";
import type { Step } from "../../src/device/device.js";
import { encodeInput } from "../../src/device/wasm/abi.js";
import { encodeScheduleEntry } from "../../src/store/codec.js";
import { serveCommands } from "../lib/child.js";
import { startEchoServer, type EchoServer } from "../lib/echo.js";
import { durablePut, openRawLmdb, type RawLmdb } from "../lib/lmdb.js";
import { cpuSample, cpuSince, probeCommands, type CpuSample } from "../lib/probe.js";
import { rawInstance } from "../lib/wasm.js";

/** What EchoDurable and Pipeline write: about one stored schedule entry. */
const DURABLE_VALUE = Buffer.alloc(128, 3);

let lmdb: RawLmdb | undefined;
let echo: EchoServer | undefined;
let run = 0;

/** A key of run `r`, kind `k`, slot `s`: 1 + 4 + 8 bytes, ordered by slot. */
function key(r: number, k: number, s: number): Buffer {
  const b = Buffer.alloc(13);
  b[0] = k;
  b.writeUInt32BE(r, 1);
  b.writeUInt32BE(Math.floor(s / 2 ** 32), 5);
  b.writeUInt32BE(s >>> 0, 9);
  return b;
}

export interface RawCatchup {
  slots: number;
  /** Slots per durable commit. */
  commit: number;
  /** Bytes of each result value written. */
  resultBytes: number;
  /** A wasm module: step with its pw_handle on this thread; else counter@1.0's device. */
  module?: number[];
}

/**
 * The raw work of a catch-up: for every `commit` slots, read their stored schedule values
 * (lmdb-js getRange), step them (counter@1.0's device, or pw_handle called directly), and
 * write one result value per slot in one durable commit, awaited before the next. No
 * decoding, no result objects, no engine. Schedule values are written untimed first.
 */
async function catchup(args: RawCatchup): Promise<{ ms: number; cpu: CpuSample }> {
  const db = (lmdb as RawLmdb).db;
  const r = run++;
  const msg = message({ Amount: "1" });
  const id = messageId(msg);
  const entry = encodeScheduleEntry({ slot: 1n, messageId: id, timestampMs: Date.now(), message: msg });
  await db.batch(() => {
    for (let s = 1; s <= args.slots; s++) void db.put(key(r, 3, s), entry);
  });
  const result = Buffer.alloc(args.resultBytes, 1);
  let step: (first: number, count: number) => Promise<void>;
  if (args.module !== undefined) {
    const call = await rawInstance(Uint8Array.from(args.module));
    const inputs = Array.from({ length: args.slots + 1 }, (_, s) =>
      encodeInput(id, { slot: BigInt(s), messageId: id, message: msg }),
    );
    step = async (first, count) => {
      for (let i = 0; i < count; i++) call(inputs[first + i] as Uint8Array);
    };
  } else {
    const instance = await createCounterDevice({ slotTimeLimitMs: 5_000 }).instantiate({
      processId: id,
      spawn: message({ "Execution-Device": "counter@1.0" }),
    });
    await instance.run([{ slot: 0n, messageId: id, message: msg }]);
    step = async (first, count) => {
      const steps: Step[] = [];
      for (let i = 0; i < count; i++) steps.push({ slot: BigInt(first + i), messageId: id, message: msg });
      await instance.run(steps);
    };
  }
  const before = cpuSample();
  const t0 = performance.now();
  for (let first = 1; first <= args.slots; first += args.commit) {
    const last = Math.min(args.slots, first + args.commit - 1);
    const values: Uint8Array[] = [];
    for (const { value } of db.getRange({ start: key(r, 3, first), end: key(r, 3, last + 1) })) values.push(value);
    await step(first, values.length);
    await db.batch(() => {
      for (let i = 0; i < values.length; i++) void db.put(key(r, 4, first + i), result);
    });
  }
  const ms = performance.now() - t0;
  return { ms, cpu: cpuSince(before) };
}

serveCommands(
  {
    ...probeCommands,
    start: async (): Promise<{ address: string }> => {
      lmdb = await openRawLmdb();
      const raw = lmdb;
      echo = await startEchoServer(() => durablePut(raw, DURABLE_VALUE));
      return { address: echo.address };
    },
    setReplyBytes: (n: number) => echo?.setReplyBytes(n),
    listeners: () => echo?.listeners() ?? 0,
    catchup: (args: RawCatchup) => catchup(args),
  },
  async () => {
    await echo?.close();
    await lmdb?.close();
  },
);
