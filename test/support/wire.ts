/**
 * Helpers for tests that talk to a server through the generated client: wire messages,
 * reading a result's tags, and taking the first n items of a stream.
 */
import { status, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import type { Message, SlotResult } from "../../src/generated/procworker/v1/types.js";

/** A wire message with the given tags and (UTF-8) data. */
export function msg(tags: Record<string, string>, data = ""): Message {
  return { tags: new Map(Object.entries(tags)), data: Buffer.from(data) };
}

/** A result's output tags as a plain object ({} for none). */
export function tagsOf(result: SlotResult | undefined): Record<string, string> {
  return Object.fromEntries(result?.output?.tags ?? []);
}

/** The first `n` items of a stream; then cancels it and resolves once its CANCELLED status
 * arrives (rejects with any other status, or if it ends early). */
export function take<T>(stream: ClientReadableStream<T>, n: number): Promise<T[]> {
  const items: T[] = [];
  return new Promise((resolve, reject) => {
    stream.on("data", (item: T) => {
      items.push(item);
      if (items.length === n) stream.cancel();
    });
    stream.on("error", (e: ServiceError) =>
      e.code === status.CANCELLED && items.length >= n ? resolve(items) : reject(e),
    );
    stream.on("end", () =>
      items.length >= n ? resolve(items) : reject(new Error(`stream ended after ${items.length} of ${n}`)),
    );
  });
}
