/**
 * The server's listening sockets and its connections. grpc-js's `bindAsync` would accept
 * connections itself, with no way to act on one of them; here each accepted connection gets a
 * grpc-js connection injector of its own, so one connection can be drained — GOAWAY(NO_ERROR):
 * its calls in progress finish, the client opens a new connection for new calls — without
 * touching the others.
 *
 * That is what keeps a client that cancels (or lets deadlines expire) quickly from losing its
 * whole connection to Node's rapid-reset limit (see reset-budget.ts): every call that ends by
 * cancellation or deadline spends one reset of its connection's modelled budget, and once what
 * is left no longer covers the calls still open on it plus RESERVE, the connection is drained
 * and counted (procworker_connections_drained_total). The server cannot see the reset frames:
 * the drain counts every call that may have cost one (an upper bound); a connection whose
 * certain resets alone (calls the client ended before any answer) pass the limit is logged
 * and counted as a reset flood (procworker_reset_floods_total): Node has ended it.
 */
import { lookup } from "node:dns/promises";
import { createServer, type Server as NetServer, type Socket } from "node:net";
import {
  ServerInterceptingCall,
  status,
  type ConnectionInjector,
  type Server,
  type ServerCredentials,
  type ServerInterceptor,
} from "@grpc/grpc-js";
import type { Logger } from "../core/log.js";
import { capDelay, MAX_TIMER_MS } from "../core/timers.js";
import type { Metrics } from "./metrics.js";
import { ResetBudget } from "./reset-budget.js";

/** Resets kept in hand beyond the calls open on a connection: drained below this. */
export const RESERVE = 100;

/** How a call ended, as far as resets go: with no reset; maybe with one (our DEADLINE_EXCEEDED
 * may cross the client's own timer); surely with one (the client ended it before any answer). */
type Ending = "none" | "possible" | "certain";

interface Connection {
  socket: Socket;
  injector: ConnectionInjector;
  /** Spent by every possible reset: an upper bound, which decides when to drain. */
  budget: ResetBudget;
  /** Spent by certain resets only: a lower bound, which decides what to report. */
  certain: ResetBudget;
  openCalls: number;
  draining: boolean;
  flooded: boolean;
}

export interface Connections {
  /** Counts each call's start and end per connection; give it to the grpc-js Server as its
   * first interceptor, so it sees every status (those of later interceptors too). */
  readonly interceptor: ServerInterceptor;
  /** Open connections. */
  readonly size: number;
  /** Listens on every address `host` resolves to (one port for all), handing each connection
   * to `server` through an injector of its own; resolves with the bound port. */
  listen(server: Server, credentials: ServerCredentials, host: string, port: number): Promise<number>;
  /** Stops accepting connections (the ones open stay: the grpc-js server's shutdown closes
   * them gracefully). */
  stopAccepting(): void;
  /** Stops accepting, destroys any connection still open (call it once the grpc-js server has
   * shut down) and resolves once the listeners have closed. */
  close(): Promise<void>;
}

/** The key of a connection, as grpc-js's `call.getPeer()` writes it. */
const peerOf = (address: string | undefined, port: number | undefined): string => `${address}:${port}`;

