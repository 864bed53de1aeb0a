/**
 * appendSchedule on PostgreSQL, with the appends to one process coalesced per node. Every
 * append transaction holds its process's row lock until its commit is flushed, so appends
 * to one process cost one commit each, one after the other, however many are in flight.
 * Here, while a process has an append transaction in flight, later appends to it from this
 * node wait, and then go together in the next transaction: one row lock, one INSERT, one
 * commit for all of them (as lmdb-js merges concurrent transactions into one commit). Each
 * append still gets consecutive slots, in the order the appends arrived, and resolves only
 * after the commit that holds it.
 *
 * A batch costs one statement when this node knows the process's latest slot (it made the
 * last append): a compare-and-set `UPDATE … WHERE latest_slot = <known>` and the INSERT, in
 * one statement, so one round trip and one commit. If another node appended meanwhile, the
 * compare fails, nothing is written, and the batch takes the locking transaction instead
 * (BEGIN, UPDATE … RETURNING, INSERT, COMMIT), which learns the latest slot again.
 */
import { LRUCache } from "lru-cache";
import type { Pool, PoolClient } from "pg";
import { invalidArgument, ProcworkerError } from "../core/errors.js";
import { messageId, type Message } from "../core/message.js";
import { encodeScheduleEntry } from "./codec.js";
import { unknownProcess } from "./guards.js";
import { MAX_SLOT, checkSlot } from "./keys.js";
import { SCHEMA } from "./postgres-migrations.js";
import { fromDbSlot, toDbSlot } from "./postgres-slots.js";
import { ROWS_PER_STATEMENT, placeholders, statementBatches } from "./postgres-sql.js";
import { inTransaction } from "./postgres-transaction.js";
import type { ScheduleEntry } from "./store.js";

/** At most this many messages, or about this many bytes, go in one transaction. */
const BATCH_MESSAGES = 1000;
const BATCH_BYTES = 16 * 1024 * 1024;

/** Processes whose latest slot a node remembers (for the one-statement path). */
const KNOWN_PROCESSES = 100_000;

/** One appendSchedule call, waiting for its transaction. */
interface Append {
  messages: Message[];
  ids: string[];
  bytes: number;
  timestampMs: number;
  resolve: (entries: ScheduleEntry[]) => void;
  reject: (error: unknown) => void;
}

/** appendSchedule for a pool: `(processId, messages, timestampMs)` → entries. Copies the
 * messages at once (the caller may change them after the call). */
export function createAppender(pool: Pool) {
  /** The appends waiting per process; a process is a key while its transaction is in flight. */
  const waiting = new Map<string, Append[]>();
  /** The latest slot of a process as of this node's last append to it (may be stale). */
  const known = new LRUCache<string, bigint>({ max: KNOWN_PROCESSES });

  /** Runs transactions for `processId` until nothing waits. Never rejects. */
  const drain = async (processId: string, first: Append[]): Promise<void> => {
    for (let batch = first; batch.length > 0; batch = takeBatch(waiting.get(processId)!)) {
      await appendBatch(processId, batch);
    }
    waiting.delete(processId);
  };

  /** Appends a batch in one transaction and settles each of its calls. */
  const appendBatch = async (processId: string, batch: Append[]): Promise<void> => {
    try {
      const entries =
        (await writeIfUnchanged(pool, processId, batch, known.get(processId))) ??
        (await inTransaction(pool, (client) => writeBatch(client, processId, batch)));
      const last = entries.flat().at(-1)?.slot;
      if (last !== undefined) known.set(processId, last);
      batch.forEach((append, i) => append.resolve(entries[i]!));
    } catch (error) {
      // Passing 2^64−1 is about the whole batch: give each append its own verdict.
      if (batch.length > 1 && error instanceof ProcworkerError && error.code === "invalid_argument") {
        for (const append of batch) await appendBatch(processId, [append]);
      } else {
        batch.forEach((append) => append.reject(error));
      }
    }
  };

  return (processId: string, messages: Message[], timestampMs: number): Promise<ScheduleEntry[]> => {
    const copies = messages.map((m): Message => ({ tags: { ...m.tags }, data: m.data.slice() }));
    const ids = copies.map((m) => messageId(m)); // outside the transaction: they do not depend on the slot
    const bytes = copies.reduce((sum, m) => sum + m.data.byteLength, 0);
    return new Promise((resolve, reject) => {
      const append: Append = { messages: copies, ids, bytes, timestampMs, resolve, reject };
      const queue = waiting.get(processId);
      if (queue) return void queue.push(append);
      waiting.set(processId, []);
      void drain(processId, [append]);
    });
  };
}

