// The `gzipBomb` fault's body: `{"users":[`, spaces, `]}`, `bytes` long once decoded, sent as
// concatenated gzip members (RFC 1952 §2.2, which every gunzip reads as one stream). One member of
// 1 MiB of spaces is compressed once, to about 1 KB, and sent again and again: a 2 GiB body costs
// the sandbox ~2 MB of writes and no compression work per request, and nothing is held in memory.
import type http from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { gzipSync } from "node:zlib";

const MEMBER_BYTES = 2 ** 20;
const HEAD = '{"users":[';
const TAIL = "]}";
let spaces: Buffer | undefined;

/** The gzip members of a body of exactly `bytes` decoded bytes (at least HEAD and TAIL). */
function* members(bytes: number): Generator<Buffer> {
  spaces ??= gzipSync(Buffer.alloc(MEMBER_BYTES, 0x20));
  yield gzipSync(HEAD);
  let left = Math.max(0, bytes - HEAD.length - TAIL.length);
  for (; left >= MEMBER_BYTES; left -= MEMBER_BYTES) {
    yield spaces;
  }
  yield gzipSync(Buffer.alloc(left, 0x20));
  yield gzipSync(TAIL);
}

/** Answers 200 with the bomb; a client that hangs up ends it (no error: that is what clients should do). */
export async function sendGzipBomb(res: http.ServerResponse, bytes: number): Promise<void> {
  res.writeHead(200, { "Content-Type": "application/json; charset=utf-8", "Content-Encoding": "gzip" });
  await pipeline(Readable.from(members(bytes)), res).catch(() => undefined);
}
