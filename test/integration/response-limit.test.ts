// providers.*.maxResponseBytes (issue 9, item 5) against a real server on a loopback port: a body
// of exactly the limit is read, one byte more fails the run without a retry, naming the URL (no
// credentials) and the limit, for plain bodies (with and without Content-Length) and gzip ones,
// whose limit counts decoded bytes. A gzip bomb fails at the default limit.
import type { ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { providerSchema, type ProviderConfig } from "../../src/config/schema.js";
import { ProviderError } from "../../src/errors.js";
import { createHttpClient } from "../../src/providers/http.js";
import { sendJson, withServer } from "../helpers/with-server.js";

const LIMIT = 100_000;

function providerConfig(baseUrl: string, overrides: Record<string, unknown> = {}): ProviderConfig {
  const parsed = providerSchema.parse({
    type: "oneroster",
    baseUrl,
    auth: { method: "none" },
    maxResponseBytes: LIMIT,
    retry: { limit: 3, baseDelayMs: 5, maxDelayMs: 50 },
    ...overrides,
  });
  return { ...parsed, name: "district" };
}

/** A JSON document of exactly `size` bytes. */
function jsonOfSize(size: number): Buffer {
  const head = '{"users":[],"pad":"';
  const tail = '"}';
  return Buffer.from(`${head}${"x".repeat(size - head.length - tail.length)}${tail}`);
}

type Send = (res: ServerResponse, body: Buffer) => void;

const encodings: Record<string, Send> = {
  "plain, with Content-Length": (res, body) => {
    res.writeHead(200, { "content-type": "application/json", "content-length": String(body.length) });
    res.end(body);
  },
  "plain, chunked (no Content-Length)": (res, body) => {
    res.writeHead(200, { "content-type": "application/json" });
    for (let i = 0; i < body.length; i += 7000) {
      res.write(body.subarray(i, i + 7000));
    }
    res.end();
  },
  gzip: (res, body) => {
    const wire = gzipSync(body);
    res.writeHead(200, {
      "content-type": "application/json",
      "content-encoding": "gzip",
      "content-length": String(wire.length),
    });
    res.end(wire);
  },
};

async function fetchOnce(send: Send, size: number, baseUrlOf = (url: string) => `${url}/api/`) {
  return withServer(
    (_req, res) => send(res, jsonOfSize(size)),
    async (server) => {
      const http = createHttpClient(providerConfig(baseUrlOf(server.url)));
      try {
        const outcome = await http.getJson("users", { limit: 10 }).then(
          (response) => ({ response, error: undefined }),
          (error: unknown) => ({ response: undefined, error }),
        );
        return { ...outcome, requests: server.requests.length };
      } finally {
        http.close();
      }
    },
  );
}

describe("maxResponseBytes", () => {
  for (const [name, send] of Object.entries(encodings)) {
    describe(name, () => {
      it("reads a body of exactly maxResponseBytes", async () => {
        const { response, error } = await fetchOnce(send, LIMIT);
        expect(error).toBeUndefined();
        expect((response?.body as { pad: string }).pad).toHaveLength(LIMIT - 21);
      });

      it("fails one byte over, without a retry, naming the URL and the limit", async () => {
        const { error, requests } = await fetchOnce(
          send,
          LIMIT + 1,
          (url) => `${url.replace("//", "//admin:hunter2@")}/api/`,
        );
        expect(error).toBeInstanceOf(ProviderError);
        const failure = error as ProviderError;
        expect(failure.code).toBe("PROVIDER_RESPONSE");
        expect(failure.retriable).toBe(false);
        expect(failure.message).toMatch(
          /^provider district: the response at http:\/\/127\.0\.0\.1:\d+\/api\/users\?limit=10 /,
        );
        expect(failure.message).toContain(`${LIMIT} bytes`);
        expect(failure.message).toContain("providers.district.maxResponseBytes");
        expect(failure.message).not.toContain("hunter2");
        expect(requests).toBe(1);
      });
    });
  }

  it("fails a gzip bomb (2 MB expanding to 2 GiB of spaces) at the default limit", async () => {
    const { error, requests } = await withServer(
      async (_req, res) => {
        res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
        const chunk = Buffer.alloc(1 << 20, 0x20);
        let left = 2048;
        const zeros = new Readable({
          read() {
            this.push(left-- > 0 ? chunk : null);
          },
        });
        await pipeline(zeros, createGzip(), res).catch(() => undefined);
      },
      async (server) => {
        // The default limit (64 MiB), as a provider configured without the key gets it.
        const http = createHttpClient(providerConfig(`${server.url}/api/`, { maxResponseBytes: undefined }));
        try {
          const failure = await http.getJson("users").catch((e: unknown) => e);
          return { error: failure, requests: server.requests.length };
        } finally {
          http.close();
        }
      },
    );
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).message).toContain("exceeds 67108864 bytes (64 MiB) once decoded");
    expect(requests).toBe(1);
  });

  it("bounds the OAuth 2 token response too", async () => {
    await withServer(
      (req, res) => {
        if (req.url?.startsWith("/oauth/token")) {
          sendJson(res, { access_token: "t", expires_in: 3600, pad: "x".repeat(LIMIT) });
        } else {
          sendJson(res, { users: [] });
        }
      },
      async (server) => {
        const http = createHttpClient(
          providerConfig(`${server.url}/api/`, {
            auth: { method: "oauth2", clientId: "id", clientSecret: "very-secret" },
          }),
        );
        try {
          const error = await http.getJson("users").catch((e: unknown) => e);
          expect(error).toBeInstanceOf(ProviderError);
          expect((error as ProviderError).message).toContain(
            `provider district: the token response at ${server.url}/oauth/token exceeds ${LIMIT} bytes`,
          );
          expect((error as ProviderError).retriable).toBe(false);
          expect(server.requests).toEqual(["/oauth/token"]);
        } finally {
          http.close();
        }
      },
    );
  });
});
