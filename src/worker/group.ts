/**
 * Grouping (HyperBEAM's `group/3`, docs/design.md §2.1): the name that decides which requests are
 * handled together. With process workers on, a request whose path starts with `compute`
 * belongs to its process's worker; every other request — and every request with workers
 * off — gets a default group named by a hash of the request, so identical requests in
 * flight at the same time are computed once.
 */
import { messageId } from "../core/message.js";

/** A worker group (one long-lived worker per process) or a default (per-request) group. */
export type GroupKind = "worker" | "default";

/** A request as grouping sees it: HyperBEAM's (Msg1, Msg2). An empty path means no request
 * part (HyperBEAM's `Msg2 = undefined`). */
export interface GroupRequest {
  processId: string;
  path: string;
  slot?: bigint;
}

export interface Group {
  name: string;
  kind: GroupKind;
}

/** True when the first segment of `path` is `compute` (case-insensitive; leading `/` ignored). */
export function isComputePath(path: string): boolean {
  const head = path.replace(/^\/+/, "").split("/")[0] ?? "";
  return head.toLowerCase() === "compute";
}

/** The group a request maps to: HyperBEAM's `group/3`. */
export function groupOf(request: GroupRequest, processWorkers: boolean): Group {
  if (processWorkers && request.path !== "" && isComputePath(request.path)) {
    return { name: request.processId, kind: "worker" };
  }
  return { name: defaultGroup(request), kind: "default" };
}

/**
 * HyperBEAM's `default_grouper`: `"default:" + base64url(SHA-256(canonical request))`, where
 * the canonical request is the message-id encoding (docs/design.md §1.1) of a message with tags
 * `Process` = process id and, when the request has a part, `Path` = path and (if given)
 * `Slot` = the decimal slot, and empty data.
 */
export function defaultGroup(request: GroupRequest): string {
  const tags: Record<string, string> = { Process: request.processId };
  if (request.path !== "") {
    tags["Path"] = request.path;
    if (request.slot !== undefined) tags["Slot"] = request.slot.toString();
  }
  return `default:${messageId({ tags, data: new Uint8Array() })}`;
}
