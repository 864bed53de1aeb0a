/**
 * Ownership on PostgreSQL: a node computes a process only while it holds the process's
 * session-level advisory lock (`pg_try_advisory_lock`) on a session of its own. The lock is
 * given back when the worker ends and, by PostgreSQL, when the session dies: that is the
 * failover. When the session is lost, `onLost` tells the engine to stop its workers at once
 * (it owns nothing any more); until the session is back, acquire() says no.
 */
import type { Ownership } from "../core/cluster.js";
import type { Logger } from "../core/log.js";
import { lockKeyOf } from "./lock-key.js";
import { Session } from "./session.js";

export interface PostgresOwnershipOptions {
  url: string;
  /** This node's address: the session's application_name, which ownerOf reports. */
  nodeAddress: string;
  logger: Logger;
  /** The session was lost: every lock this node held is gone. */
  onLost: () => void;
  /** The session is (back) up: locks can be taken. */
  onUp?: () => void;
  heartbeatMs?: number;
}

/** What pg_stat_activity shows for a node's lock session: a fixed prefix, then the address. */
export const LOCK_SESSION_PREFIX = "procworker lock ";

export class PostgresOwnership implements Ownership {
  private readonly session: Session;
  /** Processes this node holds, with how many times (PostgreSQL's advisory locks count too:
   * a worker that starts while its predecessor is still releasing holds it a second time). */
  private readonly held = new Map<string, number>();

  constructor(private readonly opts: PostgresOwnershipOptions) {
    this.session = new Session({
      url: opts.url,
      applicationName: LOCK_SESSION_PREFIX + opts.nodeAddress,
      logger: opts.logger,
      ...(opts.heartbeatMs !== undefined ? { heartbeatMs: opts.heartbeatMs } : {}),
      onConnect: async () => undefined,
      onUp: () => {
        opts.logger.info({ event: "lock_session_up" }, "lock session connected");
        opts.onUp?.();
      },
      onLost: () => {
        this.held.clear();
        opts.onLost();
      },
    });
  }

  /** Opens the lock session. */
  start(): Promise<void> {
    return this.session.start();
  }

  async acquire(processId: string): Promise<boolean> {
    if (!this.session.up) return false;
    try {
      const [row] = await this.session.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1::bigint) AS locked", [
        lockKeyOf(processId).key,
      ]);
      if (row?.locked !== true) return false;
      this.held.set(processId, (this.held.get(processId) ?? 0) + 1);
      return true;
    } catch (error) {
      this.opts.logger.warn({ event: "lock_failed", processId, err: error }, "taking a process lock failed");
      return false;
    }
  }

  async release(processId: string): Promise<void> {
    const count = this.held.get(processId);
    if (count === undefined) return;
    if (count > 1) this.held.set(processId, count - 1);
    else this.held.delete(processId);
    if (!this.session.up) return;
    await this.session
      .query("SELECT pg_advisory_unlock($1::bigint)", [lockKeyOf(processId).key])
      .catch((error: unknown) => {
        // The session is gone, and the lock with it.
        this.opts.logger.warn({ event: "unlock_failed", processId, err: error }, "giving a process lock back failed");
      });
  }

  async ownerOf(processId: string): Promise<string | undefined> {
    if (this.held.has(processId)) return this.opts.nodeAddress;
    if (!this.session.up) return undefined;
    const { classid, objid } = lockKeyOf(processId);
    try {
      const [row] = await this.session.query<{ name: string }>(
        `SELECT a.application_name AS name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 1
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [classid, objid],
      );
      return row?.name.startsWith(LOCK_SESSION_PREFIX) ? row.name.slice(LOCK_SESSION_PREFIX.length) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Closes the session (every lock still held goes with it). */
  close(): Promise<void> {
    this.held.clear();
    return this.session.close();
  }
}
