// End to end: `validate` against providers that are down. A sync waits out an outage with the
// provider's `retry` policy (about 20 s with the defaults); `validate` says within its `--timeout`
// (default 5 s) which provider and which URL did not answer, and exits 1. The providers here are
// real loopback sockets: a port nobody listens on, a server that accepts and never answers, and
// HTTP servers that fail once or always.
import { writeFile } from "node:fs/promises";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { assertBuilt } from "../helpers/cli.js";
import { sendJson, withServer } from "../helpers/with-server.js";
import { STEP_TIMEOUT, Workspace } from "./fixture.js";

const SECRET = "validate-secret-never-printed";

interface ValidateJson {
  ok: boolean;
  providers: { provider: string; type: string; ok: boolean; error: string | null }[];
}

/**
 * A config whose one provider is at `baseUrl`, with the schema's defaults for `retry` and
 * `timeoutMs` (6 retries, 30 s per request): what an admin's config has.
 */
function configFor(baseUrl: string, auth: Record<string, string> = { method: "none" }): string {
  return stringify({
    database: { url: "file:./db" },
    providers: { district: { type: "oneroster", baseUrl, auth } },
    mappings: [{ name: "everyone", provider: "district", users: "students", product: "p" }],
  });
}

/** A loopback port that was free a moment ago and has no listener now. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A TCP server that accepts connections and never says a word. */
async function silentServer(): Promise<{
  server: Server;
  port: number;
  sockets: Set<Socket>;
  accepted: () => number;
}> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port, sockets, accepted: () => accepted };
}

describe("validate against a provider that is down", { timeout: STEP_TIMEOUT }, () => {
  let ws: Workspace;

  beforeAll(async () => {
    assertBuilt();
    ws = await Workspace.create("validate");
  });

  afterAll(async () => {
    await ws?.remove();
  });

  async function validate(config: string, args: string[] = []) {
    await writeFile(ws.path("sync.config.yaml"), config);
    const started = Date.now();
    const result = await ws.cli(["validate", "--json", ...args]);
    return { result, seconds: (Date.now() - started) / 1000 };
  }

  it("a closed port: exit 1 naming the provider and the URL without credentials, after one retry", async () => {
    const port = await closedPort();
    const { result, seconds } = await validate(
      configFor(`http://admin:${SECRET}@127.0.0.1:${port}/ims/oneroster/v1p1/`, {
        method: "oauth1",
        clientId: "id",
        clientSecret: SECRET,
      }),
    );
    expect(result.code, result.stderr).toBe(1);
    const report = JSON.parse(result.stdout) as ValidateJson;
    expect(report.ok).toBe(false);
    expect(report.providers).toEqual([
      {
        provider: "district",
        type: "oneroster",
        ok: false,
        error: `provider district: request to http://127.0.0.1:${port}/ims/oneroster/v1p1/orgs?limit=1&offset=0 failed (ECONNREFUSED); gave up after 2 attempts`,
        warnings: { count: 0, shown: [] },
      },
    ]);
    expect(result.stdout + result.stderr).not.toContain(SECRET);
    // The provider's own policy (7 attempts, up to 16 s of backoff) took ~20 s; generously under it.
    expect(seconds).toBeLessThan(15);
  });

  it("a server that accepts and never answers: exit 1 within --timeout, naming the URL", async () => {
    const silent = await silentServer();
    try {
      const { result, seconds } = await validate(
        configFor(`http://127.0.0.1:${silent.port}/ims/oneroster/v1p1/`),
        ["--timeout", "2"],
      );
      expect(result.code, result.stderr).toBe(1);
      const report = JSON.parse(result.stdout) as ValidateJson;
      expect(report.providers[0]!.error).toMatch(
        new RegExp(
          `^provider district: (no answer from http://127\\.0\\.0\\.1:${silent.port}/ims/oneroster/v1p1/ within 2 s \\(validate --timeout\\)` +
            `|request to http://127\\.0\\.0\\.1:${silent.port}/ims/oneroster/v1p1/orgs\\?limit=1&offset=0 failed \\(ETIMEDOUT\\))`,
        ),
      );
      // It asked: the bound cut a request that was made, not a check that never started.
      expect(silent.accepted()).toBeGreaterThan(0);
      expect(seconds).toBeLessThan(15);
    } finally {
      for (const socket of silent.sockets) {
        socket.destroy();
      }
      await new Promise<void>((resolve) => silent.server.close(() => resolve()));
    }
  });

  it("one failed request is retried within the bound; a server failing every time is named with its status", async () => {
    let calls = 0;
    await withServer(
      (_req, res, url) => {
        calls += 1;
        if (url.pathname.endsWith("/orgs") && calls > 1) {
          sendJson(res, { orgs: [] });
        } else {
          sendJson(res, { error: "busy" }, {}, 503);
        }
      },
      async (server) => {
        const { result } = await validate(configFor(`${server.url}/ims/oneroster/v1p1/`));
        expect(result.code, result.stdout + result.stderr).toBe(0);
        expect((JSON.parse(result.stdout) as ValidateJson).providers[0]!.ok).toBe(true);
        expect(server.requests).toHaveLength(2);
      },
    );

    await withServer(
      (_req, res) => sendJson(res, { error: "down" }, {}, 503),
      async (server) => {
        const { result } = await validate(configFor(`${server.url}/ims/oneroster/v1p1/`));
        expect(result.code).toBe(1);
        expect((JSON.parse(result.stdout) as ValidateJson).providers[0]!.error).toBe(
          `provider district answered HTTP 503 at ${server.url}/ims/oneroster/v1p1/orgs?limit=1&offset=0; gave up after 2 attempts`,
        );
        expect(server.requests).toHaveLength(2);
      },
    );
  });

  it("--timeout that is not a positive number of seconds: exit 2 before any provider is asked", async () => {
    const port = await closedPort();
    for (const value of ["0", "-1", "soon", "301"]) {
      const { result } = await validate(configFor(`http://127.0.0.1:${port}/`), ["--timeout", value]);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain(
        `--timeout must be a number of seconds above 0 and at most 300, not "${value}"`,
      );
    }
  });
});
