// providers.*.maxRecords bounds what one collection (or one CSV file) can make us hold, at its edge:
// exactly the limit is fetched, one more record fails the fetch, not retried, naming the limit.
// OneRoster 1.1 and Clever against the sandbox on 127.0.0.1, and a CSV bundle the sandbox wrote.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { providerSchema, type ProviderConfig } from "../../src/config/schema.js";
import { createProvider } from "../../src/providers/index.js";
import { writeCsvBundle } from "../../src/sandbox/csv.js";
import { startSandbox, type Sandbox } from "../../src/sandbox/server.js";
import { providerError } from "../helpers/resolve.js";

const STUDENTS = 120;

function config(input: Record<string, unknown>): ProviderConfig {
  const parsed = providerSchema.parse({
    rateLimit: { requestsPerSecond: 1000, concurrency: 4 },
    retry: { limit: 2, baseDelayMs: 5, maxDelayMs: 50 },
    pageSize: 50,
    ...input,
  });
  return { ...parsed, name: String(input.type) };
}

describe("providers.*.maxRecords", () => {
  let sandbox: Sandbox;
  let dir: string;

  beforeAll(async () => {
    sandbox = await startSandbox({ seed: 5, schools: 1, studentsPerSchool: STUDENTS });
    expect(sandbox.district.usersWithRole("student")).toHaveLength(STUDENTS);
    dir = mkdtempSync(path.join(tmpdir(), "roster-sync-max-records-"));
  });
  afterAll(async () => {
    await sandbox?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const oneRoster = (maxRecords: number): ProviderConfig =>
    config({
      type: "oneroster",
      baseUrl: sandbox.url,
      auth: { method: "oauth1", clientId: sandbox.clientId, clientSecret: sandbox.clientSecret },
      maxRecords,
    });
  const clever = (maxRecords: number): ProviderConfig =>
    config({
      type: "clever",
      baseUrl: sandbox.cleverUrl,
      auth: { method: "bearer", token: sandbox.cleverToken },
      maxRecords,
    });

  it.each([
    ["OneRoster 1.1", oneRoster],
    ["Clever", clever],
  ])(
    "%s: a collection of exactly maxRecords is fetched; one record over fails, not retried",
    async (_name, make) => {
      const whole = createProvider(make(1_000_000));
      let count: number;
      try {
        count = (await whole.allUsers("students")).length;
      } finally {
        await whole.close();
      }
      expect(count).toBeGreaterThan(100);
      const atLimit = createProvider(make(count));
      try {
        expect(await atLimit.allUsers("students")).toHaveLength(count);
      } finally {
        await atLimit.close();
      }
      const over = createProvider(make(count - 1));
      try {
        const error = await providerError(over.allUsers("students"));
        expect(error.message).toMatch(
          new RegExp(`more than ${count - 1} records at .*the limit providers\\.\\w+\\.maxRecords`),
        );
        expect(error.retriable).toBe(false);
      } finally {
        await over.close();
      }
    },
  );

  it("CSV: files of at most maxRecords rows are read; one row over fails naming the file and line", async () => {
    const bundle = await writeCsvBundle(sandbox.district, path.join(dir, "bundle"));
    // The longest data file (enrollments.csv here): its rows, header and blank lines not counted.
    const rowsOf = (file: string) =>
      readFileSync(path.join(bundle, file), "utf8")
        .split(/\r?\n/)
        .slice(1)
        .filter((line) => line !== "").length;
    const files = readdirSync(bundle).filter((f) => f.endsWith(".csv") && f !== "manifest.csv");
    const longest = files.reduce((a, b) => (rowsOf(a) >= rowsOf(b) ? a : b));
    const rows = rowsOf(longest);
    const csv = (maxRecords: number) => config({ type: "csv", path: bundle, maxRecords });

    const atLimit = createProvider(csv(rows));
    try {
      expect(await atLimit.allUsers("students")).toHaveLength(STUDENTS);
    } finally {
      await atLimit.close();
    }
    const over = createProvider(csv(rows - 1));
    try {
      await expect(over.allUsers("students")).rejects.toThrow(
        new RegExp(
          `${longest.replace(".", "\\.")}:\\d+: has more than ${rows - 1} rows, the limit providers\\.\\*\\.maxRecords`,
        ),
      );
    } finally {
      await over.close();
    }
  });
});
