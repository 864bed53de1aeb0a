/**
 * Starting and stopping a procworker server: the store, the devices, the engine, and a
 * grpc-js server with ProcessWorkerService, reflection (buf's exact descriptors) and
 * health. `close` is the graceful shutdown of docs/design.md §7: health goes NOT_SERVING, new calls
 * are refused, open calls end with UNAVAILABLE, every live worker snapshots, the store
 * closes — within `shutdown_timeout_ms`, after which remaining calls are cut.
 */
import { Server } from "@grpc/grpc-js";
import type { Config } from "../core/config.js";
import type { Logger } from "../core/log.js";
import { createCounterDevice } from "../device/counter.js";
import type { Device } from "../device/device.js";
import { createDeviceRegistry } from "../device/registry.js";
import { openLmdbStore } from "../store/lmdb-store.js";
import { openPostgresStore } from "../store/postgres-store.js";
import type { Store } from "../store/store.js";
import { postgresCluster } from "../cluster/postgres-cluster.js";
import { Engine } from "../worker/engine.js";
import { loadDescriptorSet } from "./descriptor-set.js";
import { createHandlers, processWorkerServiceDefinition } from "./handlers.js";
import { addHealth, type Health } from "./health.js";
import { createMetrics, serveMetrics, type Metrics } from "./metrics.js";
import { InFlight } from "./in-flight.js";
import { addReflection } from "./reflection.js";
import { Access, accessInterceptor } from "./access.js";
import { serverCredentials, usesTls } from "./tls.js";
import { createConnections } from "./connections.js";
import { withRequestLimits } from "./request-limits.js";
import { capDelay } from "../core/timers.js";
import { createWasmDevice } from "../device/wasm/index.js";

export interface RunningServer {
  /** The bound gRPC port (useful with port 0). */
  port: number;
  /** The bound metrics port, if metrics are served. */
  metricsPort: number | undefined;
  engine: Engine;
  health: Health;
  metrics: Metrics;
  /** Calls in progress. */
  inFlight: InFlight;
  /** Re-reads auth_tokens_file (SIGHUP); resolves false (and logs) when it was kept as it
   * was: no file configured, or one that cannot be read or parsed. */
  reloadAccess: () => Promise<boolean>;
  /** Graceful shutdown; idempotent. */
  close: () => Promise<void>;
}

export interface StartOptions {
  config: Config;
  logger: Logger;
  /** A store to use instead of the configured one (PostgreSQL at `config.databaseUrl`, else
   * LMDB in `config.dataDir`): tests. */
  store?: Store;
  /** Devices to offer instead of the built-in ones. */
  devices?: Device[];
  /** Also export Node's process metrics (CPU, memory, event loop); the CLI turns this on. */
  processMetrics?: boolean;
}

/** The devices a server offers by default: counter@1.0 and wasm@1.0. */
export function defaultDevices(config: Config, logger: Logger): Device[] {
  return [
    createCounterDevice({ slotTimeLimitMs: config.slotTimeLimitMs }),
    createWasmDevice({
      slotTimeLimitMs: config.slotTimeLimitMs,
      maxMemoryMib: config.wasmMaxMemoryMib,
      threads: config.wasmThreads,
      maxOutputBytes: config.maxMessageBytes,
      moduleCacheBytes: config.moduleCacheBytes,
      logger,
    }),
  ];
}