/** Takes the next batch off `queue`: at least one append, then more while under the caps. */
function takeBatch(queue: Append[]): Append[] {
  let count = 0;
  let bytes = 0;
  let n = 0;
  while (n < queue.length && (n === 0 || (count < BATCH_MESSAGES && bytes < BATCH_BYTES))) {
    count += queue[n]!.messages.length;
    bytes += queue[n]!.bytes;
    n++;
  }
  return queue.splice(0, n);
}

/** The batch's entries, slots from `latest` + 1 on, in order. */
function assignSlots(batch: Append[], latest: bigint): ScheduleEntry[][] {
  let slot = latest;
  return batch.map((append) =>
    append.messages.map((message, i): ScheduleEntry => ({
      slot: ++slot,
      messageId: append.ids[i]!,
      timestampMs: append.timestampMs,
      message,
    })),
  );
}

/** The one-statement path: writes the batch if the process's latest slot is still `latest`;
 * undefined (nothing written) if it is not, or the batch does not fit one statement. */
async function writeIfUnchanged(
  pool: Pool,
  processId: string,
  batch: Append[],
  latest: bigint | undefined,
): Promise<ScheduleEntry[][] | undefined> {
  const n = BigInt(batch.reduce((sum, a) => sum + a.messages.length, 0));
  if (latest === undefined || n === 0n || n > BigInt(ROWS_PER_STATEMENT) || latest > MAX_SLOT - n) return undefined;
  const perAppend = assignSlots(batch, latest);
  const entries = perAppend.flat();
  const rows = entries.map((_, i) => `($${4 + 2 * i}::bigint, $${5 + 2 * i}::bytea)`).join(", ");
  const { rowCount } = await pool.query(
    `WITH taken AS (
       UPDATE ${SCHEMA}.processes SET latest_slot = $2 WHERE process_id = $1 AND latest_slot = $3 RETURNING 1
     )
     INSERT INTO ${SCHEMA}.schedule (process_id, slot, entry)
     SELECT $1, v.slot, v.entry FROM taken, (VALUES ${rows}) AS v(slot, entry)`,
    [
      processId,
      toDbSlot(latest + n),
      toDbSlot(latest),
      ...entries.flatMap((e) => [toDbSlot(e.slot), encodeScheduleEntry(e)]),
    ],
  );
  return rowCount === entries.length ? perAppend : undefined;
}

/** Inside a transaction: takes slots for the whole batch and writes its entries. */
async function writeBatch(client: PoolClient, processId: string, batch: Append[]): Promise<ScheduleEntry[][]> {
  const n = BigInt(batch.reduce((sum, a) => sum + a.messages.length, 0));
  // Takes the process row's lock until commit: appends from every node queue here.
  const { rows } = await client.query<{ latest_slot: string }>(
    `UPDATE ${SCHEMA}.processes SET latest_slot = latest_slot + $2
     WHERE process_id = $1 AND latest_slot <= $3 RETURNING latest_slot`,
    [processId, n.toString(), toDbSlot(MAX_SLOT - n)],
  );
  const latest = rows[0]?.latest_slot;
  if (latest === undefined) return whyNot(client, processId, n);
  const perAppend = assignSlots(batch, fromDbSlot(latest) - n);
  for (const entries of statementBatches(perAppend.flat())) {
    await client.query(
      `INSERT INTO ${SCHEMA}.schedule (process_id, slot, entry) VALUES ${placeholders(entries.length, 2, 1, "$1, ")}`,
      [processId, ...entries.flatMap((e) => [toDbSlot(e.slot), encodeScheduleEntry(e)])],
    );
  }
  return perAppend;
}

/** Why the UPDATE matched no row: the process is unknown (`not_found`), or `n` more slots
 * would pass 2^64−1 (`invalid_argument`, as in every store). */
async function whyNot(client: PoolClient, processId: string, n: bigint): Promise<never> {
  const { rows } = await client.query<{ latest_slot: string }>(
    `SELECT latest_slot FROM ${SCHEMA}.processes WHERE process_id = $1`,
    [processId],
  );
  const latest = rows[0]?.latest_slot;
  if (latest === undefined) throw unknownProcess(processId);
  checkSlot(fromDbSlot(latest) + n);
  throw invalidArgument(`appending ${n} messages to process ${processId} would pass the last slot`);
}
