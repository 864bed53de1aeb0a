/**
 * A typed promise-based client for ProcessWorkerService (the generated grpc-js client,
 * wrapped): what the CLI, the examples and the integration tests use.
 */
import { credentials, Metadata, type CallOptions, type ClientReadableStream } from "@grpc/grpc-js";
import {
  ProcessWorkerServiceClient,
  type AwaitRequest,
  type DryRunRequest,
  type DryRunResponse,
  type GetProcessRequest,
  type GetProcessResponse,
  type ReadScheduleRequest,
  type ReadScheduleResponse,
  type AwaitResponse,
  type ComputeRequest,
  type ComputeResponse,
  type GroupRequest,
  type GroupResponse,
  type ListWorkersResponse,
  type ScheduleRequest,
  type ScheduleResponse,
  type SpawnRequest,
  type SpawnResponse,
  type StopRequest,
  type StopResponse,
  type SubscribeRequest,
  type SubscribeResponse,
} from "../generated/procworker/v1/process_worker_service.js";
import type { SlotResult } from "../generated/procworker/v1/types.js";

/** Options for one call: a deadline in ms from now. */
export interface CallOpts {
  timeoutMs?: number;
}

/** How the client reaches a server. */
export interface ClientOptions {
  /** Largest message sent or received (default 64 MiB). */
  maxMessageBytes?: number;
  /** Connect with TLS: `ca` (PEM) verifies the server (default: the system's roots); `cert` and
   * `key` (PEM) are the client's certificate for a server that asks for one (mutual TLS). */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** A bearer token, sent with every call as `authorization: Bearer <token>`. */
  token?: string;
}

export class ProcworkerClient {
  readonly raw: ProcessWorkerServiceClient;
  private readonly token: string | undefined;

  constructor(address: string, options: ClientOptions = {}) {
    const maxMessageBytes = options.maxMessageBytes ?? 64 * 1024 * 1024;
    const tls = options.tls;
    const channel =
      tls === undefined
        ? credentials.createInsecure()
        : credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null);
    this.raw = new ProcessWorkerServiceClient(address, channel, {
      "grpc.max_receive_message_length": maxMessageBytes,
      "grpc.max_send_message_length": maxMessageBytes,
    });
    this.token = options.token;
  }

  spawn = (req: SpawnRequest, o?: CallOpts): Promise<SpawnResponse> => this.unary("spawn", req, o);
  schedule = (req: ScheduleRequest, o?: CallOpts): Promise<ScheduleResponse> => this.unary("schedule", req, o);
  group = (req: GroupRequest, o?: CallOpts): Promise<GroupResponse> => this.unary("group", req, o);
  await = (req: AwaitRequest, o?: CallOpts): Promise<AwaitResponse> => this.unary("await", req, o);
  stop = (req: StopRequest, o?: CallOpts): Promise<StopResponse> => this.unary("stop", req, o);
  listWorkers = (o?: CallOpts): Promise<ListWorkersResponse> => this.unary("listWorkers", {}, o);
  getProcess = (req: GetProcessRequest, o?: CallOpts): Promise<GetProcessResponse> => this.unary("getProcess", req, o);
  dryRun = (req: DryRunRequest, o?: CallOpts): Promise<DryRunResponse> => this.unary("dryRun", req, o);

  /** A ReadSchedule stream (cancel it with `.cancel()`). */
  readSchedule(req: ReadScheduleRequest, o?: CallOpts): ClientReadableStream<ReadScheduleResponse> {
    return this.raw.readSchedule(req, this.metadata(), callOptions(o));
  }

  /** A Compute stream (cancel it with `.cancel()`). */
  compute(req: ComputeRequest, o?: CallOpts): ClientReadableStream<ComputeResponse> {
    return this.raw.compute(req, this.metadata(), callOptions(o));
  }

  /** A Subscribe stream (cancel it with `.cancel()`). */
  subscribe(req: SubscribeRequest, o?: CallOpts): ClientReadableStream<SubscribeResponse> {
    return this.raw.subscribe(req, this.metadata(), callOptions(o));
  }

  close(): void {
    this.raw.close();
  }

  /** A call's metadata: the bearer token, if any (sent the same over TLS and plaintext). */
  private metadata(): Metadata {
    const metadata = new Metadata();
    if (this.token !== undefined) metadata.set("authorization", `Bearer ${this.token}`);
    return metadata;
  }

  private unary<Req, Res>(method: string, request: Req, o?: CallOpts): Promise<Res> {
    return new Promise((resolve, reject) => {
      const fn = (this.raw as unknown as Record<string, unknown>)[method] as (
        r: Req,
        m: Metadata,
        c: Partial<CallOptions>,
        cb: (e: Error | null, res: Res) => void,
      ) => void;
      fn.call(this.raw, request, this.metadata(), callOptions(o), (err, res) => (err ? reject(err) : resolve(res)));
    });
  }
}

function callOptions(o?: CallOpts): Partial<CallOptions> {
  return o?.timeoutMs !== undefined ? { deadline: Date.now() + o.timeoutMs } : {};
}

/** Reads a whole server stream into an array (rejects with the stream's error status). */
export function readAll<T>(stream: ClientReadableStream<T>): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const items: T[] = [];
    stream.on("data", (item: T) => items.push(item));
    stream.on("error", reject);
    stream.on("end", () => resolve(items));
  });
}

/** The slot results of one Compute or Subscribe response: its `result` (one result per
 * response, the default) or its `results` (when the request asked for several). */
export function resultsOf(response: ComputeResponse | SubscribeResponse): SlotResult[] {
  return response.result !== undefined ? [response.result] : response.results;
}
