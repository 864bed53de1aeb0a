/**
 * What the crash soak knows about one process: what it verified (the log and the results up
 * to `verified`, and the model's state there), and what happened since — messages sent,
 * slots acknowledged, results seen — until the next verification settles it against the
 * server's log after a restart.
 */
import { isDeepStrictEqual } from "node:util";
import { EventEmitter } from "node:events";
import { messageId } from "../../../src/core/message.js";
import type { SlotResult } from "../../../src/generated/procworker/v1/types.js";
import type { Expected, ProcessModel } from "./model.js";

/** One process under the soak. */
export class TrackedProcess {
  /** The last slot verified against the log and the model (−1: none yet). */
  verified = -1n;
  /** Message id and expected result of every verified slot, for the final full check. */
  readonly messageIds: string[] = [];
  readonly expected: Expected[] = [];
  /** Messages sent since the last verification (acknowledged or not), by id. */
  readonly sent = new Map<string, Record<string, string>>();
  /** Slots acknowledged since the last verification → message id. */
  readonly acked = new Map<bigint, string>();
  /** Results seen (by Subscribe, Compute, Await) since the last verification, by slot. */
  readonly seen = new Map<bigint, SlotResult>();
  /** The highest slot acknowledged so far. */
  latestAcked = 0n;
  /** Emits "ack" on every acknowledged Schedule. */
  readonly acks = new EventEmitter();
  /** Problems found while the load ran (a result seen twice, differently). */
  readonly problems: string[] = [];

  constructor(
    readonly id: string,
    /** The model at `verified` (before slot 0 while nothing is verified). */
    public model: ProcessModel,
  ) {
    this.acks.setMaxListeners(0);
  }

  /** Registers messages about to be sent; returns their ids. */
  sending(messages: Record<string, string>[]): string[] {
    return messages.map((tags) => {
      const id = messageId({ tags, data: new Uint8Array() });
      this.sent.set(id, tags);
      return id;
    });
  }

  /** Records an acknowledged Schedule's assignments; returns a problem if an id differs. */
  acknowledged(assignments: { slot: bigint; messageId: string }[], ids: string[]): void {
    assignments.forEach(({ slot, messageId: id }, i) => {
      if (id !== ids[i]) this.problems.push(`${this.id}: slot ${slot} acknowledged as ${id}, sent ${ids[i]}`);
      this.acked.set(slot, id);
      if (slot > this.latestAcked) this.latestAcked = slot;
    });
    this.acks.emit("ack");
  }

  /** Records a result seen; true if it is the first for its slot. */
  saw(result: SlotResult | undefined): boolean {
    if (result === undefined) return false;
    const before = this.seen.get(result.slot);
    if (before === undefined) {
      this.seen.set(result.slot, result);
      return true;
    }
    if (!isDeepStrictEqual(before, result)) {
      this.problems.push(`${this.id}: two different results seen for slot ${result.slot}`);
    }
    return false;
  }
}
