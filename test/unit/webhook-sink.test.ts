// The webhook sink's config: only http(s) URLs; retry and progress settings with their defaults,
// taken at their edges (its answers are classified in webhook-signature.test.ts).
import { describe, expect, it } from "vitest";

import { parseConfig } from "../../src/config/load.js";
import { CONFIG_FILE as FILE, configErrorOf } from "../helpers/config.js";

function config(sink: string): string {
  return `providers:
  district:
    type: csv
    path: ./bundle
mappings:
  - name: ela6
    provider: district
    users: students
    product: creative-cloud
events:
  sinks:
    - type: file
      path: ./events.ndjson
    - type: webhook
      secret: whsec_unit-test-secret
${sink}`;
}

describe("webhook sink config", () => {
  it.each(["file:///tmp/events.ndjson", "ftp://receiver.example/hooks", "mailto:ops@example.org"])(
    "refuses %s with the file, line and column of the url",
    (url) => {
      const error = configErrorOf(config(`      url: ${url}\n`));
      expect(error.message).toBe(`${FILE}:16:12: events.sinks[1].url: must be an http:// or https:// URL`);
    },
  );

  it("accepts http and https URLs and applies the documented defaults", () => {
    for (const url of ["http://127.0.0.1:8080/hooks", "https://provisioning.example.com/roster"]) {
      const sink = parseConfig(config(`      url: ${url}\n`), FILE, {}).sinks[1];
      expect(sink).toEqual({
        type: "webhook",
        url,
        secret: "whsec_unit-test-secret",
        timeoutMs: 10_000,
        maxAttempts: 10,
        retryDelayMs: 1000,
        maxRetryDelayMs: 300_000,
        maxRetryAfterMs: 3_600_000,
        saveProgressEvery: 5,
        saveProgressMs: 1000,
      });
    }
  });

  it("takes the limits at their edges and refuses past them", () => {
    const url = "      url: http://127.0.0.1:8080/hooks\n";
    const edges = `${url}      maxAttempts: 1\n      saveProgressEvery: 1\n      saveProgressMs: 0\n      retryDelayMs: 5\n      maxRetryDelayMs: 5\n`;
    expect(parseConfig(config(edges), FILE, {}).sinks[1]).toMatchObject({
      maxAttempts: 1,
      saveProgressEvery: 1,
      saveProgressMs: 0,
      retryDelayMs: 5,
      maxRetryDelayMs: 5,
    });
    expect(configErrorOf(config(`${url}      maxAttempts: 0\n`)).message).toMatch(
      /:17:20: events\.sinks\[1\]\.maxAttempts: /,
    );
    expect(configErrorOf(config(`${url}      saveProgressEvery: 0\n`)).message).toMatch(
      /:17:26: events\.sinks\[1\]\.saveProgressEvery: /,
    );
    expect(
      configErrorOf(config(`${url}      retryDelayMs: 2000\n      maxRetryDelayMs: 1000\n`)).message,
    ).toMatch(/:18:24: events\.sinks\[1\]\.maxRetryDelayMs: must be at least retryDelayMs/);
  });
});
