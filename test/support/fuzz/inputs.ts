/**
 * What the wire fuzzer sends (fast-check arbitraries), in three kinds for every method:
 *   - typed: a well-typed request, encoded by the generated code — ids valid and invalid
 *     (known processes, random ids, empty, odd Unicode, huge), slots at the edges (0, 2^53±1,
 *     2^64−1), random tags and data up to and past max_message_bytes, spawn definitions
 *     valid and not, WebAssembly modules random or bit-flipped;
 *   - raw: random bytes, and random protobuf fields (plausible framing, random content);
 *   - mutated: a typed request's bytes with bits flipped, bytes inserted, or cut short.
 * Inputs are generated from a seed, so a run can be repeated.
 */
import fc from "fast-check";
import { sha256Id } from "../../../src/core/message.js";
import { HealthCheckRequest, HealthListRequest } from "../../../src/generated/grpc/health/v1/health.js";
import { ServerReflectionRequest } from "../../../src/generated/grpc/reflection/v1/reflection.js";
import {
  AwaitRequest,
  ComputeRequest,
  DryRunRequest,
  GetProcessRequest,
  GroupRequest,
  ListWorkersRequest,
  ReadScheduleRequest,
  ScheduleRequest,
  SpawnRequest,
  StopRequest,
  SubscribeRequest,
} from "../../../src/generated/procworker/v1/process_worker_service.js";
import type { Message } from "../../../src/generated/procworker/v1/types.js";
import { FUZZ_METHODS, type FuzzMethod } from "./methods.js";

/** The three kinds of input. */
export const INPUT_KINDS = ["typed", "raw", "mutated"] as const;
export type InputKind = (typeof INPUT_KINDS)[number];

/** What the inputs are made from: the server's limits and processes that exist on it. */
export interface FuzzContext {
  /** Known counter@1.0 processes (the fuzzer schedules into them, stops them, reads them). */
  counters: string[];
  /** Known wasm@1.0 processes running examples/kv-wat. */
  kvs: string[];
  /** The kv-wat module bytes (spawned intact, bit-flipped, cut short). */
  kvModule: Uint8Array;
  /** The server's max_message_bytes, max_schedule_messages and max_request_tags. */
  maxMessageBytes: number;
  maxScheduleMessages: number;
  maxRequestTags: number;
  /** The deadline of a call that must not wait: reaching it means the server hung. */
  noWaitDeadlineMs: number;
}

/** One call to make. */
export interface FuzzInput {
  method: FuzzMethod;
  kind: InputKind;
  /** The request's bytes (for reflection: the one request written on the stream). */
  bytes: Uint8Array;
  /** The call's deadline, in ms from its start. */
  deadlineMs: number;
  /** Streams: cancel once this many responses arrived (0: at once); undefined: never. */
  cancelAfter: number | undefined;
  /** A short description of the request, for reports. */
  label: string;
}

const U64_MAX = 2n ** 64n - 1n;
const SLOT_EDGES = [
  0n,
  1n,
  2n,
  2n ** 31n,
  2n ** 32n,
  2n ** 53n - 1n,
  2n ** 53n,
  2n ** 53n + 1n,
  2n ** 63n,
  U64_MAX - 1n,
];
const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** A slot: small, at an edge of the number types, or anywhere in uint64. */
const slot: fc.Arbitrary<bigint> = fc.oneof(
  { arbitrary: fc.bigInt({ min: 0n, max: 30n }), weight: 5 },
  { arbitrary: fc.constantFrom(...SLOT_EDGES, U64_MAX), weight: 3 },
  { arbitrary: fc.bigInt({ min: 0n, max: U64_MAX }), weight: 1 },
);

/** Text a careless client might send: control characters, lone surrogates, combining marks,
 * bidi overrides, astral characters, and any code point. */
const oddText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 24 }),
  fc
    .array(
      fc.constantFrom("\u0000", "\uD800", "\uDFFF", "\u202E", "\uFEFF", "e\u0301", "\u{1F4A5}", "\u{10FFFF}", "%", "/"),
      { maxLength: 8 },
    )
    .map((parts) => parts.join("")),
);

