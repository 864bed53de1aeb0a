/**
 * A signal that something observable about the engine changed: a caller attached or left,
 * a worker started, ended or got a request. It lets tests and operators wait for a state
 * (`until`) without polling or sleeping.
 */
export class Changes {
  private waiting: (() => void)[] = [];

  /** Wakes everyone waiting for the next change. */
  notify(): void {
    if (this.waiting.length > 0) this.waiting.splice(0).forEach((wake) => wake());
  }

  /** Resolves at the next change. */
  next(): Promise<void> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Resolves once `condition()` holds, checking it now and after every change. */
  async until(condition: () => boolean): Promise<void> {
    while (!condition()) await this.next();
  }
}
