/**
 * Result streams seen as async iterators, for engine-level tests. The iterator has pull
 * semantics, like a gRPC client that reads one message at a time: it holds at most one
 * undelivered result and tells the stream it is full until `next()` takes it, so a test
 * that stops calling `next()` is a client that stopped reading.
 */
import { abortReason } from "../../src/core/abort.js";
import type { SlotResult } from "../../src/core/result.js";
import { decodeResult } from "../../src/store/codec.js";
import { isEncodedResult, type SlotStream } from "../../src/worker/result-stream.js";

/** Iterates `stream`; aborting `signal` closes it (the client cancelled) and ends the
 * iteration with the signal's reason. */
export function iterate(stream: SlotStream, signal?: AbortSignal): AsyncIterableIterator<SlotResult> {
  const buffered: SlotResult[] = [];
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const poke = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  stream.start({
    deliver(result) {
      buffered.push(isEncodedResult(result) ? decodeResult(result.value) : result);
      poke();
      return false; // full until next() takes it
    },
    end() {
      ended = true;
      poke();
    },
    fail(error) {
      failure = error;
      poke();
    },
  });
  const onAbort = (): void => {
    stream.close();
    failure ??= abortReason(signal as AbortSignal);
    poke();
  };
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  const iterator: AsyncIterableIterator<SlotResult> = {
    async next(): Promise<IteratorResult<SlotResult>> {
      for (;;) {
        const result = buffered.shift();
        if (result !== undefined) {
          stream.resume();
          return { value: result, done: false };
        }
        if (failure !== undefined) throw failure;
        if (ended) {
          signal?.removeEventListener("abort", onAbort);
          return { value: undefined, done: true };
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    async return(): Promise<IteratorResult<SlotResult>> {
      stream.close();
      signal?.removeEventListener("abort", onAbort);
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

/** Every result of a stream that ends by itself (a Compute stream), in order. */
export async function collect(stream: SlotStream): Promise<SlotResult[]> {
  const out: SlotResult[] = [];
  for await (const result of iterate(stream)) out.push(result);
  return out;
}
