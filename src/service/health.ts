/**
 * The standard gRPC health service (grpc.health.v1.Health: Check, Watch, List), served
 * by grpc-health-check. The server reports NOT_SERVING while it starts and while it
 * drains, SERVING in between, for the whole server ("") and for the API service alike.
 */
import type * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";

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
}

/**
 * Adds grpc.health.v1.Health to `server`, reporting NOT_SERVING until `setStatus("SERVING")`.
 * Names other than `HEALTH_SERVICE_NAMES` get NOT_FOUND from Check, as the protocol says.
 * Call `setStatus("NOT_SERVING")` when draining begins so balancers stop sending work.
 */
export function addHealth(server: grpc.Server): Health {
  let current: HealthStatus = "NOT_SERVING";
  const implementation = new HealthImplementation(
    Object.fromEntries(HEALTH_SERVICE_NAMES.map((name) => [name, current])),
  );
  implementation.addToServer(server);
  return {
    get status() {
      return current;
    },
    setStatus(status) {
      current = status;
      for (const name of HEALTH_SERVICE_NAMES) implementation.setStatus(name, status);
    },
  };
}
