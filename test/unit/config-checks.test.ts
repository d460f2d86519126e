// What the loader refuses or warns about beyond the shape: schedules and time zones the worker
// could not use (issue 9 item 8), YAML alias bombs (item 10), secrets written in the file (item 11).
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { desiredSchedulers } from "../../src/worker/schedules.js";
import { CONFIG_FILE as FILE, configErrorOf, positionOf } from "../helpers/config.js";

const base = `providers:
  district:
    type: oneroster
    baseUrl: http://127.0.0.1:8299/ims/oneroster/v1p1/
    auth:
      method: oauth1
      clientId: \${CLIENT_ID}
      clientSecret: \${CLIENT_SECRET}
mappings:
  - name: ela6
    provider: district
    users: students
    product: creative-cloud
`;
const env = { CLIENT_ID: "id", CLIENT_SECRET: "s3cr3t-from-env" };

/** `FILE:line:col` of the first occurrence of `fragment` in `text`. */
function at(text: string, fragment: string): string {
  return `${FILE}:${positionOf(text, fragment)}`;
}

describe("schedules and time zones are parsed as the worker parses them", () => {
  it.each([
    ["99 99 99 99 99", /expected range 0-59/],
    ["*/0 * * * *", /cannot repeat at every 0/],
    ["not a cron", /has 3 field\(s\)/],
    // Five words passed the old field-by-field check.
    ["every day at two am", /Invalid characters/],
    ["0 2 * * MON#9", /occurrence number/],
    ["0 0 31 2 *", /not a usable cron expression/],
    ["0 0 * * * * *", /has 7 field\(s\)/],
  ])("refuses a mapping's schedule %j at its line and column", (schedule, why) => {
    const text = `${base}    schedule: "${schedule}"\n`;
    const error = configErrorOf(text, env);
    expect(error.message).toContain(`${at(text, `"${schedule}"`)}: mappings[0].schedule: `);
    expect(error.message).toMatch(why);
    expect(error.keyPath).toBe("mappings[0].schedule");
  });

  it("refuses an unusable defaults.schedule", () => {
    const text = `${base}defaults:\n  schedule: "*/0 * * * *"\n`;
    expect(configErrorOf(text, env).message).toContain(`${at(text, '"*/0')}: defaults.schedule: `);
  });

  it("refuses an unknown time zone at its line and column", () => {
    const text = `${base}defaults:\n  timezone: Mars/Olympus_Mons\n`;
    const error = configErrorOf(text, env);
    expect(error.message).toBe(
      `${at(text, "Mars/")}: defaults.timezone: unknown time zone "Mars/Olympus_Mons": must be an IANA zone such as UTC or America/New_York`,
    );
  });

  it("accepts what the worker schedules: 5 or 6 fields, names, zones, intervals", () => {
    const text = `${base}    schedule: "0  */4 * * MON-FRI"
  - { name: b, provider: district, users: teachers, product: x, schedule: "*/30 * * * * *" }
  - { name: c, provider: district, users: teachers, product: x, schedule: { every: 15m } }
defaults:
  timezone: America/New_York
`;
    const config = parseConfig(text, FILE, env);
    expect(desiredSchedulers(config).invalid).toEqual([]);
    expect(config.timezone).toBe("America/New_York");
  });
});

describe("YAML alias bombs", () => {
  const laughs = [
    "lol: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]",
    "lol2: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]",
    "lol3: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]",
    "lol4: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]",
    "lol5: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]",
    "lol6: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]",
    "lol7: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]",
    "lol8: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]",
    "lol9: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]",
  ].join("\n");

  it("is a ConfigError with file, line and column, not a ReferenceError", () => {
    const text = `${laughs}\n${base}`;
    const error = configErrorOf(text, env);
    expect(error.message).toBe(
      `${at(text, "*b")}: invalid YAML: aliases expand to too many nodes (over 100; a YAML alias bomb?)`,
    );
    expect(error.line).toBe(3);
  });

  it("still allows ordinary anchors and aliases", () => {
    const text = `${base}    safety: &strict { maxRemovals: 1, maxRemovalPercent: 1 }
  - { name: b, provider: district, users: teachers, product: x, safety: *strict }
`;
    expect(parseConfig(text, FILE, env).mappings[1]!.safety).toEqual({
      maxRemovals: 1,
      maxRemovalPercent: 1,
    });
  });
});

describe("secrets written in the file", () => {
  it("warns with the key path and line, without the secret", () => {
    const text =
      base.replace("clientSecret: ${CLIENT_SECRET}", "clientSecret: hunter2-literal") +
      `events:
  sinks:
    - type: webhook
      url: http://127.0.0.1:9/hook
      secret: "webhook-literal"
database:
  url: postgresql://roster:db-literal@127.0.0.1:5432/roster
redis:
  url: redis://:redis-literal@127.0.0.1:6379
`;
    const { warnings } = parseConfig(text, FILE, env);
    expect(warnings.map((w) => w.keyPath)).toEqual([
      "providers.district.auth.clientSecret",
      "events.sinks[0].secret",
      "database.url",
      "redis.url",
    ]);
    expect(warnings[0]!.message).toBe(
      `${at(text, "hunter2")}: providers.district.auth.clientSecret: a secret written in plain text in the file; write \${VAR} and set VAR in the environment`,
    );
    expect(warnings[2]!.message).toContain("(the password in this URL)");
    expect(warnings[0]!.line).toBe(8);
    expect(JSON.stringify(warnings)).not.toMatch(/literal/);
  });

  it("does not warn about a default: it comes through ${VAR}, which overrides it", () => {
    const text = base.replace("${CLIENT_SECRET}", "${CLIENT_SECRET:-dev-secret}");
    expect(parseConfig(text, FILE, { CLIENT_ID: "id" }).warnings).toEqual([]);
    expect(parseConfig(text, FILE, env).warnings).toEqual([]);
  });

  it("does not warn about secrets from the environment, bearer tokens included, or URLs without a written password", () => {
    const text =
      base.replace(/auth:\n(.*\n){3}/, () => "auth:\n      method: bearer\n      token: '${TOKEN}'\n") +
      `database:
  url: postgresql://roster:\${PGPASSWORD}@127.0.0.1:5432/roster
redis:
  url: \${REDIS_URL:-redis://127.0.0.1:6379}
`;
    const config = parseConfig(text, FILE, { TOKEN: "t", PGPASSWORD: "p", REDIS_URL: "redis://:pw@h:1" });
    expect(config.warnings).toEqual([]);
    const written = parseConfig(text.replace("'${TOKEN}'", "abc.def"), FILE, { PGPASSWORD: "p" });
    expect(written.warnings.map((w) => w.keyPath)).toEqual(["providers.district.auth.token"]);
  });
});
