/**
 * Prometheus metrics (prom-client) on a registry of the server's own, so several servers in
 * one process (tests) never clash. Served over HTTP on `metrics_port` when it is set.
 */
import { createServer, type Server } from "node:http";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

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

/** A fresh set of metrics; `defaults` adds Node's process metrics (off in tests). */
export function createMetrics(defaults = false): Metrics {
  const registry = new Registry();
  if (defaults) collectDefaultMetrics({ register: registry, prefix: "procworker_" });
  const calls = new Counter({
    name: "procworker_rpc_total",
    help: "RPCs handled, by method and status code",
    labelNames: ["method", "code"],
    registers: [registry],
  });
  const seconds = new Histogram({
    name: "procworker_rpc_seconds",
    help: "RPC duration in seconds (for streams: until the stream ended)",
    labelNames: ["method"],
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry],
  });
  const streams = new Gauge({
    name: "procworker_open_streams",
    help: "open Compute and Subscribe streams",
    registers: [registry],
  });
  const scheduledTotal = new Counter({
    name: "procworker_scheduled_messages_total",
    help: "messages scheduled",
    registers: [registry],
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
      const end = seconds.startTimer({ method });
      return (code) => {
        end();
        calls.inc({ method, code });
      };
    },
    streamOpened: () => streams.inc(),
    streamClosed: () => streams.dec(),
    scheduled: (count) => scheduledTotal.inc(count),
    connectionOpened: () => connections.inc(),
    connectionClosed: () => connections.dec(),
    connectionDrained: () => drained.inc(),
    resetFlood: () => floods.inc(),
    onScrape(fn) {
      read = fn;
    },
  };
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
