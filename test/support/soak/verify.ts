/**
 * Checking one process against what the soak knows, on a freshly restarted server: its log
 * from the first unverified slot (no gaps; every acknowledged message at its slot; nothing
 * that was never sent), and its results there (each equal to the model's, and byte for byte
 * to any result a client saw before the kill). Then everything up to the latest slot counts
 * as verified. `fullCheck` re-reads the whole log and every result at the end.
 */
import { isDeepStrictEqual } from "node:util";
import { readAll, type ProcworkerClient } from "../../../src/service/client.js";
import { take } from "../wire.js";
import { mismatch, type Expected } from "./model.js";
import type { TrackedProcess } from "./tracked-process.js";

/** What one verification found. */
export interface Verified {
  /** Slots newly verified. */
  slots: number;
  /** Results seen before the kill and compared with the server's. */
  seenCompared: number;
  /** Messages whose Schedule never answered (cut by the kill) that are in the log / are not. */
  unansweredKept: number;
  unansweredLost: number;
  problems: string[];
}

const CALL = { timeoutMs: 60_000 };

/** Verifies `p` from its first unverified slot to the latest, and moves `verified` there. */
export async function verifyProcess(client: ProcworkerClient, p: TrackedProcess): Promise<Verified> {
  const problems = [...p.problems.splice(0)];
  const from = p.verified + 1n;
  const entries = (await readAll(client.readSchedule({ processId: p.id, fromSlot: from }, CALL))).map((r) => r.entry!);
  const last = from + BigInt(entries.length) - 1n;
  const model = p.model.clone();
  const expected: Expected[] = [];
  let unansweredKept = 0;
  const acknowledgedIds = new Set(p.acked.values());
  for (const [i, entry] of entries.entries()) {
    const slot = from + BigInt(i);
    if (entry.slot !== slot) problems.push(`${p.id}: log entry ${i} from ${from} is slot ${entry.slot} (a gap)`);
    const acked = p.acked.get(slot);
    if (acked !== undefined && acked !== entry.messageId) {
      problems.push(`${p.id}: slot ${slot} holds ${entry.messageId}, acknowledged ${acked}`);
    }
    if (slot === 0n) {
      if (entry.messageId !== p.id) problems.push(`${p.id}: slot 0 holds ${entry.messageId}`);
      expected.push(model.init());
      continue;
    }
    const tags = p.sent.get(entry.messageId);
    if (tags === undefined) {
      problems.push(`${p.id}: slot ${slot} holds ${entry.messageId}, which was never sent`);
      continue;
    }
    if (!acknowledgedIds.has(entry.messageId)) unansweredKept++;
    p.sent.delete(entry.messageId);
    expected.push(model.step(tags));
  }
  for (const slot of p.acked.keys()) {
    if (slot > last) problems.push(`${p.id}: acknowledged slot ${slot} is missing (the log ends at ${last})`);
  }
  const unansweredLost = [...p.sent.keys()].filter((id) => !acknowledgedIds.has(id)).length;

  // The results of the new slots: stored before the kill, or computed now from a snapshot.
  let seenCompared = 0;
  if (entries.length > 0) {
    const results = (await take(client.subscribe({ processId: p.id, fromSlot: from }, CALL), entries.length)).map(
      (r) => r.result,
    );
    results.forEach((result, i) => {
      const slot = from + BigInt(i);
      const wrong = mismatch(result, slot, expected[i]!);
      if (wrong !== undefined) problems.push(`${p.id}: ${wrong}`);
      const seen = p.seen.get(slot);
      if (seen !== undefined) {
        seenCompared++;
        if (!isDeepStrictEqual(seen, result)) problems.push(`${p.id}: slot ${slot} seen before the kill differs`);
      }
    });
  }
  for (const [slot, result] of p.seen) {
    if (slot > last) problems.push(`${p.id}: a result was seen for slot ${slot}, past the log's end ${last}`);
    else if (slot < from) {
      seenCompared++;
      const wrong = mismatch(result, slot, p.expected[Number(slot)]!);
      if (wrong !== undefined) problems.push(`${p.id}: (seen) ${wrong}`);
    }
  }

  p.messageIds.push(...entries.map((e) => e.messageId));
  p.expected.push(...expected);
  p.model = model;
  p.verified = last;
  p.sent.clear();
  p.acked.clear();
  p.seen.clear();
  return { slots: entries.length, seenCompared, unansweredKept, unansweredLost, problems };
}

/** Re-reads `p`'s whole log and every result, and compares them with everything verified. */
export async function fullCheck(client: ProcworkerClient, p: TrackedProcess): Promise<string[]> {
  const problems: string[] = [];
  const entries = await readAll(client.readSchedule({ processId: p.id, fromSlot: 0n }, CALL));
  const ids = entries.map((e) => e.entry?.messageId);
  if (!isDeepStrictEqual(ids, p.messageIds)) {
    problems.push(`${p.id}: the log (${ids.length} slots) differs from the verified one (${p.messageIds.length})`);
  }
  const results = await take(client.subscribe({ processId: p.id, fromSlot: 0n }, CALL), p.expected.length);
  results.forEach((r, i) => {
    const wrong = mismatch(r.result, BigInt(i), p.expected[i]!);
    if (wrong !== undefined) problems.push(`${p.id}: (full check) ${wrong}`);
  });
  return problems;
}
