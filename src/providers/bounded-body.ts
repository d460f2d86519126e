// Reading a provider's response within a byte limit (SPEC §4, issue 9 item 5). A provider controls
// what it sends: a 2 MB gzip body that expands to 2 GiB once killed the process with a V8 fatal
// error. got decompresses gzip, deflate and br before the stream hands out chunks, so the bytes
// counted here are the decoded ones; the request is aborted as soon as they pass the limit. A
// plain body whose Content-Length already says it is too large fails before its first byte is read.
import type { IncomingHttpHeaders } from "node:http";
import type { Got, OptionsInit } from "got";

/** The decoded body went past `limit` bytes; `declared` is set when Content-Length said so first. */
export class ResponseTooLargeError extends Error {
  constructor(
    readonly limit: number,
    readonly declared?: number,
  ) {
    super(
      declared === undefined
        ? `exceeds ${describeBytes(limit)} once decoded`
        : `declares ${declared} bytes (Content-Length), over ${describeBytes(limit)}`,
    );
    this.name = "ResponseTooLargeError";
  }
}

export interface BoundedResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The decoded body; empty when `wantBody` said no for this status. */
  body: Buffer;
}

export interface BoundedRequest {
  /** Decoded bytes allowed in the body; one more fails the request. */
  maxBytes: number;
  /** Whether the body of a response with this status is read at all (a retried 503's is not). */
  wantBody?: (status: number) => boolean;
}

/**
 * Sends the request and reads the decoded body into a list of chunks (one Buffer.concat at the end:
 * no string is built until the caller decodes the whole). Rejects with ResponseTooLargeError past
 * `maxBytes`, and with got's error for a network failure or timeout.
 */
export function fetchBounded(
  client: Got,
  url: string,
  options: OptionsInit,
  { maxBytes, wantBody = () => true }: BoundedRequest,
): Promise<BoundedResponse> {
  return new Promise((resolve, reject) => {
    const stream = client.stream(url, options as never);
    const chunks: Buffer[] = [];
    let size = 0;
    let status = 0;
    let headers: IncomingHttpHeaders = {};
    let settled = false;
    const finish = (outcome: () => void): void => {
      if (!settled) {
        settled = true;
        outcome();
      }
    };
    // Destroying the stream aborts the request and the decompression; errors after settling are moot.
    const stop = (): void => {
      stream.removeAllListeners("data");
      stream.destroy();
    };

    stream.once("response", (response: { statusCode: number; headers: IncomingHttpHeaders }) => {
      status = response.statusCode;
      headers = response.headers;
      // decompress-response drops Content-Length from a body it decodes: what is left is a plain length.
      const declared = Number(headers["content-length"]);
      if (Number.isFinite(declared) && declared > maxBytes) {
        finish(() => reject(new ResponseTooLargeError(maxBytes, declared)));
        stop();
      } else if (!wantBody(status)) {
        finish(() => resolve({ status, headers, body: Buffer.alloc(0) }));
        stop();
      }
    });
    stream.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        chunks.length = 0;
        finish(() => reject(new ResponseTooLargeError(maxBytes)));
        stop();
        return;
      }
      chunks.push(chunk);
    });
    stream.once("end", () => {
      const body = Buffer.concat(chunks, size);
      chunks.length = 0; // the listeners' closure outlives this; the copy is all that is needed
      finish(() => resolve({ status, headers, body }));
    });
    stream.on("error", (error: Error) => finish(() => reject(error)));
  });
}

/** `67108864 bytes (64 MiB)`: exact for the edge, rounded for people. */
export function describeBytes(bytes: number): string {
  const units = [
    ["GiB", 2 ** 30],
    ["MiB", 2 ** 20],
    ["KiB", 2 ** 10],
  ] as const;
  const unit = units.find(([, size]) => bytes >= size);
  if (!unit) {
    return `${bytes} bytes`;
  }
  const value = bytes / unit[1];
  return `${bytes} bytes (${Number.isInteger(value) ? value : value.toFixed(1)} ${unit[0]})`;
}
