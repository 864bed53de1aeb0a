/**
 * A worker's mailbox: requests in arrival order, taken by exactly one loop. `take` waits
 * at most `idleMs` (capped like every timer) and resolves undefined when idle or when
 * `interrupt` is called, so the loop can notice a stop without polling. An interrupt with
 * no `take` waiting is kept for the next one: the loop may be interrupted (evicted) in the
 * very step that leads it to `take`.
 */
import { capDelay } from "../core/timers.js";

export class Mailbox<T> {
  private readonly items: T[] = [];
  private taker: ((item: T | undefined) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private interrupted = false;

  /** Requests waiting to be taken. */
  get size(): number {
    return this.items.length;
  }

  /** Adds a request; a waiting `take` gets it at once. */
  put(item: T): void {
    if (this.taker !== undefined) this.settle(item);
    else this.items.push(item);
  }

  /** The next request, or undefined after `idleMs` with none or on `interrupt`. */
  take(idleMs: number): Promise<T | undefined> {
    if (this.taker !== undefined) throw new Error("mailbox has one taker at a time");
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    if (this.interrupted) {
      this.interrupted = false;
      return Promise.resolve(undefined);
    }
    return new Promise((resolve) => {
      this.taker = resolve;
      this.timer = setTimeout(() => this.settle(undefined), capDelay(idleMs));
    });
  }

  /** Wakes a waiting `take` with undefined, or the next `take` if none is waiting. */
  interrupt(): void {
    if (this.taker !== undefined) this.settle(undefined);
    else this.interrupted = true;
  }

  /** Removes and returns every waiting request. */
  drain(): T[] {
    return this.items.splice(0);
  }

  private settle(item: T | undefined): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const taker = this.taker;
    this.taker = undefined;
    taker?.(item);
  }
}
