/**
 * How a failed client command reads on stderr: a gRPC status by its name and the server's
 * message (`NOT_FOUND: process … not found`), anything else as `procworker CMD: message`.
 */
import { status } from "@grpc/grpc-js";

interface StatusLike {
  code: number;
  details: string;
}

const isStatus = (error: unknown): error is StatusLike =>
  typeof error === "object" &&
  error !== null &&
  typeof (error as { code?: unknown }).code === "number" &&
  typeof (error as { details?: unknown }).details === "string";

/** The status's name (`NOT_FOUND`), or its number when grpc-js knows no name for it. */
export const statusName = (code: number): string =>
  (status as unknown as Record<number, string>)[code] ?? `STATUS_${code}`;

/**
 * The server's message as it is; grpc-js's own client-side messages lose their diagnostic
 * tail (`Deadline exceeded after 0.3s,name resolution: …`, an empty `Resolution note:`).
 */
const detailsText = (details: string): string =>
  details
    .replace(/^(Deadline exceeded after [^,]*),.*$/s, "$1")
    .replace(/\s*Resolution note:\s*$/, "")
    .trim();

/** The one line a failure prints on stderr. */
export function failureLine(command: string, error: unknown): string {
  if (isStatus(error)) return `${statusName(error.code)}: ${detailsText(error.details)}`;
  return `procworker ${command}: ${error instanceof Error ? error.message : String(error)}`;
}
