/**
 * Prometheus metrics (prom-client) on a registry of the server's own, so several servers in
 * one process (tests) never clash. Served over HTTP on `metrics_port` when it is set.
 */
import { createServer, type Server } from "node:http";
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from "prom-client";

export interface Metrics {
  readonly registry: Registry;
  /** Starts timing an RPC; call the result with its status code's name ("OK", "NOT_FOUND"). */
  startCall(method: string): (code: string) => void;
  streamOpened(): void;
  streamClosed(): void;
  scheduled(count: number): void;
  connectionOpened(): void;
  connectionClosed(): void;
  /** A connection was drained before Node's HTTP/2 reset limit could end it (connections.ts). */
  connectionDrained(): void;
  /** A connection's client reset more streams than that limit allows: Node ended it. */
  resetFlood(): void;
  /** Sets the gauges that are read from the engine on scrape. */
  onScrape(read: () => { workers: number; waiters: number; workerBytes: number }): void;
}

/** Upper bounds (seconds) of the RPC duration histogram's buckets. */
const CALL_BUCKETS = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30];

/**
 * A fresh set of metrics; `defaults` adds Node's process metrics (off in tests). What
 * changes per call is counted in plain numbers and handed to prom-client only when scraped:
 * prom-client hashes the labels of every observation, which would cost each RPC tens of
 * microseconds on a busy machine.
 */
export function createMetrics(defaults = false): Metrics {
  const registry = new Registry();
  if (defaults) collectDefaultMetrics({ register: registry, prefix: "procworker_" });
  /** Calls ended since the last scrape, by "method code". */
  const ended = new Map<string, { method: string; code: string; count: number }>();
  new Counter({
    name: "procworker_rpc_total",
    help: "RPCs handled, by method and status code",
    labelNames: ["method", "code"],
    registers: [registry],
    collect() {
      for (const entry of ended.values()) {
        if (entry.count > 0) this.inc({ method: entry.method, code: entry.code }, entry.count);
        entry.count = 0;
      }
    },
  });
  const seconds = new CallHistogram(
    "procworker_rpc_seconds",
    "RPC duration in seconds (for streams: until the stream ended)",
  );
  // A metric of its own making (the registry only reads name, help, type and get()).
  registry.registerMetric(seconds as unknown as Metric);
  let openStreams = 0;
  new Gauge({
    name: "procworker_open_streams",
    help: "open Compute and Subscribe streams",
    registers: [registry],
    collect() {
      this.set(openStreams);
    },
  });
  let scheduledSinceScrape = 0;
  new Counter({
    name: "procworker_scheduled_messages_total",
    help: "messages scheduled",
    registers: [registry],
    collect() {
      this.inc(scheduledSinceScrape);
      scheduledSinceScrape = 0;
    },
  });
  const connections = new Gauge({
    name: "procworker_connections",
    help: "open client connections",
    registers: [registry],
  });
  const drained = new Counter({
    name: "procworker_connections_drained_total",
    help: "connections drained (GOAWAY NO_ERROR) before Node's HTTP/2 stream-reset limit could end them",
    registers: [registry],
  });
  const floods = new Counter({
    name: "procworker_reset_floods_total",
    help: "connections whose client reset more streams than Node's HTTP/2 limit allows (1000, then 33/s): Node ended them with GOAWAY(INTERNAL_ERROR) (estimated from calls cancelled or past their deadline)",
    registers: [registry],
  });
  let read: () => { workers: number; waiters: number; workerBytes: number } = () => ({
    workers: 0,
    waiters: 0,
    workerBytes: 0,
  });
  new Gauge({
    name: "procworker_live_workers",
    help: "live workers",
    registers: [registry],
    collect() {
      this.set(read().workers);
    },
  });
  new Gauge({
    name: "procworker_waiters",
    help: "callers waiting in Await",
    registers: [registry],
    collect() {
      this.set(read().waiters);
    },
  });
  new Gauge({
    name: "procworker_worker_state_bytes",
    help: "state bytes held by live workers",
    registers: [registry],
    collect() {
      this.set(read().workerBytes);
    },
  });
  return {
    registry,
    startCall(method) {
      const started = performance.now();
      return (code) => {
        seconds.observe(method, (performance.now() - started) / 1000);
        const key = `${method} ${code}`;
        const entry = ended.get(key);
        if (entry === undefined) ended.set(key, { method, code, count: 1 });
        else entry.count++;
      };
    },
    streamOpened: () => void openStreams++,
    streamClosed: () => void openStreams--,
    scheduled: (count) => void (scheduledSinceScrape += count),
    connectionOpened: () => connections.inc(),
    connectionClosed: () => connections.dec(),
    connectionDrained: () => drained.inc(),
    resetFlood: () => floods.inc(),
    onScrape(fn) {
      read = fn;
    },
  };
}

/**
 * A histogram of call durations by method, kept in plain arrays (an observation is a bucket
 * search and three additions) and written out in the shape prom-client gives its own
 * histograms: `_bucket` (cumulative, with `le`), `_sum` and `_count` series per method.
 */
class CallHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly byMethod = new Map<string, { counts: number[]; sum: number; count: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  observe(method: string, seconds: number): void {
    let entry = this.byMethod.get(method);
    if (entry === undefined) {
      entry = { counts: CALL_BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.byMethod.set(method, entry);
    }
    let bucket = 0;
    while (bucket < CALL_BUCKETS.length && seconds > (CALL_BUCKETS[bucket] as number)) bucket++;
    if (bucket < CALL_BUCKETS.length) entry.counts[bucket] = (entry.counts[bucket] ?? 0) + 1;
    entry.sum += seconds;
    entry.count++;
  }

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: HistogramValue[] }> {
    const values: HistogramValue[] = [];
    for (const [method, entry] of this.byMethod) {
      let cumulative = 0;
      CALL_BUCKETS.forEach((le, i) => {
        cumulative += entry.counts[i] ?? 0;
        values.push({ labels: { method, le }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { method, le: "+Inf" }, value: entry.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { method }, value: entry.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { method }, value: entry.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    this.byMethod.clear();
  }
}

interface HistogramValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/** Serves `GET /metrics` on host:port; resolves with the bound port. */
export async function serveMetrics(
  metrics: Metrics,
  host: string,
  port: number,
): Promise<{ port: number; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    metrics.registry.metrics().then(
      (body) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
