// End to end: the provider misbehaves. Wrong credentials fail cleanly without leaking the secret;
// random 429s and 503s, and a server-side rate limit, are survived with the same members as a
// healthy server gives. One embedded database for the whole sequence.
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSandbox, type Sandbox } from "../../src/sandbox/index.js";
import { assertBuilt } from "../helpers/cli.js";
import {
  CLIENT_SECRET,
  ELA6,
  ELA6_MAPPING,
  LINCOLN,
  STEP_TIMEOUT,
  Workspace,
  bySourcedId,
  expectedClassMembers,
  expectedSchoolMembers,
  type EventUser,
  type MappingSpec,
  type RunJson,
} from "./fixture.js";

const SCHOOL_MAPPING: MappingSpec = {
  name: "lincoln-students",
  users: "students",
  groups: [{ type: "schools", match: "lincoln middle school ", matchOn: ["name"] }],
  product: "lms-student",
};
const WRONG_SECRET = "wrong-secret-Zq8xV3pT";

/** Every file under `dir` whose bytes contain `needle`. */
async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) {
      const file = path.join(entry.parentPath, entry.name);
      if ((await readFile(file)).includes(needle)) {
        found.push(file);
      }
    }
  }
  return found;
}

describe("a misbehaving provider", { timeout: STEP_TIMEOUT }, () => {
  let sandbox: Sandbox;
  let ws: Workspace;

  const expected = (): Record<string, EventUser[]> => ({
    [ELA6_MAPPING.name]: bySourcedId(expectedClassMembers(sandbox.district, ELA6, LINCOLN).values()),
    [SCHOOL_MAPPING.name]: bySourcedId(expectedSchoolMembers(sandbox.district, LINCOLN, "student").values()),
  });

  const config = () => ({
    baseUrl: sandbox.url,
    mappings: [ELA6_MAPPING, SCHOOL_MAPPING],
    pageSize: 5,
    // Enough retries that a request failing 16 times in a row (p ≈ 0.44^16) cannot flake the test.
    retry: { limit: 15, baseDelayMs: 20, maxDelayMs: 2000 },
  });

  beforeAll(async () => {
    assertBuilt();
    sandbox = await startSandbox({ port: 0, seed: 5 });
    ws = await Workspace.create("faults");
    await ws.writeConfig(config());
  });

  afterAll(async () => {
    await sandbox?.close();
    await ws?.remove();
  });

  it("validate: exit 0 with good credentials, 1 with a wrong secret that it never prints", async () => {
    const good = await ws.json<{ ok: boolean; providers: { provider: string; ok: boolean }[] }>(["validate"]);
    expect(good.ok).toBe(true);
    expect(good.providers).toEqual([expect.objectContaining({ provider: "sandbox", ok: true, error: null })]);

    const bad = await ws.cli(["validate"], { SANDBOX_SECRET: WRONG_SECRET });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain("rejected the credentials (HTTP 401)");
    expect(bad.stdout + bad.stderr).not.toContain(WRONG_SECRET);

    const badJson = await ws.json<{ ok: boolean; providers: { ok: boolean; error: string }[] }>(
      ["validate"],
      1,
      { SANDBOX_SECRET: WRONG_SECRET },
    );
    expect(badJson.ok).toBe(false);
    expect(badJson.providers[0]!.error).toMatch(
      /^provider sandbox rejected the credentials \(HTTP 401\) at http/,
    );
  });

  it("a wrong client secret fails every run (exit 1) with a clear error and never leaks the secret", async () => {
    sandbox.resetStats();
    const result = await ws.cli(["sync", "--json"], { SANDBOX_SECRET: WRONG_SECRET });
    expect(result.code, result.stderr).toBe(1);
    const { runs } = JSON.parse(result.stdout) as { runs: RunJson[] };
    expect(runs.map((r) => r.mapping)).toEqual([ELA6_MAPPING.name, SCHOOL_MAPPING.name]);
    for (const run of runs) {
      expect(run).toMatchObject({ status: "failed", members: null, added: 0, removed: 0, updated: 0 });
      expect(run.error).toMatch(
        /^provider sandbox rejected the credentials \(HTTP 401\) at http:\/\/127\.0\.0\.1/,
      );
    }
    expect(result.stderr).toContain("rejected the credentials (HTTP 401)");
    // A 401 is permanent: one request per mapping, no retries.
    expect(sandbox.stats().status401).toBe(2);

    const history = await ws.cli(["history", "--json"]);
    expect(history.code).toBe(0);
    expect(history.stdout).toContain("rejected the credentials");
    expect(await ws.eventsFile()).toBe("");
    for (const output of [result.stdout, result.stderr, history.stdout, history.stderr]) {
      expect(output).not.toContain(WRONG_SECRET);
      expect(output).not.toContain(CLIENT_SECRET);
      expect(output).not.toContain("oauth_signature");
    }
    // Not in the database either (SPEC §4), in any file of the embedded folder (where the stored
    // error text is readable, so the search can see what was stored).
    expect(await filesContaining(ws.path("db"), "rejected the credentials")).not.toEqual([]);
    expect(await filesContaining(ws.path("db"), WRONG_SECRET)).toEqual([]);
  });

  it("an HTML error page instead of JSON fails the run, naming the URL", async () => {
    sandbox.setFaults({ htmlErrorRate: 1 });
    try {
      const [run] = await ws.sync([ELA6_MAPPING.name], 1);
      expect(run).toMatchObject({ status: "failed", members: null, added: 0 });
      // The first request is the class lookup by title (a `filter`, issue 4).
      expect(run!.error).toMatch(
        /^provider sandbox answered an HTML page instead of JSON \(HTTP 200\) at http:\/\/127\.0\.0\.1:\d+\/ims\/oneroster\/v1p1\/classes\?filter=title~[^&]+&limit=5&offset=0$/,
      );
    } finally {
      sandbox.setFaults({});
    }
  });

  it("survives random 429s and 503s with the members a healthy server gives", async () => {
    // Retry-After of 50 ms (honoured: the client waits what the server asks) keeps the test quick.
    sandbox.setFaults({ fail429Rate: 0.3, fail5xxRate: 0.2, retryAfterSeconds: 0.05 });
    sandbox.resetStats();
    let result;
    try {
      result = await ws.cli(["sync", "--json"]);
    } finally {
      sandbox.setFaults({});
    }
    expect(result.code, result.stderr).toBe(0);
    const { runs } = JSON.parse(result.stdout) as { runs: RunJson[] };
    const want = expected();
    expect(runs).toHaveLength(2);
    for (const run of runs) {
      expect(run).toMatchObject({
        status: "succeeded",
        members: want[run.mapping]!.length,
        added: want[run.mapping]!.length,
        removed: 0,
        error: null,
      });
    }
    // The faults were really served, and retried: every attempt counted, none lost.
    const stats = sandbox.stats();
    expect(stats.status429).toBeGreaterThan(5);
    expect(stats.status5xx).toBeGreaterThan(3);
    expect(runs.reduce((n, r) => n + r.requests, 0)).toBe(stats.apiRequests);
    expect(result.stderr).toContain("retrying");
    expect(bySourcedId(await ws.members(SCHOOL_MAPPING.name))).toEqual(want[SCHOOL_MAPPING.name]);
    expect(await filesContaining(ws.path("db"), CLIENT_SECRET)).toEqual([]);
  });

  it("keeps under a server's rate limit with its own token bucket: not one 429", async () => {
    sandbox.setFaults({ requestsPerSecond: 10, burst: 10 });
    await ws.writeConfig({ ...config(), rateLimit: { requestsPerSecond: 8 } });
    sandbox.resetStats();
    try {
      const [run] = await ws.sync([SCHOOL_MAPPING.name, "--dry-run"]);
      expect(run).toMatchObject({
        status: "dry-run",
        members: expected()[SCHOOL_MAPPING.name]!.length,
        added: 0,
        removed: 0,
        updated: 0,
        error: null,
      });
      expect(run!.requests).toBeGreaterThan(15);
      expect(sandbox.stats()).toMatchObject({ apiRequests: run!.requests, status429: 0 });
    } finally {
      sandbox.setFaults({});
      await ws.writeConfig(config());
    }
  });
});
