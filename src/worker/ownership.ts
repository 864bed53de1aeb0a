/**
 * Who may compute a process. A worker takes its process's ownership before it restores and
 * gives it back when it ends, so at most one worker computes a process wherever the engine
 * runs. On one node the node always owns everything; in a cluster the owner is whoever holds
 * the process's lock in the shared store (docs/cluster.md).
 */

/** Taking and giving back the right to compute a process. */
export interface Ownership {
  /** Takes ownership of `processId` for this node; false when another node holds it. */
  acquire(processId: string): Promise<boolean>;
  /** Gives it back (the worker has ended). Never rejects. */
  release(processId: string): Promise<void>;
}

/** One node: this node owns every process. */
export const soleOwnership: Ownership = {
  acquire: () => Promise.resolve(true),
  release: () => Promise.resolve(),
};
