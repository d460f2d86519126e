// End to end (issue 9, item 5): `sync` against a provider that answers one mapping's class with a
// gzip bomb (2 GiB of spaces once decoded, ~2 MB on the wire). Before maxResponseBytes the process
// died with a V8 fatal error at 4.6 GB, leaving no history row and no error naming the URL; now
// that run fails, naming the URL and the limit, and the other mapping is applied.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSandbox, type Sandbox } from "../../src/sandbox/index.js";
import { assertBuilt } from "../helpers/cli.js";
import { LINCOLN, STEP_TIMEOUT, Workspace, type RunJson } from "./fixture.js";

const BOMB_CLASS = "cls-01-0003";

describe("a gzip bomb", { timeout: STEP_TIMEOUT }, () => {
  let sandbox: Sandbox;
  let ws: Workspace;

  beforeAll(async () => {
    assertBuilt();
    sandbox = await startSandbox({ port: 0, seed: 5 });
    ws = await Workspace.create("gzip-bomb");
    await ws.writeConfig({
      baseUrl: sandbox.url,
      mappings: [
        {
          name: "bombed-class",
          users: "students",
          groups: [{ type: "classes", match: BOMB_CLASS, matchOn: ["sourcedId"] }],
          product: "p",
        },
        { name: "school", users: "students", groups: [{ type: "schools", match: LINCOLN }], product: "p" },
      ],
    });
  });

  afterAll(async () => {
    await sandbox?.close();
    await ws?.remove();
  });

  it("sync: that run fails naming the URL and the limit, exit 1; the other mapping is applied", async () => {
    sandbox.setFaults({ gzipBomb: { path: `^classes/${BOMB_CLASS}/students$` } });
    const result = await ws.cli(["sync", "--json"]);
    expect(result.code, result.stderr.slice(-2000)).toBe(1);
    const { runs } = JSON.parse(result.stdout) as { runs: RunJson[] };
    const bombed = runs.find((r) => r.mapping === "bombed-class")!;
    expect(bombed).toMatchObject({ status: "failed", members: null, added: 0 });
    expect(bombed.error).toBe(
      `provider sandbox: the response at ${sandbox.url}classes/${BOMB_CLASS}/students?limit=10&offset=0 ` +
        "exceeds 67108864 bytes (64 MiB) once decoded, the limit providers.sandbox.maxResponseBytes; " +
        "the request was aborted",
    );
    expect(runs.find((r) => r.mapping === "school")).toMatchObject({ status: "succeeded" });
    // Not retried.
    expect(sandbox.stats().byPath[`classes/${BOMB_CLASS}/students`]).toBe(1);

    const history = await ws.history(["--mapping", "bombed-class"]);
    expect(history.map((r) => [r.status, r.error])).toEqual([["failed", bombed.error]]);
  });
});
