/**
 * The Device contract: code that turns (state, message) into (state', output),
 * deterministically, and can export and import its whole state. Devices are asynchronous
 * (the WebAssembly device runs in worker threads) and run a batch of slots per call, so
 * catching up costs one round trip, not one per slot.
 */
import { sha256Id, type Message } from "../core/message.js";

/**
 * A process's module: its id (base64url SHA-256 of the bytes, as the `Module` tag names it)
 * and a way to read the bytes. A device reads them only when it has not prepared that module
 * yet, so the bytes are neither held nor hashed again for every instance.
 */
export interface ModuleSource {
  readonly id: string;
  bytes(): Promise<Uint8Array>;
}

/** A module source over bytes already in hand (Spawn, tests). */
export function moduleFromBytes(bytes: Uint8Array, id = sha256Id(bytes)): ModuleSource {
  return { id, bytes: () => Promise.resolve(bytes) };
}

/** What a device knows of a process: its id, spawn message and (wasm) module. */
export interface ProcessContext {
  processId: string;
  spawn: Message;
  module?: ModuleSource;
}

/** One slot to compute. Slot 0 is initialisation: `message` is the spawn message and
 * `messageId` the process id. */
export interface Step {
  slot: bigint;
  messageId: string;
  message: Message;
}

/** A step whose message is still in its stored canonical encoding (core/message
 * canonicalBytes), as the store hands it: for a device that would only encode it again. */
export interface EncodedStep {
  slot: bigint;
  messageId: string;
  canonical: Uint8Array;
}

/** Steps of one kind: decoded, or encoded as stored. */
export type Steps = Step[] | EncodedStep[];

/** Whether `steps` are encoded ones (a list holds one kind). */
export function isEncoded(steps: Steps): steps is EncodedStep[] {
  return steps.length > 0 && "canonical" in steps[0]!;
}

/** A slot's outcome: an output, or an error (the state is then as before the slot). */
export type StepOutcome = { output: Message } | { error: string };

/** Limits every device honours; each has a documented default in the server config. */
export interface DeviceLimits {
  /** Wall time one slot may take; past it the slot fails. */
  slotTimeLimitMs: number;
}

/** A kind of device, named by the spawn message's `Execution-Device` tag. */
export interface Device {
  readonly name: string;
  /** True when the process needs a `Module` (wasm@1.0). */
  readonly needsModule: boolean;
  /** Checks the spawn parameters (and the module); throws an `invalid_argument`
   * ProcworkerError with a clear message when they are unusable. Stores nothing. */
  validate(ctx: ProcessContext): Promise<void>;
  /** A fresh instance, in the state before slot 0. */
  instantiate(ctx: ProcessContext): Promise<DeviceInstance>;
  /** Optional: readies what instantiating this process will need (a compiled module, a
   * started thread), without instantiating it, so that taking the process over later (from
   * another node) costs less. */
  prepare?(ctx: ProcessContext): Promise<void>;
  /** Releases shared resources (thread pools). Idempotent. */
  close(): Promise<void>;
}

/** A live instance of a device for one process. Only one caller (the process's worker)
 * uses an instance at a time. */
export interface DeviceInstance {
  /** Runs the steps in order and returns one outcome per step. A failing step leaves the
   * state as it was before that step, and the next step goes on from there. Device faults
   * (traps, errors, time limits) are outcomes, never rejections; a rejection means the
   * instance itself is unusable (e.g. its thread died) and must be discarded. */
  run(steps: Step[]): Promise<StepOutcome[]>;
  /** Optional: `run` for steps whose messages are still encoded as stored. A device that
   * would only encode each message again (wasm@1.0 hands its thread bytes) offers it, and the
   * engine then reads the schedule without decoding the messages. Same outcomes as `run` on
   * the decoded steps. */
  runEncoded?(steps: EncodedStep[]): Promise<StepOutcome[]>;
  /** True when `run` computes on another thread, so a long run never holds the event loop:
   * the engine then passes a whole batch to one call (which the instance may pipeline)
   * instead of cutting it into chunks with an event-loop turn between them. */
  readonly computesOffThread?: boolean;
  /** Evaluates one message against the current state and returns its outcome, leaving the
   * state exactly as it was: the next `run` gives what it would have given without the dry
   * run. Faults and time limits are outcomes, as in `run`; a rejection means the instance is
   * unusable, as in `run`. */
  dryRun(step: Step): Promise<StepOutcome>;
  /** The whole state, enough for `importState` on a fresh instance to continue exactly. */
  exportState(): Promise<Uint8Array>;
  /** Replaces the state with an exported one. */
  importState(state: Uint8Array): Promise<void>;
  /** Every byte this instance keeps alive (for the worker memory cap, which is only as good
   * as this number). */
  stateBytes(): number;
  /** Frees the instance. Idempotent. */
  close(): Promise<void>;
}