/** A huge string, just under or just over what one message may carry. */
function hugeText(ctx: FuzzContext): fc.Arbitrary<string> {
  return fc
    .constantFrom(100_000, ctx.maxMessageBytes - 1024, ctx.maxMessageBytes + 1)
    .map((n) => "x".repeat(Math.max(1, n)));
}

/** A process id: a known one, a random well-formed one, or anything else. */
function processId(ctx: FuzzContext): fc.Arbitrary<string> {
  const known = [...ctx.counters, ...ctx.kvs];
  return fc.oneof(
    { arbitrary: fc.constantFrom(...known), weight: 8 },
    { arbitrary: fc.string({ unit: fc.constantFrom(...BASE64URL), minLength: 43, maxLength: 43 }), weight: 2 },
    {
      arbitrary: fc.string({ unit: fc.constantFrom(...BASE64URL, "=", "+", "/"), minLength: 41, maxLength: 45 }),
      weight: 1,
    },
    { arbitrary: fc.constantFrom("", " ", `${known[0]} `, (known[0] ?? "").toLowerCase()), weight: 1 },
    { arbitrary: oddText, weight: 1 },
    { arbitrary: hugeText(ctx), weight: 1 },
  );
}

const TAG_NAMES = ["Execution-Device", "Initial", "Amount", "Delay-Ms", "Action", "Key", "Value", "Module"];
const TAG_VALUES = [
  "counter@1.0",
  "wasm@1.0",
  "Set",
  "Get",
  "Delete",
  "",
  "0",
  "-0",
  "-1",
  "5",
  "1e3",
  " 5",
  "0x10",
  "NaN",
  "Infinity",
  "9".repeat(4096),
  "9".repeat(4097),
  "-" + "9".repeat(4096),
];

function tagName(ctx: FuzzContext): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fc.constantFrom(...TAG_NAMES), weight: 24 },
    { arbitrary: fc.string({ maxLength: 12 }), weight: 8 },
    { arbitrary: oddText, weight: 4 },
    { arbitrary: hugeText(ctx), weight: 1 },
  );
}

function tagValue(ctx: FuzzContext): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fc.constantFrom(...TAG_VALUES), weight: 24 },
    { arbitrary: fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String), weight: 12 },
    { arbitrary: fc.string({ maxLength: 16 }), weight: 8 },
    { arbitrary: oddText, weight: 4 },
    { arbitrary: hugeText(ctx), weight: 1 },
  );
}

/** Tags: a few random ones, now and then more than max_request_tags. */
function tags(
  ctx: FuzzContext,
  fixed: fc.Arbitrary<[string, string][]> = fc.constant([]),
): fc.Arbitrary<Message["tags"]> {
  const many = fc
    .constant(null)
    .map(() => Array.from({ length: ctx.maxRequestTags + 1 }, (_, i): [string, string] => [`t${i}`, ""]));
  const random = fc.array(fc.tuple(tagName(ctx), tagValue(ctx)), { maxLength: 3 });
  return fc
    .tuple(fixed, fc.oneof({ arbitrary: random, weight: 30 }, { arbitrary: many, weight: 1 }))
    .map(([first, rest]) => new Map([...rest, ...first]));
}

function data(ctx: FuzzContext): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { arbitrary: fc.constant(Buffer.alloc(0)), weight: 40 },
    { arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)), weight: 20 },
    {
      arbitrary: fc.constantFrom(ctx.maxMessageBytes - 1024, ctx.maxMessageBytes + 1).map((n) => Buffer.alloc(n, 0x61)),
      weight: 1,
    },
  );
}

function message(ctx: FuzzContext, fixed?: fc.Arbitrary<[string, string][]>): fc.Arbitrary<Message> {
  return fc.record({ tags: tags(ctx, fixed), data: data(ctx) });
}

