import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { CONFIG_FILE as FILE, configErrorOf } from "../helpers/config.js";

const valid = `
providers:
  district:
    type: oneroster
    baseUrl: \${BASE_URL:-http://127.0.0.1:8299/ims/oneroster/v1p1/}
    auth:
      method: oauth1
      clientId: \${CLIENT_ID}
      clientSecret: \${CLIENT_SECRET}
    pageSize: \${PAGE_SIZE:-250}
mappings:
  - name: ela6
    provider: district
    users: students
    groups:
      - type: classes
        match: "ELA 6 (6A ELA)"
        matchOn: [title]
    product: creative-cloud
`;

const env = { CLIENT_ID: "id", CLIENT_SECRET: "s3cr#t: {x}" };

describe("parseConfig", () => {
  it("substitutes the environment and applies defaults", () => {
    const config = parseConfig(valid, FILE, env);
    const provider = config.providers.district!;
    expect(provider.baseUrl).toBe("http://127.0.0.1:8299/ims/oneroster/v1p1/");
    expect(provider.auth).toEqual({ method: "oauth1", clientId: "id", clientSecret: "s3cr#t: {x}" });
    expect(provider.pageSize).toBe(250);
    expect(provider.matchGroupsBy).toEqual(["sourcedId", "name", "title"]);
    expect(provider.keyIdentifier).toBe("sourcedId");
    expect(provider.rateLimit).toEqual({ requestsPerSecond: 10, concurrency: 4 });
    expect(config.database.url).toBe("file:./data/roster-sync");
    const mapping = config.mappings[0]!;
    expect(mapping.provider.name).toBe("district");
    expect(mapping.groups).toEqual([{ type: "classes", match: "ELA 6 (6A ELA)", matchOn: ["title"] }]);
    expect(mapping.safety).toEqual({ maxRemovals: 50, maxRemovalPercent: 20 });
    expect(mapping.schedule).toBe("0 2 * * *");
  });

  it("takes the provider's matchGroupsBy when a group has no matchOn, and merges safety", () => {
    const text = valid
      .replace("        matchOn: [title]\n", "")
      .replace("    product: creative-cloud", "    product: [a, b]\n    safety: { maxRemovals: 5 }");
    const mapping = parseConfig(text, FILE, env).mappings[0]!;
    expect(mapping.groups![0]!.matchOn).toEqual(["sourcedId", "name", "title"]);
    expect(mapping.safety).toEqual({ maxRemovals: 5, maxRemovalPercent: 20 });
    expect(mapping.product).toEqual(["a", "b"]);
  });

  it.each([
    {
      name: "an unknown key, with its line and column",
      text: valid.replace("    pageSize:", "    pagesize: 3\n    pageSize:"),
      message: `${FILE}:10:5: providers.district.pagesize: unknown key`,
      keyPath: "providers.district.pagesize",
      line: 10,
    },
    {
      name: "an unset variable",
      text: valid,
      env: { CLIENT_ID: "id" },
      message: `${FILE}:9:21: providers.district.auth.clientSecret: environment variable CLIENT_SECRET is not set`,
      keyPath: "providers.district.auth.clientSecret",
      line: 9,
    },
    {
      name: "a bad enum value",
      text: valid.replace("users: students", "users: pupils"),
      message: `${FILE}:14:12: mappings[0].users: Invalid option`,
      keyPath: "mappings[0].users",
      line: 14,
    },
    {
      name: "a missing required key",
      text: valid.replace("    product: creative-cloud\n", ""),
      message: `mappings[0].product: is required`,
      keyPath: "mappings[0].product",
      line: 12,
    },
    {
      name: "an unknown provider",
      text: valid.replace("provider: district", "provider: nowhere"),
      message: `${FILE}:13:15: mappings[0].provider: unknown provider "nowhere" (known: district)`,
      keyPath: "mappings[0].provider",
      line: 13,
    },
    {
      name: "users: users with groups",
      text: valid.replace("users: students", "users: users"),
      message: "users: users is valid only for a mapping without groups",
      keyPath: "mappings[0].users",
      line: 14,
    },
    {
      name: "a duplicate mapping name",
      text: valid + valid.split("mappings:\n")[1]!,
      message: 'duplicate mapping name "ela6"',
      keyPath: "mappings[1].name",
      line: 20,
    },
    {
      name: "invalid YAML",
      text: "providers:\n  a: [1,\n",
      message: `${FILE}:3:1: invalid YAML`,
      keyPath: undefined,
      line: 3,
    },
    {
      name: "a bad cron schedule",
      text: valid.replace("    product: creative-cloud", "    product: x\n    schedule: 'every day'"),
      message: "mappings[0].schedule: ",
      keyPath: "mappings[0].schedule",
      line: 20,
    },
  ])("reports $name", ({ text, env: e, message, keyPath, line }) => {
    const error = configErrorOf(text, e ?? env);
    expect(error.message).toContain(message);
    expect(error.keyPath).toBe(keyPath);
    expect(error.line).toBe(line);
    expect(error.file).toBe(FILE);
  });

  it("never puts a secret from the environment into an error", () => {
    const error = configErrorOf(
      valid.replace("pageSize: ${PAGE_SIZE:-250}", "pageSize: ${CLIENT_SECRET}"),
      env,
    );
    expect(error.message).toContain("providers.district.pageSize");
    expect(error.message).not.toContain("s3cr#t");
  });
});
