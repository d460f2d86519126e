// Writing responses: JSON or HTML bodies, OneRoster 1.1 status-info errors, bounded request bodies.
import type http from "node:http";

export const HTML_ERROR_PAGE =
  "<!DOCTYPE html><html><head><title>Service Unavailable</title></head>" +
  "<body><h1>We&rsquo;ll be right back</h1><p>The roster service is under maintenance.</p></body></html>";

const CODE_MINOR: Record<number, string> = {
  400: "invalid_data",
  401: "unauthorisedrequest",
  404: "unknownobject",
  405: "invalid_data",
  429: "server_busy",
};

/** A OneRoster 1.1 status-info error body. */
export function imsxError(status: number, description: string, codeMinor?: string): object {
  return {
    imsx_codeMajor: "failure",
    imsx_severity: "error",
    imsx_description: description,
    imsx_CodeMinor: {
      imsx_codeMinorField: [
        {
          imsx_codeMinorFieldName: "TargetEndSystem",
          imsx_codeMinorFieldValue: codeMinor ?? CODE_MINOR[status] ?? "internal_server_error",
        },
      ],
    },
  };
}

export function send(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": typeof body === "string" ? "text/html; charset=utf-8" : "application/json; charset=utf-8",
    "Content-Length": String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

export async function readBody(req: http.IncomingMessage, limit = 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      throw new RangeError("request body too large");
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}
