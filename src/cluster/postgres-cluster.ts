/**
 * A node's membership of a cluster on PostgreSQL: its ownership (advisory locks on a lock
 * session) and its signals (LISTEN/NOTIFY on a listening session), wired to its engine. No
 * membership list, no leader, no consensus of our own: PostgreSQL decides who owns what.
 * docs/cluster.md has the design.
 */
import type { Ownership, SignalListener, Signals } from "../core/cluster.js";
import type { Logger } from "../core/log.js";
import { PostgresOwnership } from "./postgres-ownership.js";
import { PostgresSignals } from "./postgres-signals.js";

export interface PostgresClusterOptions {
  url: string;
  logger: Logger;
  /** How often each session is checked (a partition is noticed within this). */
  heartbeatMs?: number;
}

/** What an engine needs of the cluster, and what it gives back. */
export interface EngineLink extends SignalListener {
  /** This node lost its locks: stop every worker at once. */
  disownAll(): Promise<void>;
}

export interface PostgresCluster {
  ownership: Ownership;
  signals: Signals;
  /** Connects both sessions, naming this node `nodeAddress`, and starts delivering to `engine`. */
  start(nodeAddress: string, engine: EngineLink): Promise<void>;
  close(): Promise<void>;
}

/** The cluster side of one node. Its ownership says no and its signals go nowhere until
 * `start` (after the server has bound its port, so the node's address is known). */
export function postgresCluster(opts: PostgresClusterOptions): PostgresCluster {
  let ownership: PostgresOwnership | undefined;
  let signals: PostgresSignals | undefined;
  const heartbeat = opts.heartbeatMs !== undefined ? { heartbeatMs: opts.heartbeatMs } : {};
  return {
    ownership: {
      acquire: (processId) => ownership?.acquire(processId) ?? Promise.resolve(false),
      release: (processId) => ownership?.release(processId) ?? Promise.resolve(),
      ownerOf: (processId) => ownership?.ownerOf(processId) ?? Promise.resolve(undefined),
    },
    signals: {
      scheduled: (processId, latest) => signals?.scheduled(processId, latest),
      computed: (processId, from, to) => signals?.computed(processId, from, to),
    },
    async start(nodeAddress, engine) {
      ownership = new PostgresOwnership({
        url: opts.url,
        nodeAddress,
        logger: opts.logger,
        ...heartbeat,
        onLost: () => {
          opts.logger.warn({ event: "ownership_lost" }, "lock session lost: stopping every worker of this node");
          void engine.disownAll();
        },
      });
      signals = new PostgresSignals({ url: opts.url, nodeAddress, logger: opts.logger, ...heartbeat });
      await Promise.all([ownership.start(), signals.start(engine)]);
    },
    async close() {
      await Promise.all([ownership?.close(), signals?.close()]);
    },
  };
}
