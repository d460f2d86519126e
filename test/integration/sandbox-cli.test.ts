// `roster-sync sandbox --mode …`: the strict modes a user can try a connector against, started
// through the command itself on 127.0.0.1 and stopped by the signal it waits for.
import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { sandboxCommand } from "../../src/cli/sandbox.js";
import { UsageError } from "../../src/errors.js";

async function started(
  mode: string | undefined,
): Promise<{ out: string; url: string; stop: () => Promise<number> }> {
  const signals = new EventEmitter();
  let out = "";
  let ready!: () => void;
  const listening = new Promise<void>((resolve) => (ready = resolve));
  const done = sandboxCommand(
    { port: "0", auth: "none", ...(mode ? { mode } : {}) },
    (text) => {
      out += text;
      if (text.startsWith("admin API")) {
        ready();
      }
    },
    signals,
  );
  await Promise.race([listening, done]);
  const url = /OneRoster 1\.1 server at (\S+)/.exec(out)?.[1];
  expect(url, out).toBeDefined();
  return {
    out,
    url: url!,
    stop: () => {
      signals.emit("SIGINT");
      return done;
    },
  };
}

describe("sandbox --mode", () => {
  it("top-level-only: nested endpoints answer 404, the collections answer", async () => {
    const sandbox = await started("top-level-only");
    try {
      const classes = (await (await fetch(new URL("classes?limit=1", sandbox.url))).json()) as {
        classes: { sourcedId: string }[];
      };
      const id = classes.classes[0]!.sourcedId;
      expect((await fetch(new URL(`classes/${id}/students`, sandbox.url))).status).toBe(404);
      expect((await fetch(new URL(`classes/${id}`, sandbox.url))).status).toBe(404);
      expect(sandbox.out).toContain("strict modes: topLevelOnly");
    } finally {
      expect(await sandbox.stop()).toBe(0);
    }
  });

  it("minimal: no X-Total-Count, limit capped; without --mode the friendly server sends it", async () => {
    const strict = await started("minimal");
    try {
      const response = await fetch(new URL("users?limit=100", strict.url));
      expect(response.headers.get("x-total-count")).toBeNull();
      expect(((await response.json()) as { users: unknown[] }).users.length).toBeLessThan(100);
    } finally {
      await strict.stop();
    }
    const friendly = await started(undefined);
    try {
      const response = await fetch(new URL("users?limit=100", friendly.url));
      expect(response.headers.get("x-total-count")).not.toBeNull();
      expect(((await response.json()) as { users: unknown[] }).users).toHaveLength(100);
    } finally {
      await friendly.stop();
    }
  });

  it("an unknown mode is a usage error naming the ones there are", async () => {
    await expect(sandboxCommand({ port: "0", mode: "lenient" }, () => undefined)).rejects.toThrow(UsageError);
    await expect(sandboxCommand({ port: "0", mode: "lenient" }, () => undefined)).rejects.toThrow(
      /--mode must be minimal and\/or top-level-only/,
    );
  });
});
