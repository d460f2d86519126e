// Issue 9 item 9: `${VAR}` and `${VAR:-default}` wherever a value can stand, flow mappings
// included, with values and defaults holding YAML syntax, while substitution stays after parsing
// (a value cannot change the document) and errors keep the admin's positions.
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { maskReferences } from "../../src/config/env.js";
import { CONFIG_FILE as FILE, configErrorOf } from "../helpers/config.js";

function withAuth(auth: string, extra = ""): string {
  return `
providers:
  classlink:
    type: classlink
    baseUrl: https://tenant-app.oneroster.com
    auth: ${auth}
${extra}
mappings:
  - name: ela6
    provider: classlink
    users: students
    product: creative-cloud
`;
}

const flow = "{ method: oauth1, clientId: ${CL_ID}, clientSecret: ${CL_SECRET} }";

describe("${VAR} in a flow mapping", () => {
  it("parses the README's ClassLink form", () => {
    const config = parseConfig(withAuth(flow), FILE, { CL_ID: "key", CL_SECRET: "secret" });
    expect(config.providers.classlink!.auth).toEqual({
      method: "oauth1",
      clientId: "key",
      clientSecret: "secret",
    });
  });

  it.each([
    ["a colon and space", "a: b"],
    ["a hash", "s3cr#t #x"],
    ["commas and braces", "a,b}{c},"],
    ["quotes", `it's "quoted"`],
    ["inner spaces", "a b  c"],
    ["a YAML document", "x\n---\ny: [1"],
    ["a number that would lose its leading zero", "007"],
    ["true in capitals", "TRUE"],
  ])("keeps a value with %s as the literal string", (_what, value) => {
    const config = parseConfig(withAuth(flow), FILE, { CL_ID: value, CL_SECRET: value });
    expect(config.providers.classlink!.auth).toEqual({
      method: "oauth1",
      clientId: value,
      clientSecret: value,
    });
  });

  it.each([
    ["a URL with # and :", "${CL_SECRET:-http://h:1/p#f}", "http://h:1/p#f"],
    ["commas", "${CL_SECRET:-a,b,c}", "a,b,c"],
    ["braces in pairs", "${CL_SECRET:-{a}:{b}}", "{a}:{b}"],
    ["quotes and spaces", `\${CL_SECRET:-it's "x" y}`, `it's "x" y`],
    ["a nested reference's text", "${CL_SECRET:-pre ${X} post}", "pre ${X} post"],
  ])("takes a default with %s as written", (_what, reference, expected) => {
    const auth = `{ method: oauth1, clientId: id, clientSecret: ${reference} }`;
    const config = parseConfig(withAuth(auth), FILE, {});
    expect(config.providers.classlink!.auth).toMatchObject({ clientSecret: expected });
  });

  it("takes the value's type for a whole-reference plain scalar in a flow mapping, and a string when quoted", () => {
    const extra =
      '    rateLimit: { requestsPerSecond: ${RPS:-2.5}, concurrency: ${CONC} }\n    keyIdentifier: "${KEY:-7}"';
    const config = parseConfig(withAuth(flow, extra), FILE, { CL_ID: "a", CL_SECRET: "b", CONC: "3" });
    expect(config.providers.classlink!.rateLimit).toEqual({ requestsPerSecond: 2.5, concurrency: 3 });
    expect(config.providers.classlink!.keyIdentifier).toBe("7");
  });

  it("names an unset variable in a flow mapping at its own line and column", () => {
    const text = withAuth(flow);
    const error = configErrorOf(text, { CL_ID: "a" });
    const line = text.split("\n").findIndex((l) => l.includes("${CL_SECRET}")) + 1;
    const col = text.split("\n")[line - 1]!.indexOf("${CL_SECRET}") + 1;
    expect(error.message).toBe(
      `${FILE}:${line}:${col}: providers.classlink.auth.clientSecret: environment variable CL_SECRET is not set`,
    );
  });

  it("keeps the positions of later errors in the admin's file", () => {
    const text = withAuth(flow, "    pagesize: 3");
    const line = text.split("\n").findIndex((l) => l.includes("pagesize")) + 1;
    expect(() => parseConfig(text, FILE, { CL_ID: "a".repeat(50), CL_SECRET: "b" })).toThrow(
      `${FILE}:${line}:5: providers.classlink.pagesize: unknown key`,
    );
  });

  it("ignores references in comments, and leaves text that is not a reference alone", () => {
    const text = withAuth(flow).replace(
      "    product: creative-cloud",
      () => "    product: ['$x', '${1X}', '$${', '${unclosed'] # ${NOT_SET}",
    );
    const config = parseConfig(text, FILE, { CL_ID: "a", CL_SECRET: "b" });
    expect(config.mappings[0]!.product).toEqual(["$x", "${1X}", "$${", "${unclosed"]);
  });
});

describe("maskReferences", () => {
  it("keeps every offset: the masked text has the same length, line by line", () => {
    const text = "a: ${A}\nb: { c: ${B:-x,y} }\nd: '${C:-{z}}' # ${D}\n";
    const { masked, references } = maskReferences(text);
    expect(masked.length).toBe(text.length);
    expect(masked.split("\n").map((l) => l.length)).toEqual(text.split("\n").map((l) => l.length));
    expect(references.map((r) => [r.name, r.fallback, text.slice(r.start, r.end)])).toEqual([
      ["A", undefined, "${A}"],
      ["B", "x,y", "${B:-x,y}"],
      ["C", "{z}", "${C:-{z}}"],
      ["D", undefined, "${D}"],
    ]);
    expect(masked).not.toMatch(/[${}]{2}/);
  });
});
