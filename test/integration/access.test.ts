/**
 * Access against real servers: TLS (a client must trust the server's CA; plaintext fails),
 * mutual TLS (a client without a certificate the CA signed is refused), and bearer tokens
 * (none or unknown: UNAUTHENTICATED; a read token on a write: PERMISSION_DENIED; health open;
 * reflection needs a token). Certificates are made at test time.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { defaultConfig, type Config } from "../../src/core/config.js";
import { silentLogger } from "../../src/core/log.js";
import { ProcworkerClient } from "../../src/service/client.js";
import { startServer } from "../../src/service/server.js";
import type { ComputeResponse } from "../../src/generated/procworker/v1/process_worker_service.js";
import type { SlotResult } from "../../src/generated/procworker/v1/types.js";
import { makeCerts, type TestCerts } from "../support/certs.js";
import { runHere } from "../support/cli.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { msg, tagsOf, take } from "../support/wire.js";

let dir: string;
let certs: TestCerts;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "procworker-access-"));
  certs = await makeCerts(dir);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let s: TestServer | undefined;
const extra: ProcworkerClient[] = [];
afterEach(async () => {
  extra.splice(0).forEach((c) => c.close());
  await s?.close();
  s = undefined;
});

const CALL = { timeoutMs: 10_000 };
const READ_TOKEN = "read-token-0123456789abcdef";
const WRITE_TOKEN = "write-token-0123456789abcdef";

/** Starting a server that must refuse its options: it fails before opening anything. */
const refusedStart = (overrides: Partial<Config>): Promise<unknown> =>
  startServer({
    config: defaultConfig({ port: 0, dataDir: join(dir, "never"), ...overrides }),
    logger: silentLogger(),
  });

function client(options: ConstructorParameters<typeof ProcworkerClient>[1]): ProcworkerClient {
  const c = new ProcworkerClient(s!.address, options);
  extra.push(c);
  return c;
}

async function codeOf(call: Promise<unknown>): Promise<number> {
  return call.then(
    () => status.OK,
    (e: ServiceError) => e.code,
  );
}

describe("TLS", () => {
  it("serves a client that trusts its CA, and no plaintext client", async () => {
    s = await startTestServer(
      { tlsCert: certs.files.serverCert, tlsKey: certs.files.serverKey },
      { client: { tls: { ca: certs.ca } } },
    );
    expect(await s.client.listWorkers(CALL)).toEqual({ workers: [] });
    expect(await codeOf(client({}).listWorkers(CALL))).toBe(status.UNAVAILABLE);
    // A client that trusts only the system's roots does not trust this server.
    expect(await codeOf(client({ tls: {} }).listWorkers(CALL))).toBe(status.UNAVAILABLE);
  });

  it("with tls_client_ca, refuses a client without a certificate that CA signed", async () => {
    s = await startTestServer(
      { tlsCert: certs.files.serverCert, tlsKey: certs.files.serverKey, tlsClientCa: certs.files.ca },
      { client: { tls: { ca: certs.ca, ...certs.client } } },
    );
    expect(await s.client.listWorkers(CALL)).toEqual({ workers: [] });
    expect(await codeOf(client({ tls: { ca: certs.ca } }).listWorkers(CALL))).toBe(status.UNAVAILABLE);
    expect(await codeOf(client({ tls: { ca: certs.ca, ...certs.rogueClient } }).listWorkers(CALL))).toBe(
      status.UNAVAILABLE,
    );
  });

  it("refuses to start with half a certificate or a file it cannot read", async () => {
    await expect(refusedStart({ tlsCert: certs.files.serverCert })).rejects.toMatchObject({
      code: "invalid_argument",
      message: "tls_cert and tls_key are given together",
    });
    await expect(refusedStart({ tlsClientCa: certs.files.ca })).rejects.toMatchObject({ code: "invalid_argument" });
    await expect(
      refusedStart({ tlsCert: join(dir, "missing.pem"), tlsKey: certs.files.serverKey }),
    ).rejects.toMatchObject({ message: `cannot read tls_cert file ${join(dir, "missing.pem")} (ENOENT)` });
  });
});