/** A message for a counter or a kv process, mostly one they accept. */
function slotMessage(ctx: FuzzContext): fc.Arbitrary<Message> {
  const counter = fc.bigInt({ min: -1000n, max: 1000n }).map((n): [string, string][] => [["Amount", String(n)]]);
  const kv = fc
    .tuple(fc.constantFrom("Set", "Get", "Delete", "Oops"), fc.string({ maxLength: 4 }), fc.string({ maxLength: 8 }))
    .map(([action, key, value]): [string, string][] => [
      ["Action", action],
      ["Key", key],
      ["Value", value],
    ]);
  return fc.oneof(
    { arbitrary: message(ctx, counter), weight: 3 },
    { arbitrary: message(ctx, kv), weight: 3 },
    { arbitrary: message(ctx), weight: 2 },
  );
}

/** Module bytes: none, kv-wat intact, bit-flipped or cut short, or random bytes. */
function moduleBytes(ctx: FuzzContext): fc.Arbitrary<Buffer> {
  const kv = Buffer.from(ctx.kvModule);
  return fc.oneof(
    { arbitrary: fc.constant(Buffer.alloc(0)), weight: 4 },
    { arbitrary: fc.constant(kv), weight: 2 },
    { arbitrary: mutations.map((ops) => Buffer.from(mutate(kv, ops))), weight: 4 },
    { arbitrary: fc.nat(kv.length).map((n) => kv.subarray(0, n)), weight: 1 },
    { arbitrary: fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)), weight: 1 },
    {
      arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.concat([Buffer.from("\0asm\x01\0\0\0"), b])),
      weight: 1,
    },
  );
}

/** A spawn message: a counter, a wasm process (Module tag or not), or random tags. */
function spawnMessage(ctx: FuzzContext): fc.Arbitrary<Message> {
  const kvId = sha256Id(ctx.kvModule);
  const initial = fc.oneof(
    { arbitrary: fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map(String), weight: 3 },
    { arbitrary: tagValue(ctx), weight: 1 },
  );
  const counter = initial.map((initial): [string, string][] => [
    ["Execution-Device", "counter@1.0"],
    ["Initial", initial],
  ]);
  const wasm = fc
    .option(fc.oneof(fc.constant(kvId), processId(ctx)), { nil: undefined })
    .map((id): [string, string][] => [
      ["Execution-Device", "wasm@1.0"],
      ...(id === undefined ? [] : [["Module", id] as [string, string]]),
    ]);
  const device = tagValue(ctx).map((name): [string, string][] => [["Execution-Device", name]]);
  return fc.oneof(message(ctx, counter), message(ctx, wasm), message(ctx, device), message(ctx));
}

const option = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arb, { nil: undefined });

