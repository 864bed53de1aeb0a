/**
 * Certificates made at test time (selfsigned, EC P-256): a CA, a server certificate it signs
 * for 127.0.0.1 and localhost, a client certificate it signs, and a client certificate signed
 * by another CA (which a mutual-TLS server must refuse). Written as PEM files in `dir`.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generate } from "selfsigned";

export interface TestCerts {
  /** PEM file paths. */
  files: { ca: string; serverCert: string; serverKey: string };
  /** PEM contents, for clients. */
  ca: Buffer;
  client: { cert: Buffer; key: Buffer };
  rogueClient: { cert: Buffer; key: Buffer };
}

type Pems = { private: string; cert: string };

async function authority(name: string): Promise<Pems> {
  return generate([{ name: "commonName", value: name }], {
    keyType: "ec",
    algorithm: "sha256",
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
}

async function leaf(ca: Pems, name: string, use: "server" | "client"): Promise<Pems> {
  return generate([{ name: "commonName", value: name }], {
    keyType: "ec",
    algorithm: "sha256",
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, critical: true },
      use === "server" ? { name: "extKeyUsage", serverAuth: true } : { name: "extKeyUsage", clientAuth: true },
      ...(use === "server"
        ? [
            {
              name: "subjectAltName" as const,
              altNames: [
                { type: 7 as const, ip: "127.0.0.1" },
                { type: 2 as const, value: "localhost" },
              ],
            },
          ]
        : []),
    ],
  });
}

/** Makes the certificates and writes the server's files into `dir`. */
export async function makeCerts(dir: string): Promise<TestCerts> {
  const ca = await authority("procworker test CA");
  const rogue = await authority("some other CA");
  const [server, client, rogueClient] = await Promise.all([
    leaf(ca, "localhost", "server"),
    leaf(ca, "test client", "client"),
    leaf(rogue, "rogue client", "client"),
  ]);
  const files = {
    ca: join(dir, "ca.pem"),
    serverCert: join(dir, "server.pem"),
    serverKey: join(dir, "server-key.pem"),
  };
  await writeFile(files.ca, ca.cert);
  await writeFile(files.serverCert, server.cert);
  await writeFile(files.serverKey, server.private);
  const pair = (p: Pems) => ({ cert: Buffer.from(p.cert), key: Buffer.from(p.private) });
  return { files, ca: Buffer.from(ca.cert), client: pair(client), rogueClient: pair(rogueClient) };
}
