// vitest globalSetup: a private PostgreSQL and a private Redis for this test run, on free loopback
// ports in a temp dir, stopped and removed afterwards. Tests get their URLs with
// `inject("databaseUrl")` / `inject("redisUrl")` (also in TEST_DATABASE_URL / TEST_REDIS_URL).
// Nothing is skipped when the servers are missing: the run fails and names the install command.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import pg from "pg";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  interface ProvidedContext {
    /** Superuser URL of the private PostgreSQL server (database `postgres`). */
    databaseUrl: string;
    redisUrl: string;
  }
}

const INSTALL = "apt-get install -y postgresql redis-server";
const READY_TIMEOUT_MS = 30_000;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const postgresBin = findPostgresBin();
  const redisServer = findOnPath("redis-server");
  if (!postgresBin || !redisServer) {
    throw new Error(
      `integration tests need ${!postgresBin ? "PostgreSQL (initdb, postgres)" : ""}` +
        `${!postgresBin && !redisServer ? " and " : ""}${!redisServer ? "redis-server" : ""}; ` +
        `install them with \`${INSTALL}\` (or run \`npm test\`, which does)`,
    );
  }

  const dir = mkdtempSync(join(tmpdir(), "roster-sync-test-"));
  const children: ChildProcess[] = [];
  const teardown = async (): Promise<void> => {
    await Promise.all(children.map((child) => stop(child)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const databaseUrl = await startPostgres(postgresBin, dir, children);
    const redisUrl = await startRedis(redisServer, dir, children);
    project.provide("databaseUrl", databaseUrl);
    project.provide("redisUrl", redisUrl);
    process.env.TEST_DATABASE_URL = databaseUrl;
    process.env.TEST_REDIS_URL = redisUrl;
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}

/** PostgreSQL refuses to run as root: as root, initdb and postgres run as the `postgres` user. */
async function startPostgres(bin: string, dir: string, children: ChildProcess[]): Promise<string> {
  const user = process.getuid?.() === 0 ? systemUser("postgres") : undefined;
  if (process.getuid?.() === 0 && !user) {
    throw new Error(
      `running as root, but there is no \`postgres\` user to run PostgreSQL as; \`${INSTALL}\` creates it`,
    );
  }
  if (user) {
    chownSync(dir, user.uid, user.gid);
  }
  const data = join(dir, "pg");
  const as = user ? { uid: user.uid, gid: user.gid } : {};
  const init = spawnSync(
    join(bin, "initdb"),
    ["-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"],
    { ...as, encoding: "utf8", env: { ...process.env, LC_ALL: "C.UTF-8" } },
  );
  if (init.status !== 0) {
    throw new Error(`initdb failed (${init.status ?? init.signal}): ${init.stderr || init.stdout}`);
  }
  const port = await freePort();
  const child = spawn(
    join(bin, "postgres"),
    [
      "-D",
      data,
      "-p",
      String(port),
      "-h",
      "127.0.0.1",
      "-k",
      dir,
      "-c",
      "fsync=off",
      "-c",
      "synchronous_commit=off",
      "-c",
      "full_page_writes=off",
      "-c",
      "max_connections=200",
    ],
    { ...as, stdio: ["ignore", "ignore", "pipe"] },
  );
  children.push(child);
  const stderr = collect(child);
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  await waitUntil("PostgreSQL", child, stderr, async () => {
    const client = new pg.Client({ connectionString: url });
    client.on("error", () => undefined);
    try {
      await client.connect();
      await client.query("SELECT 1");
    } finally {
      await client.end().catch(() => undefined);
    }
  });
  return url;
}

async function startRedis(bin: string, dir: string, children: ChildProcess[]): Promise<string> {
  const port = await freePort();
  const child = spawn(
    bin,
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  children.push(child);
  const output = collect(child);
  await waitUntil("Redis", child, output, () => ping(port));
  return `redis://127.0.0.1:${port}`;
}

function ping(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.setTimeout(1000);
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => {
      socket.destroy();
      if (data.toString().startsWith("+PONG")) {
        resolve();
      } else {
        reject(new Error(`unexpected answer ${data.toString().trim()}`));
      }
    });
    socket.once("timeout", () => {
      socket.destroy();
      reject(new Error("timeout"));
    });
    socket.once("error", reject);
  });
}

/** Polls `probe` until it resolves; fails early when the server exits, and after READY_TIMEOUT_MS. */
async function waitUntil(
  name: string,
  child: ChildProcess,
  output: () => string,
  probe: () => Promise<void>,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) while starting: ${output()}`);
    }
    try {
      await probe();
      return;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${name} was not ready within ${READY_TIMEOUT_MS} ms (${String(last)}): ${output()}`);
}

function collect(child: ChildProcess): () => string {
  let text = "";
  const add = (chunk: Buffer): void => {
    text = (text + chunk.toString()).slice(-4000);
  };
  child.stdout?.on("data", add);
  child.stderr?.on("data", add);
  return () => text;
}

/** SIGINT is PostgreSQL's fast shutdown and Redis's clean one; SIGKILL after 10 s. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGINT");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** A free TCP port on 127.0.0.1 (released before it is returned: bind it promptly). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/** Debian keeps the server binaries in /usr/lib/postgresql/<major>/bin, off PATH; take the newest. */
function findPostgresBin(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (existsSync(root)) {
    const majors = readdirSync(root)
      .filter(
        (name) =>
          existsSync(join(root, name, "bin", "initdb")) && existsSync(join(root, name, "bin", "postgres")),
      )
      .sort((a, b) => Number(b) - Number(a));
    if (majors[0]) {
      return join(root, majors[0], "bin");
    }
  }
  const initdb = findOnPath("initdb");
  return initdb && existsSync(join(initdb, "..", "postgres")) ? join(initdb, "..") : undefined;
}

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(join(dir, command))) {
      return join(dir, command);
    }
  }
  return undefined;
}

function systemUser(name: string): { uid: number; gid: number } | undefined {
  for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
    const [user, , uid, gid] = line.split(":");
    if (user === name && uid && gid) {
      return { uid: Number(uid), gid: Number(gid) };
    }
  }
  return undefined;
}