/** The typed request of each method, encoded, with a label. */
function typedRequest(m: FuzzMethod, ctx: FuzzContext): fc.Arbitrary<{ bytes: Uint8Array; label: string }> {
  const id = processId(ctx);
  const encode =
    <T>(codec: { encode: (t: T) => { finish: () => Uint8Array } }) =>
    (request: T) => ({
      bytes: codec.encode(request).finish(),
      label: describe(request),
    });
  switch (m.name) {
    case "Spawn":
      return fc.record({ process: option(spawnMessage(ctx)), module: moduleBytes(ctx) }).map(encode(SpawnRequest));
    case "Schedule": {
      const many = fc.constant(null).map(() =>
        Array.from({ length: ctx.maxScheduleMessages + 1 }, (): Message => ({
          tags: new Map(),
          data: Buffer.alloc(0),
        })),
      );
      const messages = fc.oneof(
        { arbitrary: fc.array(slotMessage(ctx), { maxLength: 4 }), weight: 30 },
        { arbitrary: many, weight: 1 },
      );
      return fc.record({ processId: id, messages }).map(encode(ScheduleRequest));
    }
    case "Group": {
      const path = fc.oneof(
        fc.constantFrom("compute", "/compute", "COMPUTE/x", "now", "", "compute/dry-run"),
        fc.string({ maxLength: 20 }),
        oddText,
        hugeText(ctx),
      );
      return fc.record({ processId: id, path, slot: option(slot) }).map(encode(GroupRequest));
    }
    case "Compute":
      return fc.record({ processId: id, slot: option(slot) }).map(encode(ComputeRequest));
    case "Await":
      return fc.record({ processId: id, slot: option(slot) }).map(encode(AwaitRequest));
    case "Subscribe":
      return fc.record({ processId: id, fromSlot: slot }).map(encode(SubscribeRequest));
    case "Stop":
      return fc.record({ processId: id, skipSnapshot: fc.boolean() }).map(encode(StopRequest));
    case "ListWorkers":
      return fc.constant({}).map(encode(ListWorkersRequest));
    case "GetProcess":
      return fc.record({ processId: id }).map(encode(GetProcessRequest));
    case "ReadSchedule":
      return fc.record({ processId: id, fromSlot: slot, toSlot: option(slot) }).map(encode(ReadScheduleRequest));
    case "DryRun":
      return fc.record({ processId: id, message: option(slotMessage(ctx)) }).map(encode(DryRunRequest));
    case "Health.Check":
    case "Health.Watch": {
      const service = fc.oneof(
        fc.constantFrom("", "procworker.v1.ProcessWorkerService", "grpc.health.v1.Health"),
        oddText,
        hugeText(ctx),
      );
      return fc.record({ service }).map(encode(HealthCheckRequest));
    }
    case "Health.List":
      return fc.constant({}).map(encode(HealthListRequest));
    case "Reflection.v1":
    case "Reflection.v1alpha":
      return reflectionRequest(ctx).map(encode(ServerReflectionRequest));
    default:
      throw new Error(`no typed requests for ${m.name}`);
  }
}

function reflectionRequest(ctx: FuzzContext): fc.Arbitrary<ServerReflectionRequest> {
  const name = fc.oneof(
    fc.constantFrom(
      "procworker.v1.ProcessWorkerService",
      "procworker/v1/types.proto",
      "procworker.v1.Message",
      ".procworker.v1.Message",
      "google.protobuf.Timestamp",
      "grpc.health.v1.Health",
    ),
    fc.string({ maxLength: 30 }),
    oddText,
    hugeText(ctx),
  );
  const messageRequest = fc.oneof(
    fc.constant(undefined),
    name.map((value) => ({ $case: "listServices" as const, value })),
    name.map((value) => ({ $case: "fileByFilename" as const, value })),
    name.map((value) => ({ $case: "fileContainingSymbol" as const, value })),
    name.map((value) => ({ $case: "allExtensionNumbersOfType" as const, value })),
    fc
      .record({ containingType: name, extensionNumber: fc.integer() })
      .map((value) => ({ $case: "fileContainingExtension" as const, value })),
  );
  return fc.record({ host: fc.oneof(fc.constant(""), oddText), messageRequest });
}

/** Edits to a byte string: bits flipped, bytes inserted, a cut. */
interface Mutations {
  flips: number[];
  inserts: [number, number][];
  cut: number | undefined;
}

const mutations: fc.Arbitrary<Mutations> = fc.record({
  flips: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
  inserts: fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 3 }),
  cut: option(fc.nat()),
});

/** `bytes` with `ops` applied (positions taken modulo the length). */
export function mutate(bytes: Uint8Array, ops: Mutations): Uint8Array {
  const out = Array.from(bytes);
  for (const [at, byte] of ops.inserts) out.splice(at % (out.length + 1), 0, byte);
  if (out.length > 0) {
    for (const bit of ops.flips) {
      const i = Math.floor(bit / 8) % out.length;
      out[i] = (out[i] as number) ^ (1 << (bit % 8));
    }
  }
  const cut = ops.cut === undefined || out.length === 0 ? out.length : ops.cut % (out.length + 1);
  return Uint8Array.from(out.slice(0, cut));
}

