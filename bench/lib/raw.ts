/**
 * The client's side of the raw baselines' process (bench/process/raw.ts): the echo server's
 * address, its CPU time, and the raw catch-up loops.
 */
import { startChild, type Child } from "./child.js";
import { echoClient, type EchoClient } from "./echo.js";
import type { CpuSample } from "./probe.js";

export interface RawCatchupResult {
  ms: number;
  cpu: CpuSample;
}

export interface RawBaselines {
  child: Child;
  address: string;
  /** A client of the echo server; `ownConnection` gives it its own HTTP/2 connection. */
  echoClient(ownConnection?: boolean): EchoClient;
  setReplyBytes(n: number): Promise<void>;
  cpu(): Promise<CpuSample>;
  catchup(args: { slots: number; commit: number; resultBytes: number; module?: Uint8Array }): Promise<RawCatchupResult>;
  close(): Promise<void>;
}

export async function startRawBaselines(): Promise<RawBaselines> {
  const child = startChild("raw");
  const { address } = await child.call<{ address: string }>("start");
  const clients: EchoClient[] = [];
  return {
    child,
    address,
    echoClient(ownConnection = false) {
      const c = echoClient(address, ownConnection);
      clients.push(c);
      return c;
    },
    setReplyBytes: (n) => child.call("setReplyBytes", n),
    cpu: () => child.call<CpuSample>("cpu"),
    catchup: ({ module, ...rest }) =>
      child.call<RawCatchupResult>("catchup", { ...rest, ...(module ? { module: Array.from(module) } : {}) }),
    async close() {
      clients.forEach((c) => c.close());
      await child.close();
    },
  };
}
