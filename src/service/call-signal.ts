/**
 * A gRPC call's deadline and cancellation as an AbortSignal, which is how every wait in the
 * engine learns that its caller is gone. The signal's reason says which: a
 * deadline_exceeded or a cancelled ProcworkerError.
 *
 * The deadline fires DEADLINE_LEAD_MS early (at most a tenth of the call's time): a client
 * whose own deadline timer fires before the server's answer arrives resets the stream, and
 * Node's HTTP/2 server ends a connection that resets too many (see reset-budget.ts); an answer
 * already on its way when the client's timer fires costs no reset.
 */
import { cancelled, deadlineExceeded } from "../core/abort.js";
import { capDelay } from "../core/timers.js";

/** How long before a call's deadline its wait ends (DEADLINE_EXCEEDED), at most. */
export const DEADLINE_LEAD_MS = 20;

/** The part of a grpc-js server call this needs (unary and streaming calls both have it). */
export interface CancellableCall {
  on(event: "cancelled", listener: () => void): unknown;
  removeListener(event: "cancelled", listener: () => void): unknown;
  getDeadline(): Date | number;
}

/** The call's signal, whether it has a deadline, and `dispose` to clear the timer and listener. */
export function callSignal(call: CancellableCall): { signal: AbortSignal; hasDeadline: boolean; dispose: () => void } {
  const controller = new AbortController();
  const onCancelled = (): void => controller.abort(cancelled());
  call.on("cancelled", onCancelled);
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  const hasDeadline = Number.isFinite(at);
  let timer: NodeJS.Timeout | undefined;
  if (hasDeadline) {
    const remaining = at - Date.now();
    const lead = Math.min(DEADLINE_LEAD_MS, Math.max(0, remaining) / 10);
    const expire = (): void => controller.abort(deadlineExceeded("the call's deadline is due"));
    timer = setTimeout(expire, capDelay(remaining - lead));
  }
  return {
    signal: controller.signal,
    hasDeadline,
    dispose: () => {
      clearTimeout(timer);
      call.removeListener("cancelled", onCancelled);
    },
  };
}
