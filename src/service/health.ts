/**
 * The standard gRPC health service (grpc.health.v1.Health: Check, Watch, List), served
 * by grpc-health-check. The server reports NOT_SERVING while it starts and while it
 * drains, SERVING in between, for the whole server ("") and for the API service alike.
 *
 * Names it does not know get NOT_FOUND at once, from Check and from Watch alike, and are
 * never handed to the library: it would keep a watcher entry per name asked for, forever
 * (its map never drops emptied entries), and echo the whole name in Check's error.
 */
import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { excerpt, notFound } from "../core/errors.js";
import { silentLogger } from "../core/log.js";
import { decoded, RefusedRequest, withTolerantDecoding } from "./decoding.js";
import { toServiceError } from "./status.js";

/** The API's fully-qualified service name, as health and reflection report it. */
export const PROCESS_WORKER_SERVICE_NAME = "procworker.v1.ProcessWorkerService";

/** The names health reports on: "" (the whole server, by convention) and the API. */
export const HEALTH_SERVICE_NAMES: readonly string[] = ["", PROCESS_WORKER_SERVICE_NAME];

/** What health reports for every name in `HEALTH_SERVICE_NAMES`. */
export type HealthStatus = "SERVING" | "NOT_SERVING";

/** A handle on the health service of one server. */
export interface Health {
  /** The status currently reported (the same for every name). */
  readonly status: HealthStatus;
  /** Reports `status` for every name; Watch streams see the change at once. */
  setStatus(status: HealthStatus): void;
  /** Ends every open Watch stream with UNAVAILABLE (shutdown). */
  endWatches(): void;
}

/** Health errors are never internal: nothing to log. */
const quiet = silentLogger();

/** The status for a request naming no known service (or whose bytes did not decode). */
function unknownService(request: unknown): Partial<grpc.ServiceError> | undefined {
  try {
    const name = (decoded(request) as { service?: unknown }).service;
    if (typeof name === "string" && HEALTH_SERVICE_NAMES.includes(name)) return undefined;
    return toServiceError(notFound(`unknown service ${excerpt(String(name))}`), quiet, "Health");
  } catch (error) {
    return toServiceError(error, quiet, "Health");
  }
}

/**
 * Adds grpc.health.v1.Health to `server`, reporting NOT_SERVING until `setStatus("SERVING")`.
 * Names other than `HEALTH_SERVICE_NAMES` get NOT_FOUND from Check, as the protocol says, and
 * from Watch too (the protocol would stream SERVICE_UNKNOWN and keep the call open: holding
 * state for any name a client makes up). Call `setStatus("NOT_SERVING")` when draining begins
 * so balancers stop sending work.
 */
export function addHealth(server: grpc.Server): Health {
  let current: HealthStatus = "NOT_SERVING";
  const implementation = new HealthImplementation(
    Object.fromEntries(HEALTH_SERVICE_NAMES.map((name) => [name, current])),
  );
  // Register through a shim that keeps the open Watch streams, so shutdown can end them:
  // otherwise they would hold a graceful server shutdown open forever.
  const watches = new Set<grpc.ServerWritableStream<unknown, unknown>>();
  const shim = {
    addService(service: grpc.ServiceDefinition, handlers: grpc.UntypedServiceImplementation) {
      const check = handlers["check"] as grpc.handleUnaryCall<unknown, unknown>;
      const watch = handlers["watch"] as grpc.handleServerStreamingCall<unknown, unknown>;
      const list = handlers["list"] as grpc.handleUnaryCall<unknown, unknown>;
      server.addService(withTolerantDecoding(service), {
        ...handlers,
        check: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
          const refused = unknownService(call.request);
          if (refused) callback(refused);
          else check(call, callback);
        },
        list: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
          if (call.request instanceof RefusedRequest) callback(unknownService(call.request) ?? null);
          else list(call, callback);
        },
        watch: (call: grpc.ServerWritableStream<unknown, unknown>) => {
          const refused = unknownService(call.request);
          if (refused) {
            call.emit("error", refused);
            return;
          }
          watches.add(call);
          call.on("cancelled", () => watches.delete(call));
          watch(call);
        },
      });
    },
  };
  // The library only calls addService on what it is given; the shim has exactly that.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
  implementation.addToServer(shim as unknown as grpc.Server);
  return {
    endWatches() {
      for (const call of watches) {
        call.emit("error", { code: grpc.status.UNAVAILABLE, details: "server is shutting down" });
      }
      watches.clear();
    },
    get status() {
      return current;
    },
    setStatus(status) {
      current = status;
      for (const name of HEALTH_SERVICE_NAMES) implementation.setStatus(name, status);
    },
  };
}
