/**
 * Reading a server in another process from outside: its Prometheus metrics (parsed into
 * series → value), its resident memory from /proc, and a free port to give it.
 */
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";

/** The samples of a Prometheus text page: `name{labels}` (as written) → value. */
export type Samples = Map<string, number>;

/** Fetches and parses `http://127.0.0.1:port/metrics`. */
export async function scrapeMetrics(port: number): Promise<Samples> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await response.text();
  const samples: Samples = new Map();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** The sum of every sample of metric `name` whose labels contain all of `labels` (`code="OK"`). */
export function sumOf(samples: Samples, name: string, ...labels: string[]): number {
  let total = 0;
  for (const [series, value] of samples) {
    const brace = series.indexOf("{");
    const base = brace === -1 ? series : series.slice(0, brace);
    if (base === name && labels.every((l) => series.includes(l))) total += value;
  }
  return total;
}

/** Resident memory of process `pid` now and at its peak (VmRSS, VmHWM), and its anonymous
 * part (RssAnon: the heaps, without file mappings such as LMDB's), in bytes (Linux). */
export async function residentMemory(pid: number): Promise<{ rss: number; peak: number; anon: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: kib("VmRSS") * 1024, peak: kib("VmHWM") * 1024, anon: kib("RssAnon") * 1024 };
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** Bytes as MiB with one decimal. */
export const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
