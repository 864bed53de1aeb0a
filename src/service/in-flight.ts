/**
 * Counts the calls a server is handling, so shutdown can wait for the ones in progress
 * (a Schedule mid-write) before it closes the store.
 */
export class InFlight {
  private count = 0;
  private waiters: (() => void)[] = [];

  /** Calls now in progress. */
  get size(): number {
    return this.count;
  }

  /** Marks a call started; the returned function marks it ended (idempotent). */
  enter(): () => void {
    this.count++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (--this.count === 0) this.waiters.splice(0).forEach((f) => f());
    };
  }

  /** Resolves once no call is in progress. */
  idle(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}