/** Connection tracking for one server (see the header). */
export function createConnections(opts: { logger: Logger; metrics: Metrics; now?: () => number }): Connections {
  const { logger, metrics } = opts;
  const now = opts.now ?? Date.now;
  const open = new Map<string, Connection>();
  const listeners: NetServer[] = [];
  let accepting = true;
  let closed: Promise<void> | undefined;

  const accept = (server: Server, credentials: ServerCredentials, socket: Socket): void => {
    if (!accepting) {
      socket.destroy();
      return;
    }
    const key = peerOf(socket.remoteAddress, socket.remotePort);
    const injector = server.createConnectionInjector(credentials);
    const connection: Connection = {
      socket,
      injector,
      budget: new ResetBudget(now()),
      certain: new ResetBudget(now()),
      openCalls: 0,
      draining: false,
      flooded: false,
    };
    open.set(key, connection);
    metrics.connectionOpened();
    socket.once("close", () => {
      if (open.get(key) === connection) open.delete(key);
      metrics.connectionClosed();
      injector.destroy();
    });
    injector.injectConnection(socket);
  };

  const ended = (peer: string, ending: Ending): void => {
    const connection = open.get(peer);
    if (connection === undefined) return;
    connection.openCalls--;
    // Calls cut by the connection's own end cost no reset.
    if (ending === "none" || connection.socket.destroyed) return;
    const left = connection.budget.spend(now());
    if (ending === "certain" && connection.certain.spend(now()) < 0 && !connection.flooded) {
      connection.flooded = true;
      metrics.resetFlood();
      logger.error(
        { event: "reset_flood", peer, openCalls: connection.openCalls },
        "a client reset more streams than Node's HTTP/2 limit allows (1000, then 33 a second): Node ends the connection with GOAWAY(INTERNAL_ERROR)",
      );
    }
    if (!connection.draining && left < connection.openCalls + RESERVE) {
      connection.draining = true;
      metrics.connectionDrained();
      logger.warn(
        { event: "connection_drained", peer, resetsLeft: Math.floor(left), openCalls: connection.openCalls },
        "draining a connection near Node's HTTP/2 reset limit: its calls finish, new calls come on a new connection",
      );
      // GOAWAY(NO_ERROR) now; the calls still open may take as long as they need.
      connection.injector.drain(capDelay(MAX_TIMER_MS));
    }
  };

  const stopAccepting = (): void => {
    if (!accepting) return;
    accepting = false;
    closed = Promise.all(listeners.map((l) => new Promise<unknown>((resolve) => l.close(resolve)))).then(
      () => undefined,
    );
  };

  const interceptor: ServerInterceptor = (_method, call) => {
    const peer = call.getPeer();
    const connection = open.get(peer);
    let done = connection === undefined; // not one of ours (cannot happen): nothing to count
    if (connection !== undefined) connection.openCalls++;
    const end = (ending: Ending): void => {
      if (done) return;
      done = true;
      ended(peer, ending);
    };
    const deadline = call.getDeadline();
    const due = deadline instanceof Date ? deadline.getTime() : deadline;
    return new ServerInterceptingCall(call, {
      // Ended with no answer of ours: before its deadline, the client reset it; after it,
      // grpc-js's own deadline timer may have answered first (it bypasses interceptors).
      start: (next) => next({ onCancel: () => end(now() < due ? "certain" : "possible") }),
      sendStatus: (sent, next) => {
        end(sent.code === status.DEADLINE_EXCEEDED || sent.code === status.CANCELLED ? "possible" : "none");
        next(sent);
      },
    });
  };

  return {
    interceptor,
    get size() {
      return open.size;
    },
    async listen(server, credentials, host, port) {
      const addresses = await lookup(host, { all: true });
      let bound = port;
      let failure: Error | undefined;
      for (const { address } of addresses) {
        const listener = createServer((socket) => accept(server, credentials, socket));
        try {
          await new Promise<void>((resolve, reject) => {
            listener.once("error", reject);
            listener.listen({ host: address, port: bound }, () => {
              listener.removeListener("error", reject);
              resolve();
            });
          });
        } catch (error) {
          // As grpc-js does: an address that cannot be bound (no IPv6, say) is skipped.
          failure ??= error instanceof Error ? error : new Error(String(error));
          logger.warn({ event: "listen_failed", address, err: error }, "cannot listen on one address of the host");
          continue;
        }
        listeners.push(listener);
        const at = listener.address();
        if (bound === 0 && typeof at === "object" && at !== null) bound = at.port;
      }
      if (listeners.length === 0) throw failure ?? new Error(`host ${host} resolves to no address`);
      return bound;
    },
    stopAccepting,
    close() {
      stopAccepting();
      for (const connection of open.values()) connection.socket.destroy();
      return closed ?? Promise.resolve();
    },
  };
}
