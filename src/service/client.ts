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

/** Options for one call: a deadline in ms from now. */
export interface CallOpts {
  timeoutMs?: number;
}

export class ProcworkerClient {
  readonly raw: ProcessWorkerServiceClient;

  constructor(address: string, maxMessageBytes = 64 * 1024 * 1024) {
    this.raw = new ProcessWorkerServiceClient(address, credentials.createInsecure(), {
      "grpc.max_receive_message_length": maxMessageBytes,
      "grpc.max_send_message_length": maxMessageBytes,
    });
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
    return this.raw.readSchedule(req, new Metadata(), callOptions(o));
  }

  /** A Compute stream (cancel it with `.cancel()`). */
  compute(req: ComputeRequest, o?: CallOpts): ClientReadableStream<ComputeResponse> {
    return this.raw.compute(req, new Metadata(), callOptions(o));
  }

  /** A Subscribe stream (cancel it with `.cancel()`). */
  subscribe(req: SubscribeRequest, o?: CallOpts): ClientReadableStream<SubscribeResponse> {
    return this.raw.subscribe(req, new Metadata(), callOptions(o));
  }

  close(): void {
    this.raw.close();
  }

  private unary<Req, Res>(method: string, request: Req, o?: CallOpts): Promise<Res> {
    return new Promise((resolve, reject) => {
      const fn = (this.raw as unknown as Record<string, unknown>)[method] as (
        r: Req,
        m: Metadata,
        c: Partial<CallOptions>,
        cb: (e: Error | null, res: Res) => void,
      ) => void;
      fn.call(this.raw, request, new Metadata(), callOptions(o), (err, res) => (err ? reject(err) : resolve(res)));
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
