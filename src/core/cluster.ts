/**
 * What the engine needs from a cluster, as contracts: who may compute a process
 * (ownership), and the signals nodes send each other (a process was scheduled, a process's
 * slots were computed). On one node the node owns everything and signals go nowhere
 * (`singleNode`); with several nodes on PostgreSQL, src/cluster implements them with
 * advisory locks and LISTEN/NOTIFY (docs/cluster.md).
 */

/** Taking and giving back the right to compute a process. */
export interface Ownership {
  /** Takes ownership of `processId` for this node; false when another node holds it (or the
   * cluster cannot be reached: nobody computes it here then). Acquisitions on one node count:
   * each successful one is paired with one `release`. */
  acquire(processId: string): Promise<boolean>;
  /** Gives one acquisition back (its worker has ended). Never rejects. */
  release(processId: string): Promise<void>;
  /** The address of the node that owns `processId` now, if any node does. */
  ownerOf(processId: string): Promise<string | undefined>;
}

/** Signals this node sends to the others. Payloads are ids and slots, never results: a
 * receiver reads results from the store, so a missed signal costs a store read, never a
 * result. */
export interface Signals {
  /** Slots of `processId` up to `latest` are scheduled (wakes the owner). */
  scheduled(processId: string, latest: bigint): void;
  /** Slots `from`..`to` of `processId` are computed and stored. */
  computed(processId: string, from: bigint, to: bigint): void;
}

/** What a node hears from the others (the engine implements it). */
export interface SignalListener {
  scheduledElsewhere(processId: string, latest: bigint): void;
  computedElsewhere(processId: string, to: bigint): void;
  /** Signals may have been missed (the listening connection was lost and is back): every
   * waiter and stream re-reads the store. */
  resync(): void;
}

/** One node: it owns every process, and there is nobody to signal. */
export const singleNode: { ownership: Ownership; signals: Signals } = {
  ownership: {
    acquire: () => Promise.resolve(true),
    release: () => Promise.resolve(),
    ownerOf: () => Promise.resolve(undefined),
  },
  signals: { scheduled: () => undefined, computed: () => undefined },
};
