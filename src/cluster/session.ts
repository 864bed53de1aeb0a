/**
 * A long-lived PostgreSQL session of its own (not from a pool), kept alive: it reconnects
 * after it is lost, with a delay that doubles from 250 ms to 5 s, and a heartbeat finds a
 * connection that died without a word (a partition) within `heartbeatMs`. Ownership's
 * advisory locks and LISTEN each need such a session, because both belong to a session:
 * a lock dies with it, and notifications arrive only on it.
 */
import pg from "pg";
import type { Logger } from "../core/log.js";
import { capDelay } from "../core/timers.js";

export interface SessionOptions {
  url: string;
  /** Shown in pg_stat_activity (ownerOf reads it back: it is the node's address). */
  applicationName: string;
  logger: Logger;
  /** How often the session is checked with a trivial query; a check that takes longer
   * than this counts as a lost connection. */
  heartbeatMs?: number;
  /** Called on every new connection (after a loss too), before it is used. */
  onConnect: (client: pg.Client) => Promise<void>;
  /** Called once per loss, at once: whatever belonged to the session is gone. */
  onLost: () => void;
  /** Called when the session is (back) up and usable. */
  onUp?: () => void;
}

const RECONNECT_MS = { first: 250, max: 5_000 };

export class Session {
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay = RECONNECT_MS.first;
  private closed = false;
  /** Queries run one after the other on the one connection (node-postgres would queue them
   * too, but it is deprecated to rely on that). */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: SessionOptions) {}

  /** True while connected. */
  get up(): boolean {
    return this.client !== undefined;
  }

  /** Connects (resolves once connected or once the first attempt failed; it then keeps
   * trying in the background). */
  start(): Promise<void> {
    return this.connect();
  }

  /** Runs a query on the session; rejects when it is down. */
  query<R extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<R[]> {
    const run = this.tail.then(async () => {
      const client = this.client;
      if (client === undefined) throw new Error("PostgreSQL session is down");
      return (await client.query<R>(sql, values)).rows;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Ends the session for good. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeat);
    await this.connecting?.catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private connect(): Promise<void> {
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async open(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({
      connectionString: this.opts.url,
      application_name: this.opts.applicationName,
      keepAlive: true,
      keepAliveInitialDelayMillis: 5_000,
      connectionTimeoutMillis: 5_000,
    });
    client.on("error", (error) => this.lost(client, error));
    client.on("end", () => this.lost(client, undefined));
    try {
      await client.connect();
      await this.opts.onConnect(client);
    } catch (error) {
      client.removeAllListeners("end");
      await client.end().catch(() => undefined);
      this.opts.logger.warn({ event: "session_connect_failed", err: error }, "PostgreSQL session: cannot connect");
      this.retrySoon();
      return;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.retryDelay = RECONNECT_MS.first;
    const heartbeatMs = this.opts.heartbeatMs ?? 2_000;
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => this.check(client, heartbeatMs), capDelay(heartbeatMs));
    this.heartbeat.unref();
    this.opts.onUp?.();
  }

  /** A trivial query that must answer within `heartbeatMs`, or the connection counts as lost. */
  private check(client: pg.Client, heartbeatMs: number): void {
    let answered = false;
    const timer = setTimeout(() => {
      if (!answered) this.lost(client, new Error(`no answer to the heartbeat within ${heartbeatMs} ms`));
    }, capDelay(heartbeatMs));
    timer.unref();
    this.query("SELECT 1").then(
      () => {
        answered = true;
        clearTimeout(timer);
      },
      (error: unknown) => {
        answered = true;
        clearTimeout(timer);
        this.lost(client, error);
      },
    );
  }

  private lost(client: pg.Client, error: unknown): void {
    if (this.client !== client) return; // an old connection, already replaced or being opened
    this.client = undefined;
    clearInterval(this.heartbeat);
    client.removeAllListeners("end");
    client.end().catch(() => undefined);
    if (this.closed) return;
    this.opts.logger.warn({ event: "session_lost", err: error }, "PostgreSQL session lost");
    this.opts.onLost();
    this.retrySoon();
  }

  private retrySoon(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    const delay = this.retryDelay * (0.5 + Math.random());
    this.retryDelay = Math.min(this.retryDelay * 2, RECONNECT_MS.max);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, capDelay(delay));
    this.retryTimer.unref();
  }
}
