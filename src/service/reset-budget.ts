/**
 * A model of the stream-reset budget Node's HTTP/2 server gives each connection. nghttp2's
 * defence against "rapid reset" (CVE-2023-44487) lets a client reset 1,000 streams at once,
 * then 33 a second (a token bucket); past it the server ends the connection with
 * GOAWAY(INTERNAL_ERROR), failing every call on it, and Node 20 can neither change the limit
 * nor report it. A client resets a stream for every call it cancels and for every deadline
 * that passes before the server's answer reaches it; the server cannot see those frames, so
 * each call that ended by cancellation or deadline is counted as one (an upper bound).
 */

/** nghttp2's defaults, which Node 20 uses and cannot change. */
export const NGHTTP2_RESET_BURST = 1000;
export const NGHTTP2_RESET_RATE_PER_SECOND = 33;

/** One connection's budget: what is left, refilled with time. */
export class ResetBudget {
  private tokens: number;
  private at: number;

  constructor(
    now: number,
    private readonly burst = NGHTTP2_RESET_BURST,
    private readonly ratePerSecond = NGHTTP2_RESET_RATE_PER_SECOND,
  ) {
    this.tokens = burst;
    this.at = now;
  }

  /** The resets left at `now`. */
  left(now: number): number {
    if (now > this.at) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.ratePerSecond) / 1000);
      this.at = now;
    }
    return this.tokens;
  }

  /** Spends one reset at `now`; returns what is left (below 0: the server has already ended
   * the connection). */
  spend(now: number): number {
    this.tokens = this.left(now) - 1;
    return this.tokens;
  }
}
