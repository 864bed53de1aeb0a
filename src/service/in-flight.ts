/**
 * Counts the calls a server is handling: shutdown logs how many it is cutting, and the
 * integration tests check that none is left over (a leaked call is a bug).
 */
export class InFlight {
  private count = 0;

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
      this.count--;
    };
  }
}
