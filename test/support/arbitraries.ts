/**
 * fast-check arbitraries shared by the property tests of the encodings (the store's codec,
 * the wire's pre-encoded results): each test picks its own text, slot and message
 * arbitraries (what its encoding must cope with) and builds results from them here.
 */
import fc from "fast-check";
import type { Message } from "../../src/core/message.js";
import type { SlotResult } from "../../src/core/result.js";

/** Slot results of both kinds (an output, or an error of either phase) from the given parts. */
export function slotResults(
  text: fc.Arbitrary<string>,
  slot: fc.Arbitrary<bigint>,
  message: fc.Arbitrary<Message>,
): fc.Arbitrary<SlotResult> {
  return fc.oneof(
    fc.record({ processId: text, slot, messageId: text, output: message }),
    fc.record({
      processId: text,
      slot,
      messageId: text,
      error: fc.record({
        phase: fc.constantFrom("compute" as const, "schedule" as const),
        attemptedSlot: slot,
        message: text,
      }),
    }),
  );
}
