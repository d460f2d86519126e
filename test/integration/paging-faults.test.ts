// Paging that visibly lost users fails the fetch (issue 9 item 2, SPEC §4), against the sandbox's
// duplicatePages and lowTotal faults on 127.0.0.1: pages that repeat records of earlier pages while
// the count still reaches X-Total-Count, and an X-Total-Count lower than what the server has (with
// a Link that follows the total or the records). OneRoster 1.1, 1.2 and Clever. And the cost of
// confirming the end: one request per collection, only when the total ends on a full page.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { providerSchema, type ProviderConfig } from "../../src/config/schema.js";
import { createProvider } from "../../src/providers/index.js";
import type { Provider } from "../../src/providers/types.js";
import { startSandbox, type Sandbox } from "../../src/sandbox/server.js";
import { providerError, resolvedMembers } from "../helpers/resolve.js";

const FAST_RETRY = { limit: 2, baseDelayMs: 5, maxDelayMs: 50 };
const STUDENTS = 250;

function config(input: Record<string, unknown>): ProviderConfig {
  const parsed = providerSchema.parse({
    rateLimit: { requestsPerSecond: 1000, concurrency: 4 },
    retry: FAST_RETRY,
    timeoutMs: 5000,
    pageSize: 100,
    ...input,
  });
  return { ...parsed, name: String(input.type) };
}

const v11 = (sandbox: Sandbox, pageSize = 100): ProviderConfig =>
  config({
    type: "oneroster",
    baseUrl: sandbox.url,
    auth: { method: "oauth1", clientId: sandbox.clientId, clientSecret: sandbox.clientSecret },
    pageSize,
  });
const v12 = (sandbox: Sandbox): ProviderConfig =>
  config({
    type: "oneroster",
    version: "1.2",
    baseUrl: sandbox.origin,
    auth: { method: "oauth2", clientId: sandbox.clientId, clientSecret: sandbox.clientSecret },
  });
const clever = (sandbox: Sandbox): ProviderConfig =>
  config({
    type: "clever",
    baseUrl: sandbox.cleverUrl,
    auth: { method: "bearer", token: sandbox.cleverToken },
  });

describe("paging faults fail the fetch", () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    // One school of 250 students: /students is three pages of 100 (100, 100, 50).
    sandbox = await startSandbox({ seed: 3, schools: 1, studentsPerSchool: STUDENTS });
    expect(sandbox.district.usersWithRole("student")).toHaveLength(STUDENTS);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  async function withProvider(
    cfg: ProviderConfig,
    use: (provider: Provider) => Promise<void>,
  ): Promise<void> {
    const provider = createProvider(cfg);
    try {
      await use(provider);
    } finally {
      await provider.close();
      sandbox.setFaults({});
    }
  }

  it("pages that repeat users of earlier pages, though the count reaches X-Total-Count (230 unique of 250)", async () => {
    await withProvider(v11(sandbox), async (provider) => {
      sandbox.setFaults({ duplicatePages: { repeat: 10, path: "^students$" } });
      const error = await providerError(provider.allUsers("students"));
      expect(error.code).toBe("INCOMPLETE_FETCH");
      expect(error.message).toMatch(/repeated 10 record\(s\) of earlier pages/);
      // The whole mapping fails: no roster of 230 to diff.
      await expect(resolvedMembers(provider, v11(sandbox), { users: "students" })).rejects.toThrow(
        /repeated 10 record/,
      );
    });
  });

  it.each([
    ["a Link that follows the low total", "total" as const],
    ["a Link that names the next page", "records" as const],
  ])("X-Total-Count of 200 for 250 records, with %s", async (_name, links) => {
    await withProvider(v11(sandbox), async (provider) => {
      sandbox.setFaults({ lowTotal: { missing: 50, links, path: "^students$" } });
      sandbox.resetStats();
      const error = await providerError(provider.allUsers("students"));
      expect(error.code).toBe("INCOMPLETE_FETCH");
      expect(error.message).toMatch(/received 250 records of students but X-Total-Count said 200/);
      // The 200 were two full pages: the third request (the confirmation, or the named next page)
      // found the 50 the total left out.
      expect(sandbox.stats().byPath.students).toBe(3);
    });
  });

  it("a last page fuller than the total allows (170 of 250)", async () => {
    await withProvider(v11(sandbox), async (provider) => {
      sandbox.setFaults({ lowTotal: { missing: 80, links: "total", path: "^students$" } });
      const error = await providerError(provider.allUsers("students"));
      expect(error.code).toBe("INCOMPLETE_FETCH");
      expect(error.message).toMatch(/received 200 records of students but X-Total-Count said 170/);
    });
  });

  it("OneRoster 1.2: repeated users and a low total fail alike", async () => {
    await withProvider(v12(sandbox), async (provider) => {
      sandbox.setFaults({ duplicatePages: { repeat: 10, path: "^v1p2/students$" } });
      expect((await providerError(provider.allUsers("students"))).code).toBe("INCOMPLETE_FETCH");
      sandbox.setFaults({ lowTotal: { missing: 50, links: "total", path: "^v1p2/students$" } });
      expect((await providerError(provider.allUsers("students"))).code).toBe("INCOMPLETE_FETCH");
    });
  });

  it("Clever: a page that repeats users of earlier pages fails (Clever sends no total)", async () => {
    await withProvider(clever(sandbox), async (provider) => {
      sandbox.setFaults({ duplicatePages: { repeat: 10, path: "^v3.0/users$" } });
      const error = await providerError(provider.allUsers("students"));
      expect(error.code).toBe("INCOMPLETE_FETCH");
      expect(error.message).toMatch(/repeated 10 record\(s\) of earlier pages/);
    });
  });
});

describe("confirming the end costs one request per collection, only when the total ends on a full page", () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox({ seed: 3, schools: 1, studentsPerSchool: STUDENTS });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it.each([
    [50, 5 + 1],
    [100, 3],
    [125, 2 + 1],
    [300, 1],
  ])("250 students at pageSize %i: %i requests", async (pageSize, requests) => {
    const provider = createProvider(v11(sandbox, pageSize));
    try {
      sandbox.resetStats();
      expect(await provider.allUsers("students")).toHaveLength(STUDENTS);
      expect(sandbox.stats().byPath.students).toBe(requests);
    } finally {
      await provider.close();
    }
  });

  it("a mapping over every class: at most one extra request per class, and only for a class that ends on a full page", async () => {
    const pageSize = 10;
    const provider = createProvider(v11(sandbox, pageSize));
    try {
      const district = sandbox.district;
      sandbox.resetStats();
      let expected = 0;
      let confirms = 0;
      for (const cls of district.classes) {
        await provider.groupMembers({ type: "classes", sourcedId: cls.sourcedId }, "students");
        const n = district.classUsers(cls.sourcedId, "student").length;
        const pages = Math.max(1, Math.ceil(n / pageSize));
        const confirm = n > 0 && n % pageSize === 0 ? 1 : 0;
        confirms += confirm;
        expected += pages + confirm;
        expect(sandbox.stats().byPath[`classes/${cls.sourcedId}/students`], cls.sourcedId).toBe(
          pages + confirm,
        );
      }
      expect(sandbox.stats().apiRequests).toBe(expected);
      // What the confirmations cost across the classes (printed for the report).
      console.info(
        `paging-faults: ${district.classes.length} classes, ${expected} requests, ${confirms} confirmations`,
      );
    } finally {
      await provider.close();
    }
  });
});
