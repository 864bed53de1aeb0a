/**
 * A worker's mailbox: requests in arrival order, taken by exactly one loop. `take` waits
 * at most `idleMs` (capped like every timer) and resolves undefined when idle or when
 * `interrupt` is called, so the loop can notice a stop without polling.
 */
import { capDelay } from "../core/timers.js";

export class Mailbox<T> {
  private readonly items: T[] = [];
  private taker: ((item: T | undefined) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

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
    return new Promise((resolve) => {
      this.taker = resolve;
      this.timer = setTimeout(() => this.settle(undefined), capDelay(idleMs));
    });
  }

  /** Wakes a waiting `take` with undefined. */
  interrupt(): void {
    if (this.taker !== undefined) this.settle(undefined);
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
