/**
 * A gRPC call's deadline and cancellation as an AbortSignal, which is how every wait in the
 * engine learns that its caller is gone. The signal's reason says which: a
 * deadline_exceeded or a cancelled ProcworkerError. The signal is made on first use: an
 * AbortSignal costs microseconds, and a call answered at once (an Await of a stored slot)
 * never needs one.
 */
import { cancelled, deadlineExceeded } from "../core/abort.js";
import { capDelay } from "../core/timers.js";

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
    this.at = deadline instanceof Date ? deadline.getTime() : deadline;
    this.hasDeadline = Number.isFinite(this.at);
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      const controller = new AbortController();
      this.controller = controller;
      if (this.call.cancelled) controller.abort(cancelled());
      else if (!this.disposed) {
        this.call.on("cancelled", this.onCancelled);
        if (this.hasDeadline) {
          const passed = (): void => controller.abort(deadlineExceeded("the call's deadline passed"));
          this.timer = setTimeout(passed, capDelay(this.at - Date.now()));
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
