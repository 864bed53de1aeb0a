/**
 * The argument checks and errors both stores share, so they reject the same inputs with
 * the same codes (the conformance suite asserts it).
 */
import { ProcworkerError, invalidArgument, notFound } from "../core/errors.js";
import type { SnapshotWrite } from "./store.js";

/** The error of every call made after `close()`: the server is going away. */
export function storeClosed(): ProcworkerError {
  return new ProcworkerError("unavailable", "store is closed");
}

/** The error of an append to a process that was never created. */
export function unknownProcess(processId: string): ProcworkerError {
  return notFound(`process ${processId} not found`);
}

/** Throws `invalid_argument` unless `limit` is undefined or a non-negative safe integer. */
export function checkLimit(limit: number | undefined): void {
  if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 0)) {
    throw invalidArgument(`limit must be a non-negative integer, got ${String(limit)}`);
  }
}

/** The snapshot writes of a putResults call as a list (none, one, or several). */
export function snapshotList(
  snapshots: SnapshotWrite | readonly SnapshotWrite[] | undefined,
): readonly SnapshotWrite[] {
  if (snapshots === undefined) return [];
  return isList(snapshots) ? snapshots : [snapshots];
}

function isList(snapshots: SnapshotWrite | readonly SnapshotWrite[]): snapshots is readonly SnapshotWrite[] {
  return Array.isArray(snapshots);
}
