/**
 * Slot results (docs/design.md §1): what computing one slot produced. A failed slot is a value,
 * not an exception: it is stored, returned and notified like any other result.
 */
import type { Message } from "./message.js";

/** The largest slot: slots are unsigned 64-bit integers. */
export const MAX_SLOT = 2n ** 64n - 1n;

/** Where a slot failed: `compute` inside the device, `schedule` reading its message. */
export type SlotPhase = "compute" | "schedule";

/** Why a slot failed. `attemptedSlot` is the slot that was being computed. */
export interface SlotError {
  phase: SlotPhase;
  attemptedSlot: bigint;
  message: string;
}

/** The outcome of one slot: exactly one of `output` and `error` is set. */
export interface SlotResult {
  processId: string;
  slot: bigint;
  messageId: string;
  output?: Message;
  error?: SlotError;
}