describe("bearer tokens", () => {
  async function tokenServer(tls = false): Promise<TestServer> {
    const file = join(dir, "tokens");
    await writeFile(file, `# who may call\n\nread ${READ_TOKEN}\nwrite   ${WRITE_TOKEN}  \n`);
    const transport = tls ? { tlsCert: certs.files.serverCert, tlsKey: certs.files.serverKey } : {};
    return startTestServer(
      { authTokensFile: file, ...transport },
      { client: { token: WRITE_TOKEN, ...(tls ? { tls: { ca: certs.ca } } : {}) } },
    );
  }
  const spawnRequest = { process: msg({ "Execution-Device": "counter@1.0" }), module: Buffer.alloc(0) };

  it("the CLI client speaks TLS with --ca, mutual TLS with --cert/--key, and sends --token or PROCWORKER_TOKEN", async () => {
    s = await tokenServer(true);
    const files = { cert: join(dir, "client.pem"), key: join(dir, "client-key.pem") };
    await writeFile(files.cert, certs.client.cert);
    await writeFile(files.key, certs.client.key);
    const address = ["--address", s.address, "--json"];
    const ok = await runHere(["workers", ...address, "--ca", certs.files.ca], {
      env: { PROCWORKER_TOKEN: READ_TOKEN },
    });
    expect([ok.code, ok.stdout.trim()]).toEqual([0, '{"workers":[]}']);
    const spawned = await runHere(
      ["spawn", "--tag", "Execution-Device=counter@1.0", ...address, "--ca", certs.files.ca, "--token", WRITE_TOKEN],
      { env: {} },
    );
    expect(spawned.code).toBe(0);
    const denied = await runHere(["workers", ...address, "--ca", certs.files.ca], { env: {} });
    expect([denied.code, denied.stderr]).toEqual([1, expect.stringMatching(/^UNAUTHENTICATED: /)]);
    const readOnly = await runHere(
      ["spawn", "--tag", "Execution-Device=counter@1.0", ...address, "--ca", certs.files.ca],
      {
        env: { PROCWORKER_TOKEN: READ_TOKEN },
      },
    );
    expect([readOnly.code, readOnly.stderr]).toEqual([1, "PERMISSION_DENIED: a read token may not call Spawn\n"]);
    const mutual = await runHere(
      ["workers", ...address, "--ca", certs.files.ca, "--cert", files.cert, "--key", files.key, "--token", READ_TOKEN],
      { env: {} },
    );
    expect(mutual.code).toBe(0);
    const half = await runHere(["workers", ...address, "--ca", certs.files.ca, "--cert", files.cert], { env: {} });
    expect([half.code, half.stderr]).toEqual([2, expect.stringContaining("--cert and --key go together")]);
  });

  it("answers no token or an unknown one with UNAUTHENTICATED, a read token on a write with PERMISSION_DENIED", async () => {
    s = await tokenServer();
    const { processId } = await s.client.spawn(spawnRequest, CALL);
    const none = client({});
    const unknown = client({ token: "not-a-token-0123456789abcdef" });
    const reader = client({ token: READ_TOKEN });
    for (const c of [none, unknown]) {
      expect(await codeOf(c.listWorkers(CALL))).toBe(status.UNAUTHENTICATED);
      expect(await codeOf(c.spawn(spawnRequest, CALL))).toBe(status.UNAUTHENTICATED);
    }
    const refused = (await reader.spawn(spawnRequest, CALL).catch((e: ServiceError) => e)) as ServiceError;
    expect(refused.code).toBe(status.PERMISSION_DENIED);
    expect(refused.details).toBe("a read token may not call Spawn");
    expect(await codeOf(reader.schedule({ processId, messages: [msg({})] }, CALL))).toBe(status.PERMISSION_DENIED);
    expect(await codeOf(reader.stop({ processId, skipSnapshot: false }, CALL))).toBe(status.PERMISSION_DENIED);
    // What a read token may do.
    expect(await reader.listWorkers(CALL)).toEqual({ workers: [] });
    expect((await reader.getProcess({ processId }, CALL)).processId).toBe(processId);
    expect((await reader.await({ processId, slot: 0n }, CALL)).result?.output?.tags.get("Total")).toBe("0");
    // The write token may do everything.
    expect((await s.client.schedule({ processId, messages: [msg({ Amount: "2" })] }, CALL)).assignments).toHaveLength(
      1,
    );
    // Refusals are counted under their method.
    const metrics = await s.server.metrics.registry.getSingleMetricAsString("procworker_rpc_total");
    expect(metrics).toContain('procworker_rpc_total{method="Spawn",code="PERMISSION_DENIED"} 1');
    expect(metrics).toContain('procworker_rpc_total{method="ListWorkers",code="UNAUTHENTICATED"} 2');
  });

  it("streams over TLS with a token: Compute and Subscribe, one result per response and several", async () => {
    s = await tokenServer(true);
    const reader = client({ token: READ_TOKEN, tls: { ca: certs.ca } });
    const slotsOf = (r: { result?: SlotResult | undefined; results: SlotResult[] }) =>
      r.result ? [r.result] : r.results;
    for (const [perResponse, initial] of [
      [0, 0],
      [16, 10],
    ]) {
      const process = msg({ "Execution-Device": "counter@1.0", Initial: String(initial) });
      const { processId } = await s.client.spawn({ process, module: Buffer.alloc(0) }, CALL);
      await s.client.schedule({ processId, messages: [msg({ Amount: "2" }), msg({}), msg({ Amount: "3" })] }, CALL);
      const totals: string[] = [];
      for await (const r of s.client.compute({ processId, maxResultsPerResponse: perResponse }, CALL)) {
        for (const result of slotsOf(r as ComputeResponse)) totals.push(`${result.slot}:${tagsOf(result)["Total"]}`);
      }
      expect(totals).toEqual([0, 2, 3, 6].map((add, slot) => `${slot}:${initial! + add}`));
      const [first] = await take(reader.subscribe({ processId, fromSlot: 1n, maxResultsPerResponse: perResponse }), 1);
      expect(slotsOf(first!)[0]?.slot).toBe(1n);
    }
  });

  it("refuses authorization metadata that is not a bearer token", async () => {
    s = await tokenServer();
    const raw = new Client(s.address, credentials.createInsecure());
    try {
      for (const value of [`Basic ${WRITE_TOKEN}`, "Bearer", `Bearer ${WRITE_TOKEN} extra`]) {
        const metadata = new Metadata();
        metadata.set("authorization", value);
        const code = await new Promise<number>((resolve) =>
          raw.makeUnaryRequest(
            "/procworker.v1.ProcessWorkerService/ListWorkers",
            (b: Buffer) => b,
            (b: Buffer) => b,
            Buffer.alloc(0),
            metadata,
            (error) => resolve(error?.code ?? status.OK),
          ),
        );
        expect(code, value).toBe(status.UNAUTHENTICATED);
      }
    } finally {
      raw.close();
    }
  });

  it("keeps health open, and reflection needs a token", async () => {
    s = await tokenServer(true);
    const raw = new Client(s.address, credentials.createSsl(certs.ca));
    const call = (path: string, metadata = new Metadata()) =>
      new Promise<number>((resolve) => {
        if (path.includes("Reflection")) {
          const stream = raw.makeBidiStreamRequest(
            path,
            (b: Buffer) => b,
            (b: Buffer) => b,
            metadata,
          );
          stream.on("data", () => {
            stream.end();
          });
          stream.on("error", (e: ServiceError) => resolve(e.code));
          stream.on("end", () => resolve(status.OK));
          stream.write(Buffer.from([0x3a, 0x01, 0x2a])); // list_services: "*"
        } else {
          raw.makeUnaryRequest(
            path,
            (b: Buffer) => b,
            (b: Buffer) => b,
            Buffer.alloc(0),
            metadata,
            (error) => resolve(error?.code ?? status.OK),
          );
        }
      });
    try {
      expect(await call("/grpc.health.v1.Health/Check")).toBe(status.OK);
      const reflection = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
      expect(await call(reflection)).toBe(status.UNAUTHENTICATED);
      const withRead = new Metadata();
      withRead.set("authorization", `Bearer ${READ_TOKEN}`);
      expect(await call(reflection, withRead)).toBe(status.OK);
      // Over TLS, the token works the same.
      expect(await s.client.listWorkers(CALL)).toEqual({ workers: [] });
    } finally {
      raw.close();
    }
  });

  it("refuses to start with a tokens file that does not parse, naming the line and never the token", async () => {
    const file = join(dir, "bad-tokens");
    await writeFile(file, `read ${READ_TOKEN}\nadmin ${WRITE_TOKEN}\n`);
    const error = (await refusedStart({ authTokensFile: file }).catch((e: Error) => e)) as Error;
    expect(error.message).toBe("tokens file line 2: expected `read TOKEN` or `write TOKEN`");
    expect(existsSync(join(dir, "never"))).toBe(false);
    await writeFile(file, "write short\n");
    await expect(refusedStart({ authTokensFile: file })).rejects.toThrow(
      "tokens file line 1: a token has at least 16 characters",
    );
  });
});