/** Starts a server; resolves once it listens and reports SERVING. */
export async function startServer({ config, logger, ...opts }: StartOptions): Promise<RunningServer> {
  // Access first: a bad certificate or tokens file stops the start before anything is opened.
  const credentials = await serverCredentials(config);
  const access = config.authTokensFile === "" ? undefined : await Access.load(config.authTokensFile, logger);
  if (access !== undefined && !usesTls(config)) {
    logger.warn({ event: "tokens_in_plaintext" }, "bearer tokens without TLS: anyone on the path can read them");
  }
  const store =
    opts.store ??
    (config.databaseUrl
      ? await openPostgresStore({ url: config.databaseUrl })
      : await openLmdbStore({ path: config.dataDir }));
  const devices = createDeviceRegistry(opts.devices ?? defaultDevices(config, logger));
  // Several nodes share a PostgreSQL: ownership by advisory lock, signals by LISTEN/NOTIFY.
  const cluster = config.databaseUrl ? postgresCluster({ url: config.databaseUrl, logger }) : undefined;
  const engine = new Engine({
    store,
    devices,
    logger,
    config,
    ...(cluster ? { ownership: cluster.ownership, signals: cluster.signals } : {}),
  });
  const metrics = createMetrics(opts.processMetrics ?? false);
  metrics.onScrape(() => {
    const { workers, stateBytes } = engine.workerTotals();
    return { workers, waiters: engine.attached().waiters, workerBytes: stateBytes };
  });
  const connections = createConnections({ logger, metrics });
  const server = new Server({
    "grpc.max_receive_message_length": config.maxMessageBytes,
    "grpc.max_send_message_length": config.maxMessageBytes,
    // One injector per connection (connections.ts); channelz would register each.
    "grpc.enable_channelz": 0,
    // The connection tracker first (innermost): it sees every status, refusals included.
    // None may have a `sendMessage`: Compute and Subscribe write their responses around it,
    // straight to the HTTP/2 stream (response-sink.ts).
    interceptors: [
      connections.interceptor,
      ...(access === undefined ? [] : [accessInterceptor(access, logger, metrics)]),
    ],
  });
  const health = addHealth(server);
  const inFlight = new InFlight();
  const limits = { maxScheduleMessages: config.maxScheduleMessages, maxRequestTags: config.maxRequestTags };
  server.addService(
    withRequestLimits(processWorkerServiceDefinition, limits),
    createHandlers({ engine, logger, metrics, inFlight, maxMessageBytes: config.maxMessageBytes }),
  );
  addReflection(server, loadDescriptorSet());
  let port: number;
  try {
    port = await connections.listen(server, credentials, config.host, config.port);
  } catch (error) {
    await connections.close();
    server.forceShutdown();
    await engine.close();
    await cluster?.close();
    throw error;
  }
  engine.nodeAddress = config.nodeAddress || `${config.host}:${port}`;
  await cluster?.start(engine.nodeAddress, engine);
  const metricsServer =
    config.metricsPort > 0 ? await serveMetrics(metrics, config.host, config.metricsPort) : undefined;
  health.setStatus("SERVING");
  logger.info(
    {
      event: "listening",
      host: config.host,
      port,
      metricsPort: metricsServer?.port,
      tls: usesTls(config) ? (config.tlsClientCa === "" ? "tls" : "mutual") : "off",
      tokens: access !== undefined,
    },
    "procworker listening",
  );

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      logger.info(
        { event: "draining", calls: inFlight.size },
        "shutting down: draining calls and snapshotting workers",
      );
      health.setStatus("NOT_SERVING");
      // No new connections, no new calls from here on; resolves once every open call has ended.
      connections.stopAccepting();
      const drained = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      engine.drain(); // Await, Compute and Subscribe end with UNAVAILABLE
      health.endWatches();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), capDelay(config.shutdownTimeoutMs));
      });
      if (await Promise.race([drained.then(() => false), timedOut])) {
        logger.warn(
          { event: "shutdown_timeout", calls: inFlight.size },
          "shutdown timeout: cutting the remaining calls",
        );
        server.forceShutdown();
      }
      clearTimeout(timer);
      await connections.close();
      await engine.close(); // snapshot every live worker, close devices and store
      await cluster?.close(); // after the workers: their locks are given back first
      await metricsServer?.close();
      logger.info({ event: "stopped" }, "procworker stopped");
    })());

  const reloadAccess = (): Promise<boolean> => access?.reload() ?? Promise.resolve(false);
  return { port, metricsPort: metricsServer?.port, engine, health, metrics, inFlight, reloadAccess, close };
}
