/**
 * Every method a procworker server serves, as the wire fuzzer sees it: its path, its shape,
 * whether it may wait (so that its deadline is a documented ending), and the statuses the
 * README's error table and the proto's comments document for it. A status outside its set —
 * INTERNAL and UNKNOWN above all — is a finding.
 */
import { status } from "@grpc/grpc-js";

/** How a method is called: one request, then one answer, a stream of answers, or (reflection)
 * a stream each way, of which the fuzzer writes one request. */
export type Shape = "unary" | "server-stream" | "bidi";

/** A method the fuzzer calls. */
export interface FuzzMethod {
  /** Short name in reports: `Spawn`, `Health.Check`, `Reflection.v1`. */
  name: string;
  /** The HTTP/2 path. */
  path: string;
  shape: Shape;
  /** True when the method may wait for a slot or a change: ending at the caller's deadline is
   * then an answer. For the others, reaching the deadline means the server hung. */
  waits: boolean;
  /** Every status the documentation gives for this method, for any request (CANCELLED only
   * ever comes from the fuzzer cancelling a stream). */
  documented: ReadonlySet<status>;
}

const API = "/procworker.v1.ProcessWorkerService/";

/** Any request may be malformed or too large (README: INVALID_ARGUMENT, RESOURCE_EXHAUSTED for
 * a request or response over max_message_bytes). */
const ANY = [status.INVALID_ARGUMENT, status.RESOURCE_EXHAUSTED];

function method(name: string, path: string, shape: Shape, waits: boolean, codes: status[]): FuzzMethod {
  return { name, path, shape, waits, documented: new Set([...ANY, ...codes]) };
}

const { OK, NOT_FOUND, OUT_OF_RANGE, ABORTED, DEADLINE_EXCEEDED, CANCELLED } = status;

/** The 11 API methods, health and both reflection versions. */
export const FUZZ_METHODS: readonly FuzzMethod[] = [
  method("Spawn", `${API}Spawn`, "unary", false, [OK, NOT_FOUND]),
  method("Schedule", `${API}Schedule`, "unary", false, [OK, NOT_FOUND]),
  method("Group", `${API}Group`, "unary", false, [OK, NOT_FOUND]),
  method("Compute", `${API}Compute`, "server-stream", true, [
    OK,
    NOT_FOUND,
    OUT_OF_RANGE,
    ABORTED,
    DEADLINE_EXCEEDED,
    CANCELLED,
  ]),
  method("Await", `${API}Await`, "unary", true, [OK, NOT_FOUND, ABORTED, DEADLINE_EXCEEDED]),
  // A subscription never ends by itself: only by its deadline or a cancel.
  method("Subscribe", `${API}Subscribe`, "server-stream", true, [NOT_FOUND, DEADLINE_EXCEEDED, CANCELLED]),
  method("Stop", `${API}Stop`, "unary", false, [OK, NOT_FOUND]),
  method("ListWorkers", `${API}ListWorkers`, "unary", false, [OK]),
  method("GetProcess", `${API}GetProcess`, "unary", false, [OK, NOT_FOUND]),
  method("ReadSchedule", `${API}ReadSchedule`, "server-stream", false, [OK, NOT_FOUND, CANCELLED]),
  method("DryRun", `${API}DryRun`, "unary", true, [OK, NOT_FOUND, ABORTED, DEADLINE_EXCEEDED]),
  method("Health.Check", "/grpc.health.v1.Health/Check", "unary", false, [OK, NOT_FOUND]),
  method("Health.Watch", "/grpc.health.v1.Health/Watch", "server-stream", true, [
    NOT_FOUND,
    DEADLINE_EXCEEDED,
    CANCELLED,
  ]),
  method("Health.List", "/grpc.health.v1.Health/List", "unary", false, [OK]),
  // Reflection answers every request on its stream (errors are `error_response`s in it); the
  // stream itself ends OK once the client ends its side.
  method("Reflection.v1", "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "bidi", false, [OK]),
  method("Reflection.v1alpha", "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", "bidi", false, [OK]),
];

/** A method by name (throws for a name not in FUZZ_METHODS). */
export function fuzzMethod(name: string): FuzzMethod {
  const found = FUZZ_METHODS.find((m) => m.name === name);
  if (found === undefined) throw new Error(`no fuzz method ${name}`);
  return found;
}

/** The name of a status code ("INVALID_ARGUMENT"). */
export function statusName(code: number): string {
  return status[code] ?? String(code);
}
