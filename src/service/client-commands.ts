/**
 * The CLI's client commands: each RPC from the shell, printing JSON (slots as decimal
 * strings, bytes as base64, results one per line for streams). Exit code 0 on success,
 * 1 with the gRPC status on failure.
 */
import { readFileSync } from "node:fs";
import { status, type ServiceError } from "@grpc/grpc-js";
import { groupKindToJSON } from "../generated/procworker/v1/types.js";
import { ProcworkerClient, readAll } from "./client.js";

export const CLIENT_USAGE = `client commands (default --address 127.0.0.1:50051):
  spawn --tag Name=Value … [--data TEXT] [--module FILE]      define a process, print its id
  schedule PROCESS --tag Name=Value … [--data TEXT]            append one message
  compute PROCESS [--slot N]                                   compute and print each slot
  await PROCESS [--slot N] [--timeout-ms MS]                   wait for one slot's result
  subscribe PROCESS [--from N]                                 follow results until Ctrl-C
  group PROCESS [--path P] [--slot N]                          the group of a request
  stop PROCESS [--skip-snapshot]                               stop the process's worker
  workers                                                      list live workers`;

interface Args {
  positional: string[];
  tags: Map<string, string>;
  flags: Map<string, string>;
}

function parse(argv: string[]): Args {
  const args: Args = { positional: [], tags: new Map(), flags: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (!arg.startsWith("--")) {
      args.positional.push(arg);
    } else if (arg === "--tag") {
      const tag = argv[++i] ?? "";
      const at = tag.indexOf("=");
      if (at <= 0) throw new Error(`--tag takes Name=Value, got ${JSON.stringify(tag)}`);
      args.tags.set(tag.slice(0, at), tag.slice(at + 1));
    } else if (arg === "--skip-snapshot") {
      args.flags.set("skip-snapshot", "true");
    } else {
      args.flags.set(arg.slice(2), argv[++i] ?? "");
    }
  }
  return args;
}

/** JSON for people and scripts: slots (uint64) as decimal strings, bytes as base64 (as
 * grpcurl prints them), maps as objects. Buffers reach the replacer already turned into
 * `{type: "Buffer", data: [...]}` by their toJSON, so that form is recognised. */
const json = (value: unknown): string =>
  JSON.stringify(value, (_, v: unknown) => {
    if (typeof v === "bigint") return v.toString();
    if (v instanceof Map) return Object.fromEntries(v as Map<string, unknown>);
    const buffer = v as { type?: unknown; data?: unknown };
    if (buffer !== null && typeof buffer === "object" && buffer.type === "Buffer" && Array.isArray(buffer.data)) {
      return Buffer.from(buffer.data as number[]).toString("base64");
    }
    return v;
  });
const slotFlag = (args: Args, name: string): bigint | undefined => {
  const text = args.flags.get(name);
  return text === undefined ? undefined : BigInt(text);
};
const processArg = (args: Args): string => {
  const id = args.positional[0];
  if (id === undefined) throw new Error("a process id is required");
  return id;
};
const messageOf = (args: Args) => ({ tags: args.tags, data: Buffer.from(args.flags.get("data") ?? "", "utf8") });

/** Runs one client command; returns the exit code. */
export async function runClientCommand(command: string, argv: string[]): Promise<number> {
  const args = parse(argv);
  const client = new ProcworkerClient(args.flags.get("address") ?? "127.0.0.1:50051");
  const timeout = args.flags.get("timeout-ms");
  const opts = timeout !== undefined ? { timeoutMs: Number(timeout) } : {};
  try {
    switch (command) {
      case "spawn": {
        const module = args.flags.get("module");
        console.log(
          json(
            await client.spawn(
              { process: messageOf(args), module: module ? readFileSync(module) : Buffer.alloc(0) },
              opts,
            ),
          ),
        );
        return 0;
      }
      case "schedule":
        console.log(json(await client.schedule({ processId: processArg(args), messages: [messageOf(args)] }, opts)));
        return 0;
      case "compute": {
        const slot = slotFlag(args, "slot");
        const stream = client.compute({ processId: processArg(args), ...(slot !== undefined ? { slot } : {}) }, opts);
        for (const item of await readAll(stream)) console.log(json(item.result));
        return 0;
      }
      case "await": {
        const slot = slotFlag(args, "slot");
        console.log(
          json(
            (await client.await({ processId: processArg(args), ...(slot !== undefined ? { slot } : {}) }, opts)).result,
          ),
        );
        return 0;
      }
      case "subscribe": {
        const stream = client.subscribe({ processId: processArg(args), fromSlot: slotFlag(args, "from") ?? 0n });
        process.once("SIGINT", () => stream.cancel());
        stream.on("data", (item: { result?: unknown }) => console.log(json(item.result)));
        await new Promise<void>((resolve, reject) => {
          stream.on("end", resolve);
          stream.on("error", (e: ServiceError) => (e.code === status.CANCELLED ? resolve() : reject(e)));
        });
        return 0;
      }
      case "group": {
        const slot = slotFlag(args, "slot");
        const request = {
          processId: processArg(args),
          path: args.flags.get("path") ?? "compute",
          ...(slot !== undefined ? { slot } : {}),
        };
        const { group, kind } = await client.group(request, opts);
        console.log(json({ group, kind: groupKindToJSON(kind) }));
        return 0;
      }
      case "stop":
        console.log(
          json(await client.stop({ processId: processArg(args), skipSnapshot: args.flags.has("skip-snapshot") }, opts)),
        );
        return 0;
      case "workers":
        console.log(json(await client.listWorkers(opts)));
        return 0;
      default:
        console.error(`procworker: unknown command ${JSON.stringify(command)}\n\n${CLIENT_USAGE}`);
        return 2;
    }
  } catch (error) {
    const e = error as Partial<ServiceError>;
    console.error(`procworker: ${e.code !== undefined ? `status ${e.code}: ${e.details}` : String(error)}`);
    return 1;
  } finally {
    client.close();
  }
}
