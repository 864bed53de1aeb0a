/**
 * Access control by bearer tokens (option auth_tokens_file), checked by a grpc-js server
 * interceptor before any handler runs. Each token has a role: `read` may call the methods that
 * change nothing (READ_METHODS) and reflection; `write` may call everything. Health stays open
 * (balancers probe it without credentials). A missing or unknown token is UNAUTHENTICATED, a
 * read token on a write method PERMISSION_DENIED.
 *
 * Tokens are kept only as SHA-256 digests and compared with crypto.timingSafeEqual against
 * every entry (no early exit), so neither the comparison nor a lookup reveals a token by
 * timing; no token is ever logged or echoed. The file is re-read on SIGHUP: a file that does
 * not parse leaves the tokens in force and logs an error.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { ServerInterceptingCall, type Metadata, type ServerInterceptor } from "@grpc/grpc-js";
import { ProcworkerError } from "../core/errors.js";
import type { Logger } from "../core/log.js";
import type { Metrics } from "./metrics.js";
import { PROCESS_WORKER_SERVICE_NAME } from "./health.js";
import { toServiceError } from "./status.js";

/** What a token may do. */
export type Role = "read" | "write";

/** The ProcessWorkerService methods a `read` token may call; every other method needs
 * `write` (Spawn, Schedule, Stop, and any method added later until it is listed here). */
export const READ_METHODS: ReadonlySet<string> = new Set([
  "Await",
  "Compute",
  "Subscribe",
  "Group",
  "ListWorkers",
  "GetProcess",
  "ReadSchedule",
  "DryRun",
]);

/** The shortest token accepted: shorter ones are guessable. */
export const MIN_TOKEN_LENGTH = 16;

/** The role a call of `path` ("/package.Service/Method") needs; undefined: open to all. */
export function requiredRole(path: string): Role | undefined {
  const [, service = "", method = ""] = path.split("/");
  if (service === "grpc.health.v1.Health") return undefined;
  if (service === "grpc.reflection.v1.ServerReflection" || service === "grpc.reflection.v1alpha.ServerReflection") {
    return "read";
  }
  if (service === PROCESS_WORKER_SERVICE_NAME && READ_METHODS.has(method)) return "read";
  return "write";
}

/** A parsed tokens file: the digest and role of each token. */
export interface Tokens {
  readonly entries: readonly { digest: Buffer; role: Role }[];
}

const digestOf = (token: string): Buffer => createHash("sha256").update(token, "utf8").digest();

/**
 * Parses a tokens file: one `ROLE TOKEN` a line (ROLE is read or write; TOKEN at least
 * MIN_TOKEN_LENGTH printable ASCII characters without spaces), `#` starts a comment line,
 * blank lines are ignored. Errors name the line, never the token.
 */
export function parseTokens(text: string): Tokens {
  const entries: { digest: Buffer; role: Role }[] = [];
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const bad = (why: string): never => {
      throw new ProcworkerError("invalid_argument", `tokens file line ${index + 1}: ${why}`);
    };
    const [role, token, ...extra] = line.split(/\s+/);
    if (role !== "read" && role !== "write") bad("expected `read TOKEN` or `write TOKEN`");
    if (token === undefined || extra.length > 0) bad("expected a role and one token");
    const value = token as string;
    if (!/^[\x21-\x7e]+$/.test(value)) bad("a token is printable ASCII without spaces");
    if (value.length < MIN_TOKEN_LENGTH) bad(`a token has at least ${MIN_TOKEN_LENGTH} characters`);
    const digest = digestOf(value);
    const key = digest.toString("hex");
    if (seen.has(key)) bad("a token listed twice");
    seen.add(key);
    entries.push({ digest, role: role as Role });
  });
  return { entries };
}

/** Reads and parses a tokens file. */
export async function readTokens(path: string): Promise<Tokens> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code ?? "error";
    throw new ProcworkerError("invalid_argument", `cannot read auth_tokens_file ${path} (${code})`);
  }
  return parseTokens(text);
}

/** The role of `token`, if it is one: compared against every entry in constant time. */
export function roleOf(tokens: Tokens, token: string): Role | undefined {
  const digest = digestOf(token);
  let role: Role | undefined;
  for (const entry of tokens.entries) {
    // Every entry is compared (no early exit): the time does not depend on which matched.
    if (timingSafeEqual(entry.digest, digest)) role = entry.role;
  }
  return role;
}

const BEARER = /^Bearer +([\x21-\x7e]+) *$/i;

/** The error for a call of `path` with `metadata` under `tokens`, or undefined if allowed. */
export function accessError(tokens: Tokens, path: string, metadata: Metadata): ProcworkerError | undefined {
  const needed = requiredRole(path);
  if (needed === undefined) return undefined;
  const header = metadata.get("authorization")[0];
  if (header === undefined) {
    return new ProcworkerError("unauthenticated", "this server needs a bearer token (authorization: Bearer <token>)");
  }
  const match = typeof header === "string" ? BEARER.exec(header) : null;
  if (match === null) return new ProcworkerError("unauthenticated", "the authorization metadata is not Bearer <token>");
  const role = roleOf(tokens, match[1] as string);
  if (role === undefined) return new ProcworkerError("unauthenticated", "the bearer token is not valid");
  if (needed === "write" && role !== "write") {
    return new ProcworkerError("permission_denied", `a read token may not call ${path.split("/")[2] ?? path}`);
  }
  return undefined;
}

/** The tokens in force and how they change. */
export class Access {
  constructor(
    private tokens: Tokens,
    private readonly path: string,
    private readonly logger: Logger,
  ) {}

  /** Loads `path` and logs how many tokens of each role it holds. */
  static async load(path: string, logger: Logger): Promise<Access> {
    const access = new Access(await readTokens(path), path, logger);
    access.logLoaded("tokens_loaded");
    return access;
  }

  /** The error for a call, or undefined if allowed (see accessError). */
  check(path: string, metadata: Metadata): ProcworkerError | undefined {
    return accessError(this.tokens, path, metadata);
  }

  /** Re-reads the file (SIGHUP). A file that cannot be read or parsed keeps the tokens in
   * force; the error is logged (it names the line, never a token). Resolves either way. */
  async reload(): Promise<boolean> {
    try {
      this.tokens = await readTokens(this.path);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.logger.error(
        { event: "tokens_reload_failed", error: message },
        "tokens file not reloaded: keeping the tokens in force",
      );
      return false;
    }
    this.logLoaded("tokens_reloaded");
    return true;
  }

  private logLoaded(event: string): void {
    const read = this.tokens.entries.filter((e) => e.role === "read").length;
    this.logger.info({ event, read, write: this.tokens.entries.length - read }, "bearer tokens loaded");
  }
}

/**
 * The interceptor that enforces `access` on every call: an allowed call goes on untouched;
 * any other ends at once with its status (through the one status mapping), is counted under
 * its method in procworker_rpc_total, and logged (method and peer, never the token).
 */
export function accessInterceptor(access: Access, logger: Logger, metrics: Metrics): ServerInterceptor {
  return (method, call) =>
    new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, proceed) => {
            const refused = access.check(method.path, metadata);
            if (refused === undefined) return proceed(metadata);
            const name = method.path.split("/")[2] ?? method.path;
            const status = toServiceError(refused, logger, name);
            metrics.startCall(name)(refused.code.toUpperCase());
            logger.info(
              { event: "access_denied", method: name, peer: call.getPeer(), code: refused.code },
              refused.message,
            );
            call.sendStatus({
              code: status.code as number,
              details: status.details ?? "",
              metadata: status.metadata ?? null,
            });
          },
        }),
    });
}
