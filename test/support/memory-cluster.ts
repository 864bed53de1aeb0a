/**
 * A cluster in memory, for engine tests: several engines on one store, with a shared lock
 * table for ownership and a bus for the signals, standing in for PostgreSQL's advisory locks
 * and LISTEN/NOTIFY. Signals are delivered asynchronously (a microtask later), as NOTIFY is.
 */
import type { Ownership, SignalListener, Signals } from "../../src/core/cluster.js";
import type { Store } from "../../src/store/store.js";

export interface MemoryCluster {
  /** Ownership and signals for the node named `node`, and the listener it delivers to. */
  join(node: string): { ownership: Ownership; signals: Signals; listen: (listener: SignalListener) => void };
  /** The node that holds `processId`'s lock, if any. */
  ownerOf(processId: string): string | undefined;
  /** `node` loses its lock connection: its locks are released and it hears nothing more. */
  cut(node: string): void;
  /** Every node's signals, in order, for assertions. */
  readonly log: string[];
}

export function memoryCluster(): MemoryCluster {
  const locks = new Map<string, string>();
  const counts = new Map<string, number>(); // acquisitions pair with releases, as in PostgreSQL
  const listeners = new Map<string, SignalListener>();
  const cutOff = new Set<string>();
  const log: string[] = [];
  const broadcast = (from: string, deliver: (listener: SignalListener) => void): void => {
    if (cutOff.has(from)) return;
    for (const [node, listener] of listeners) {
      if (node === from || cutOff.has(node)) continue;
      queueMicrotask(() => deliver(listener));
    }
  };
  return {
    log,
    ownerOf: (processId) => locks.get(processId),
    cut(node) {
      cutOff.add(node);
      for (const [processId, owner] of [...locks]) {
        if (owner === node) {
          locks.delete(processId);
          counts.delete(processId);
        }
      }
    },
    join(node) {
      const ownership: Ownership = {
        async acquire(processId) {
          if (cutOff.has(node)) return false;
          const owner = locks.get(processId);
          if (owner !== undefined && owner !== node) return false;
          locks.set(processId, node);
          counts.set(processId, (counts.get(processId) ?? 0) + 1);
          return true;
        },
        async release(processId) {
          if (locks.get(processId) !== node) return;
          const count = (counts.get(processId) ?? 1) - 1;
          if (count > 0) counts.set(processId, count);
          else {
            counts.delete(processId);
            locks.delete(processId);
          }
        },
        async ownerOf(processId) {
          return locks.get(processId);
        },
      };
      const signals: Signals = {
        scheduled(processId, latest) {
          log.push(`${node} scheduled ${latest}`);
          broadcast(node, (l) => l.scheduledElsewhere(processId, latest));
        },
        computed(processId, from, to) {
          log.push(`${node} computed ${from}..${to}`);
          broadcast(node, (l) => l.computedElsewhere(processId, to));
        },
      };
      return { ownership, signals, listen: (listener) => listeners.set(node, listener) };
    },
  };
}

/** A view of a store shared by several engines: closing it does nothing (the test closes
 * the store itself once every engine is closed). */
export function shared(store: Store): Store {
  return { ...store, close: async () => undefined };
}
