// Peak memory of one large OneRoster page (issue 9, item 5): a loopback server answers the
// `/students` collection with one page of RECORDS students, each padded with a metadata string of
// PAD bytes (defaults: 10,000 × 5,000 B, a ~50 MB page), plain or gzip (GZIP=1). The BUILT CLI
// runs `sync --dry-run --json` on it in a child process with bench/peak-rss.mjs preloaded, and the
// script prints the page size, the run's status and the child's peak RSS. The database is a private
// PostgreSQL (test/setup/services.ts), not PGlite: PGlite alone takes ~850 MB of RSS here, which
// would hide the page.
//
//   npm run build && npx tsx bench/large-page.ts
//   RECORDS=100000 PAD=0 GZIP=1 npx tsx bench/large-page.ts
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import setupServices from "../test/setup/services.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const RECORDS = Number(process.env.RECORDS ?? 10_000);
const PAD = Number(process.env.PAD ?? 5_000);
const GZIP = process.env.GZIP === "1";
const MAX_RESPONSE_BYTES = process.env.MAX_RESPONSE_BYTES;

function page(): Buffer {
  const pad = "x".repeat(PAD);
  const users = Array.from({ length: RECORDS }, (_, i) => ({
    sourcedId: `stu-${i}`,
    status: "active",
    role: "student",
    username: `student${i}`,
    givenName: `Given${i}`,
    familyName: `Family${i}`,
    email: `student${i}@example.org`,
    enabledUser: true,
    orgs: [{ sourcedId: "sch-1", type: "org" }],
    grades: ["06"],
    metadata: { notes: pad },
  }));
  return Buffer.from(JSON.stringify({ users }));
}

async function serve(body: Buffer): Promise<Server> {
  const wire = GZIP ? gzipSync(body) : body;
  const empty = Buffer.from('{"users":[]}');
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const first = Number(url.searchParams.get("offset") ?? 0) === 0;
    res.setHeader("content-type", "application/json");
    res.setHeader("x-total-count", String(RECORDS));
    if (first && GZIP) {
      res.setHeader("content-encoding", "gzip");
    }
    res.end(first ? wire : empty);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const body = page();
const server = await serve(body);
const urls: Record<string, string> = {};
const teardown = await setupServices({
  provide: (key: string, value: string) => (urls[key] = value),
} as never);
const dir = await mkdtemp(path.join(tmpdir(), "roster-sync-large-page-"));
try {
  const { port } = server.address() as AddressInfo;
  const configFile = path.join(dir, "config.json");
  const rssFile = path.join(dir, "rss");
  await writeFile(
    configFile,
    JSON.stringify({
      database: { url: urls.databaseUrl },
      providers: {
        big: {
          type: "oneroster",
          baseUrl: `http://127.0.0.1:${port}/ims/oneroster/v1p1/`,
          auth: { method: "bearer", token: "bench" },
          pageSize: Math.min(10_000, Math.max(1, RECORDS)),
          ...(MAX_RESPONSE_BYTES ? { maxResponseBytes: Number(MAX_RESPONSE_BYTES) } : {}),
        },
      },
      mappings: [{ name: "big", provider: "big", users: "students", product: "bench" }],
    }),
  );
  const result = await runCli(
    [
      "--import",
      path.join(ROOT, "bench/peak-rss.mjs"),
      path.join(ROOT, "bin/roster-sync.js"),
      "sync",
      "--dry-run",
      "--json",
      "--config",
      configFile,
    ],
    { LOG_LEVEL: "warn", BENCH_RSS_FILE: rssFile },
  );
  const rssKb = Number(await readFile(rssFile, "utf8").catch(() => "0"));
  let status = `exit ${result.code}`;
  try {
    const summary = JSON.parse(result.stdout) as {
      runs?: { status: string; members: number | null; error?: string | null }[];
    };
    const run = summary.runs?.[0];
    status = run
      ? `${run.status}, ${run.members ?? "-"} members${run.error ? `: ${run.error}` : ""}`
      : status;
  } catch {
    status += ` ${result.stderr.split("\n").slice(-3).join(" ")}`;
  }
  const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
  console.log(
    `page ${mb(body.length)} MB (${RECORDS} records × ${PAD} B pad, ${GZIP ? "gzip" : "plain"}): ` +
      `peak RSS ${Math.round(rssKb / 1024)} MB; ${status}`,
  );
} finally {
  server.close();
  await teardown();
  await rm(dir, { recursive: true, force: true });
}
