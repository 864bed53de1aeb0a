/**
 * A gRPC call's deadline and cancellation as an AbortSignal, which is how every wait in the
 * engine learns that its caller is gone. The signal's reason says which: a
 * deadline_exceeded or a cancelled ProcworkerError. The signal is made on first use: an
 * AbortSignal costs microseconds, and a call answered at once (an Await of a stored slot)
 * never needs one.
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
  readonly cancelled: boolean;
  on(event: "cancelled", listener: () => void): unknown;
  removeListener(event: "cancelled", listener: () => void): unknown;
  getDeadline(): Date | number;
}

/** A call's signal (made when first read), whether the call has a deadline, and `dispose`
 * to clear the timer and listener once the call has ended. */
export interface CallSignal {
  readonly signal: AbortSignal;
  readonly hasDeadline: boolean;
  dispose(): void;
}

export function callSignal(call: CancellableCall): CallSignal {
  return new LazyCallSignal(call);
}

class LazyCallSignal implements CallSignal {
  readonly hasDeadline: boolean;
  private readonly at: number;
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private disposed = false;

  constructor(private readonly call: CancellableCall) {
    const deadline = call.getDeadline();
    const at = deadline instanceof Date ? deadline.getTime() : deadline;
    this.hasDeadline = Number.isFinite(at);
    // The time the wait ends: DEADLINE_LEAD_MS (at most a tenth of the call's time) early.
    this.at = this.hasDeadline ? at - Math.min(DEADLINE_LEAD_MS, Math.max(0, at - Date.now()) / 10) : at;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      const controller = new AbortController();
      this.controller = controller;
      if (this.call.cancelled) controller.abort(cancelled());
      else if (!this.disposed) {
        this.call.on("cancelled", this.onCancelled);
        if (this.hasDeadline) {
          const due = (): void => controller.abort(deadlineExceeded("the call's deadline is due"));
          this.timer = setTimeout(due, capDelay(this.at - Date.now()));
        }
      }
    }
    return this.controller.signal;
  }

  dispose(): void {
    this.disposed = true;
    if (this.controller === undefined) return;
    clearTimeout(this.timer);
    this.call.removeListener("cancelled", this.onCancelled);
  }

  private readonly onCancelled = (): void => this.controller?.abort(cancelled());
}
