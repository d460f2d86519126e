// The webhook signature (vectors computed independently with Python's hmac module), the table of
// what an answer means for an event, and the relay's backoff maths. Nothing running.
import { describe, expect, it } from "vitest";

import { sinkBackoffDelay } from "../../src/events/relay.js";
import { isValidJobId } from "../../src/events/sinks/queue.js";
import {
  classifyWebhookStatus,
  signBody,
  verifySignature,
  type WebhookStatusClass,
} from "../../src/events/sinks/webhook.js";

// python3 -c 'import hmac,hashlib; print(hmac.new(KEY, BODY, hashlib.sha256).hexdigest())'
const VECTORS = [
  {
    secret: "key",
    body: "The quick brown fox jumps over the lazy dog",
    hex: "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
  },
  {
    secret: "whsec_test-secret",
    body: '{"id":"evt_0123456789abcdef0123456789abcdef","type":"add","mapping":"ela6-creative-cloud","product":"creative-cloud"}',
    hex: "81d0a650e94199e1ead9f0df68664d016c7d17072e2a456d2577bac93ed608a9",
  },
  // Non-ASCII: the signature is over the UTF-8 bytes of the body.
  {
    secret: "whsec_test-secret",
    body: '{"givenName":"Zoë"}',
    hex: "2cd0335ff1200e691f24e86eac6565128050f37211c098523b541d1ee90721ce",
  },
];

describe("signBody / verifySignature", () => {
  it.each(VECTORS)("signs $body", ({ secret, body, hex }) => {
    expect(signBody(secret, body)).toBe(`sha256=${hex}`);
    expect(signBody(secret, Buffer.from(body, "utf8"))).toBe(`sha256=${hex}`);
    expect(verifySignature(secret, body, `sha256=${hex}`)).toBe(true);
  });

  it("rejects a wrong secret, a changed body, a missing or malformed header", () => {
    const { secret, body, hex } = VECTORS[1]!;
    const header = `sha256=${hex}`;
    expect(verifySignature("other", body, header)).toBe(false);
    expect(verifySignature(secret, `${body} `, header)).toBe(false);
    expect(verifySignature(secret, body, undefined)).toBe(false);
    expect(verifySignature(secret, body, hex)).toBe(false);
    expect(verifySignature(secret, body, `sha256=${hex.slice(0, -1)}`)).toBe(false);
    expect(verifySignature(secret, body, `sha1=${hex}`)).toBe(false);
  });
});

describe("classifyWebhookStatus", () => {
  const table: [number, WebhookStatusClass][] = [
    [200, "delivered"],
    [201, "delivered"],
    [202, "delivered"],
    [204, "delivered"],
    [299, "delivered"],
    [301, "transient"],
    [302, "transient"],
    [307, "transient"],
    [400, "permanent"],
    // Would refuse every event alike (a wrong secret or URL): retried up to maxAttempts.
    [401, "transient"],
    [403, "transient"],
    [404, "transient"],
    [405, "transient"],
    [408, "transient"],
    [409, "permanent"],
    [410, "transient"],
    [413, "permanent"],
    [422, "permanent"],
    [429, "transient"],
    [500, "transient"],
    [502, "transient"],
    [503, "transient"],
    [504, "transient"],
    [521, "transient"],
  ];
  it.each(table)("%i → %s", (status, expected) => {
    expect(classifyWebhookStatus(status)).toBe(expected);
  });
});

describe("sinkBackoffDelay", () => {
  const now = Date.UTC(2026, 10, 29, 7, 0, 0);
  const backoff = { baseMs: 1000, maxMs: 60_000, maxRetryAfterMs: 3_600_000 };

  it("doubles per failure with equal jitter, capped", () => {
    const table: [failures: number, random: number, ms: number][] = [
      [1, 0, 500],
      [1, 1, 1000],
      [2, 0, 1000],
      [2, 0.5, 1500],
      [3, 1, 4000],
      [7, 0, 30_000],
      [7, 1, 60_000],
      [30, 1, 60_000],
    ];
    for (const [failures, random, ms] of table) {
      expect(sinkBackoffDelay({ failures, now, random, backoff }), `${failures}, ${random}`).toBe(ms);
    }
  });

  it("waits at least what Retry-After asks (seconds or HTTP date), up to maxRetryAfterMs", () => {
    expect(sinkBackoffDelay({ failures: 1, retryAfter: "120", now, random: 0, backoff })).toBe(120_000);
    const date = new Date(now + 90_000).toUTCString();
    expect(sinkBackoffDelay({ failures: 1, retryAfter: date, now, random: 0, backoff })).toBe(90_000);
    // The exponential delay wins when it is longer.
    expect(sinkBackoffDelay({ failures: 7, retryAfter: "1", now, random: 1, backoff })).toBe(60_000);
    expect(sinkBackoffDelay({ failures: 1, retryAfter: "86400", now, random: 0, backoff })).toBe(3_600_000);
    // Garbage is ignored.
    expect(sinkBackoffDelay({ failures: 1, retryAfter: "soon", now, random: 0, backoff })).toBe(500);
  });
});

describe("isValidJobId", () => {
  it.each([
    ["evt_0123456789abcdef0123456789abcdef", true],
    ["123", false],
    ["evt:1", false],
    ["", false],
    ["12a", true],
  ] as const)("%s → %s", (id, valid) => {
    expect(isValidJobId(id)).toBe(valid);
  });
});