/** Random protobuf fields: valid framing (mostly) around random content. */
const randomFields: fc.Arbitrary<Uint8Array> = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 7 }), fc.uint8Array({ maxLength: 24 })), {
    maxLength: 6,
  })
  .map((fields) => {
    const out: number[] = [];
    for (const [field, wireType, payload] of fields) {
      varint(out, (field << 3) | wireType);
      if (wireType === 2) varint(out, payload.length);
      out.push(...(wireType === 0 ? payload.slice(0, 10) : payload));
    }
    return Uint8Array.from(out);
  });

function varint(out: number[], n: number): void {
  let v = n >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
}

function rawBytes(ctx: FuzzContext): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { arbitrary: fc.uint8Array({ maxLength: 32 }), weight: 6 },
    { arbitrary: fc.uint8Array({ maxLength: 2048 }), weight: 2 },
    { arbitrary: randomFields, weight: 6 },
    { arbitrary: fc.constant(null).map(() => new Uint8Array(ctx.maxMessageBytes + 1).fill(0x0a)), weight: 1 },
  );
}

function deadline(m: FuzzMethod, ctx: FuzzContext): fc.Arbitrary<number> {
  return m.waits ? fc.integer({ min: 50, max: 300 }) : fc.constant(ctx.noWaitDeadlineMs);
}

function cancelAfter(m: FuzzMethod): fc.Arbitrary<number | undefined> {
  if (m.shape !== "server-stream") return fc.constant(undefined);
  return fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: fc.nat(3), weight: 1 });
}

/** An input for `m` of the given kind. */
export function inputFor(m: FuzzMethod, kind: InputKind, ctx: FuzzContext): fc.Arbitrary<FuzzInput> {
  const request: fc.Arbitrary<{ bytes: Uint8Array; label: string }> =
    kind === "typed"
      ? typedRequest(m, ctx)
      : kind === "raw"
        ? rawBytes(ctx).map((bytes) => ({ bytes, label: hex(bytes) }))
        : fc
            .tuple(typedRequest(m, ctx), mutations)
            .map(([typed, ops]) => mutate(typed.bytes, ops))
            .map((bytes) => ({ bytes, label: hex(bytes) }));
  return fc
    .record({ request, deadlineMs: deadline(m, ctx), cancelAfter: cancelAfter(m) })
    .map(({ request, deadlineMs, cancelAfter }) => ({ method: m, kind, ...request, deadlineMs, cancelAfter }));
}

/** Any input: every method alike; half typed, a quarter each raw and mutated. */
export function fuzzInput(ctx: FuzzContext): fc.Arbitrary<FuzzInput> {
  return fc
    .tuple(fc.constantFrom(...FUZZ_METHODS), fc.constantFrom<InputKind>("typed", "typed", "raw", "mutated"))
    .chain(([m, kind]) => inputFor(m, kind, ctx));
}

/** `count` inputs from `seed`, generated a thousand at a time (memory stays flat). */
export function* generateInputs(ctx: FuzzContext, count: number, seed: number): Generator<FuzzInput> {
  const arb = fuzzInput(ctx);
  const CHUNK = 1000;
  for (let start = 0; start < count; start += CHUNK) {
    yield* fc.sample(arb, { numRuns: Math.min(CHUNK, count - start), seed: seed + start });
  }
}

const LABEL_CHARS = 160;

/** A short JSON description of a request (bigints as strings, long values cut). */
function describe(request: unknown): string {
  const text = JSON.stringify(request, (_key, value: unknown) => {
    if (typeof value === "bigint") return value.toString();
    if (value instanceof Map) return Object.fromEntries(value);
    if (value instanceof Uint8Array) return `<${value.length} bytes>`;
    if (typeof value === "string" && value.length > 40) return `${value.slice(0, 40)}…(${value.length})`;
    return value;
  });
  return text.length > LABEL_CHARS ? `${text.slice(0, LABEL_CHARS)}…` : text;
}

function hex(bytes: Uint8Array): string {
  const shown = Buffer.from(bytes.subarray(0, LABEL_CHARS / 2)).toString("hex");
  return bytes.length > LABEL_CHARS / 2 ? `${shown}…(${bytes.length} bytes)` : shown;
}
