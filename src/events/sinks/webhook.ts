// The `webhook` sink: one HTTP POST per event, body = the event's JSON (SPEC §5), signed with
// HMAC-SHA256 so the receiver can tell it came from us. The relay decides when to try again: got's
// own retry is off and every outcome is classified here, once (see classifyWebhookStatus).
//
// What a request carries (documented for receivers in README "Event sinks"):
//   content-type: application/json
//   x-roster-sync-event-id: <event id>             the stable id to de-duplicate on
//   x-roster-sync-signature: sha256=<hex>          HMAC-SHA256 of the raw body bytes, key = `secret`
// The body is exactly the bytes that were signed; a receiver must verify the raw body, before
// parsing it. There is no timestamp header: replaying a captured request delivers an event the
// receiver has already applied, which its de-duplication on the event id turns into a no-op.
import { createHmac, timingSafeEqual } from "node:crypto";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";

import got, { type Got } from "got";

import type { SinkConfig } from "../../config/schema.js";
import { safeUrl } from "../../errors.js";
import type { RosterEvent } from "../../sync/events.js";

export type WebhookSinkConfig = Extract<SinkConfig, { type: "webhook" }>;

export const EVENT_ID_HEADER = "x-roster-sync-event-id";
export const SIGNATURE_HEADER = "x-roster-sync-signature";

/** `sha256=` + hex HMAC-SHA256 of the raw body with the secret: the value of SIGNATURE_HEADER. */
export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** True when `header` is the signature of `body` under `secret` (constant-time comparison). */
export function verifySignature(secret: string, body: string | Buffer, header: string | undefined): boolean {
  if (typeof header !== "string") {
    return false;
  }
  const expected = Buffer.from(signBody(secret, body));
  const given = Buffer.from(header.trim());
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export type WebhookStatusClass = "delivered" | "transient" | "permanent";

/**
 * 4xx answers that say nothing about the event: a wrong secret or credentials (401, 403, 407) or a
 * wrong URL (404, 405, 410, 421) would refuse every event alike. Failing each at once would fail
 * the whole backlog in seconds; they are retried like a receiver that is down, so a misconfigured
 * sink is visibly stuck (one event failed per `maxAttempts`, the rest pending) until it is fixed.
 */
const ENDPOINT_STATUSES: ReadonlySet<number> = new Set([401, 403, 404, 405, 407, 410, 421]);

/**
 * What an answer means for the event. 2xx: delivered. 408 (the receiver gave up waiting), 429
 * (slow down), 5xx (the receiver is down or broken) and ENDPOINT_STATUSES: transient, the event
 * stays pending and the sink backs off, up to the sink's `maxAttempts`. Any other 4xx (400, 409,
 * 413, 422, …): the receiver refuses this event and will refuse these bytes again, so it fails at
 * once and the next event goes. 1xx/3xx (redirects are not followed: a moved endpoint is a
 * configuration matter, not the event's fault): transient. Network errors and timeouts are always
 * transient (see WebhookSink.send).
 */
export function classifyWebhookStatus(status: number): WebhookStatusClass {
  if (status >= 200 && status < 300) {
    return "delivered";
  }
  if (status === 408 || status === 429 || status >= 500 || ENDPOINT_STATUSES.has(status)) {
    return "transient";
  }
  if (status >= 400) {
    return "permanent";
  }
  return "transient";
}

export type WebhookOutcome =
  | { kind: "delivered"; status: number }
  /** `retryAfter`: the Retry-After header as sent, for the relay's backoff. */
  | { kind: "transient"; error: string; status?: number; retryAfter?: string }
  | { kind: "permanent"; error: string; status: number };

/** Characters of the receiver's answer kept in an error (it explains a 400 better than we can). */
const ANSWER_EXCERPT = 200;

/** Sends events to one webhook endpoint, one request per event, over kept-alive connections. */
export class WebhookSink {
  readonly url: string;
  readonly #target: URL;
  readonly #secret: string;
  readonly #client: Got;
  readonly #agents: { http: HttpAgent; https: HttpsAgent };

  constructor(config: WebhookSinkConfig) {
    this.#target = new URL(config.url);
    this.url = safeUrl(this.#target);
    this.#secret = config.secret;
    this.#agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
    this.#client = got.extend({
      timeout: { request: config.timeoutMs },
      retry: { limit: 0 },
      throwHttpErrors: false,
      followRedirect: false,
      agent: this.#agents,
      headers: { "user-agent": "roster-sync" },
    });
  }

  /** POSTs one event and classifies the outcome. Never throws for HTTP or network failures. */
  async send(event: RosterEvent): Promise<WebhookOutcome> {
    const body = Buffer.from(JSON.stringify(event), "utf8");
    const outcome = await this.#post(event, body);
    // A kept-alive connection the receiver closed while it was idle fails at once with a reset:
    // that says nothing about the receiver, so the request goes once more on a fresh connection.
    // (The receiver may, rarely, have taken the first one: at least once, the id de-duplicates.)
    if (outcome.kind === "transient" && outcome.reset) {
      return this.#post(event, body);
    }
    return outcome;
  }

  async #post(event: RosterEvent, body: Buffer): Promise<WebhookOutcome & { reset?: boolean }> {
    try {
      const response = await this.#client.post(this.#target, {
        body,
        headers: {
          "content-type": "application/json",
          [EVENT_ID_HEADER]: event.id,
          [SIGNATURE_HEADER]: signBody(this.#secret, body),
        },
      });
      const status = response.statusCode;
      const kind = classifyWebhookStatus(status);
      if (kind === "delivered") {
        return { kind, status };
      }
      const excerpt = String(response.body ?? "")
        .replace(/\s+/g, " ")
        .trim()
        .slice(0, ANSWER_EXCERPT);
      const error = this.#scrub(
        `webhook ${this.url} answered ${status}${response.statusMessage ? ` ${response.statusMessage}` : ""}` +
          (excerpt ? `: ${excerpt}` : ""),
      );
      if (kind === "permanent") {
        return { kind, error, status };
      }
      const retryAfter = response.headers["retry-after"];
      return { kind, error, status, ...(retryAfter ? { retryAfter } : {}) };
    } catch (error) {
      // got's RequestError / TimeoutError, or anything else on the way: the event stays pending.
      const { code, message } = error as { code?: unknown; message?: unknown };
      const reason = `${typeof code === "string" ? `${code}: ` : ""}${String(message ?? error)}`;
      return {
        kind: "transient",
        error: this.#scrub(`webhook ${this.url} failed: ${reason}`),
        reset: code === "ECONNRESET" || code === "EPIPE",
      };
    }
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }

  /** Belt and braces: an error text never carries the secret or the URL's credentials. */
  #scrub(text: string): string {
    // A secret of a few characters would redact half the message; secrets are meant to be long.
    let out = this.#secret.length >= 4 ? text.split(this.#secret).join("[redacted]") : text;
    if (this.#target.password) {
      out = out.split(this.#target.password).join("[redacted]");
    }
    return out;
  }
}
