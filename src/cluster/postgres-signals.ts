/**
 * Signals between nodes on PostgreSQL's LISTEN/NOTIFY. A node announces "scheduled" (wakes
 * the owner) and "computed" (process id and last slot) on one channel; every node listens on
 * a session of its own. Payloads are ids and slots, never results. Signals made in one turn
 * of the event loop are coalesced (the highest slot per process and kind) and sent in one
 * statement, so a catch-up's many batches cost one NOTIFY per turn, not one per batch.
 * A node ignores its own signals. When the listening session is lost and comes back,
 * signals may have been missed: the listener resyncs from the store.
 */
import { randomUUID } from "node:crypto";
import type { SignalListener, Signals } from "../core/cluster.js";
import type { Logger } from "../core/log.js";
import { Session } from "./session.js";

/** The channel every node listens on. */
export const SIGNAL_CHANNEL = "procworker_signals";

/** NOTIFY payloads must stay under 8000 bytes. */
const MAX_PAYLOAD = 7_000;

type Kind = "s" | "c";

/** One payload: the sending node and its signals, each [kind, process id, slot]. */
interface Payload {
  n: string;
  e: [Kind, string, string][];
}

export interface PostgresSignalsOptions {
  url: string;
  nodeAddress: string;
  logger: Logger;
  heartbeatMs?: number;
}

export class PostgresSignals implements Signals {
  /** This node's id in payloads: new every start, so a restarted node is a new sender. */
  readonly node = randomUUID();
  private readonly session: Session;
  private listener: SignalListener | undefined;
  private pending = new Map<string, [Kind, string, bigint]>();
  private flushing = false;
  private everConnected = false;

  constructor(private readonly opts: PostgresSignalsOptions) {
    this.session = new Session({
      url: opts.url,
      applicationName: `procworker signals ${opts.nodeAddress}`,
      logger: opts.logger,
      ...(opts.heartbeatMs !== undefined ? { heartbeatMs: opts.heartbeatMs } : {}),
      onConnect: async (client) => {
        client.on("notification", (message) => {
          if (message.channel === SIGNAL_CHANNEL && message.payload !== undefined) this.receive(message.payload);
        });
        await client.query(`LISTEN ${SIGNAL_CHANNEL}`);
        // Back after a loss: what was signalled meanwhile is only in the store.
        if (this.everConnected) this.listener?.resync();
        this.everConnected = true;
      },
      onLost: () => undefined,
    });
  }

  /** Opens the listening session; signals go to `listener`. */
  start(listener: SignalListener): Promise<void> {
    this.listener = listener;
    return this.session.start();
  }

  scheduled(processId: string, latest: bigint): void {
    this.queue("s", processId, latest);
  }

  computed(processId: string, _from: bigint, to: bigint): void {
    this.queue("c", processId, to);
  }

  close(): Promise<void> {
    this.listener = undefined;
    return this.session.close();
  }

  private queue(kind: Kind, processId: string, slot: bigint): void {
    const key = kind + processId;
    const queued = this.pending.get(key);
    if (queued === undefined || slot > queued[2]) this.pending.set(key, [kind, processId, slot]);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => void this.flush());
    }
  }

  /** Sends what was queued, in payloads under the NOTIFY limit, in one statement. A failure
   * is logged and dropped: receivers read results from the store, and resync when their
   * own session comes back. */
  private async flush(): Promise<void> {
    const events = [...this.pending.values()];
    this.pending = new Map();
    this.flushing = false;
    const payloads: string[] = [];
    let current: Payload = { n: this.node, e: [] };
    let size = 64;
    for (const [kind, processId, slot] of events) {
      const entry: [Kind, string, string] = [kind, processId, slot.toString()];
      const entrySize = processId.length + entry[2].length + 16;
      if (size + entrySize > MAX_PAYLOAD && current.e.length > 0) {
        payloads.push(JSON.stringify(current));
        current = { n: this.node, e: [] };
        size = 64;
      }
      current.e.push(entry);
      size += entrySize;
    }
    if (current.e.length > 0) payloads.push(JSON.stringify(current));
    if (payloads.length === 0 || !this.session.up) return;
    try {
      await this.session.query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", [SIGNAL_CHANNEL, payloads]);
    } catch (error) {
      this.opts.logger.warn({ event: "notify_failed", err: error }, "sending signals failed");
    }
  }

  private receive(text: string): void {
    let payload: Payload;
    try {
      payload = JSON.parse(text) as Payload;
    } catch {
      return; // not ours
    }
    if (payload.n === this.node || !Array.isArray(payload.e)) return;
    const listener = this.listener;
    if (listener === undefined) return;
    for (const entry of payload.e) {
      if (!Array.isArray(entry) || entry.length !== 3) continue;
      const [kind, processId, slotText] = entry;
      if (typeof processId !== "string" || typeof slotText !== "string" || !/^[0-9]{1,20}$/.test(slotText)) continue;
      const slot = BigInt(slotText);
      if (kind === "s") listener.scheduledElsewhere(processId, slot);
      else if (kind === "c") listener.computedElsewhere(processId, slot);
    }
  }
}
