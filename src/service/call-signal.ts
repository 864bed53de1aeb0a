/**
 * A gRPC call's deadline and cancellation as an AbortSignal, which is how every wait in the
 * engine learns that its caller is gone. The signal's reason says which: a
 * deadline_exceeded or a cancelled ProcworkerError.
 */
import { cancelled, deadlineExceeded } from "../core/abort.js";
import { capDelay } from "../core/timers.js";

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
  const timer = hasDeadline
    ? setTimeout(() => controller.abort(deadlineExceeded("the call's deadline passed")), capDelay(at - Date.now()))
    : undefined;
  return {
    signal: controller.signal,
    hasDeadline,
    dispose: () => {
      clearTimeout(timer);
      call.removeListener("cancelled", onCancelled);
    },
  };
}
