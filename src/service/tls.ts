/**
 * The server's transport credentials from the options: plaintext by default; TLS with
 * tls_cert and tls_key (PEM files); mutual TLS with tls_client_ca, where a client must present
 * a certificate that CA signed or the handshake fails. Files are read once, at start.
 */
import { readFile } from "node:fs/promises";
import { ServerCredentials } from "@grpc/grpc-js";
import type { Config } from "../core/config.js";
import { ProcworkerError } from "../core/errors.js";

/** The transport options. */
export type TlsConfig = Pick<Config, "tlsCert" | "tlsKey" | "tlsClientCa">;

/** True when the options ask for TLS. */
export const usesTls = (config: TlsConfig): boolean => config.tlsCert !== "" || config.tlsKey !== "";

async function pem(option: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as { code?: string }).code ?? "error";
    throw new ProcworkerError("invalid_argument", `cannot read ${option} file ${path} (${code})`);
  }
}

/** The credentials the options describe; throws invalid_argument for an incomplete set or a
 * file that cannot be read (and grpc-js throws for PEM it cannot use). */
export async function serverCredentials(config: TlsConfig): Promise<ServerCredentials> {
  if (!usesTls(config)) {
    if (config.tlsClientCa !== "") {
      throw new ProcworkerError("invalid_argument", "tls_client_ca needs tls_cert and tls_key (mutual TLS is TLS)");
    }
    return ServerCredentials.createInsecure();
  }
  if (config.tlsCert === "" || config.tlsKey === "") {
    throw new ProcworkerError("invalid_argument", "tls_cert and tls_key are given together");
  }
  const [cert, key, ca] = await Promise.all([
    pem("tls_cert", config.tlsCert),
    pem("tls_key", config.tlsKey),
    config.tlsClientCa === "" ? undefined : pem("tls_client_ca", config.tlsClientCa),
  ]);
  return ServerCredentials.createSsl(ca ?? null, [{ private_key: key, cert_chain: cert }], ca !== undefined);
}
