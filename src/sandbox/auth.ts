// The sandbox's side of authentication: it verifies OAuth 1.0a HMAC-SHA256 requests the way a
// ClassLink-style server does (signature, known key, timestamp skew, nonce replay) and issues
// OAuth 2 client-credentials bearer tokens. Each check returns a reason for the 401 body.
import { randomBytes, timingSafeEqual } from "node:crypto";
import {
  hmacSignature,
  parseAuthorizationHeader,
  signatureBaseString,
} from "../providers/oneroster/auth/oauth1.js";

const SECOND = 1000;
const MINUTE = 60 * SECOND;

export type AuthResult = { ok: true } | { ok: false; reason: string };

export interface OAuth1VerifierOptions {
  clientId: string;
  clientSecret: string;
  /** Largest accepted difference between oauth_timestamp and the server clock. Default 10 minutes. */
  maxSkewMs?: number;
  now?: () => number;
}

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

export class OAuth1Verifier {
  private readonly maxSkewMs: number;
  private readonly now: () => number;
  /** nonce key → time after which its timestamp is too old anyway, so it can be forgotten. */
  private readonly nonces = new Map<string, number>();
  private lastPrune = 0;

  constructor(private readonly options: OAuth1VerifierOptions) {
    this.maxSkewMs = options.maxSkewMs ?? 10 * MINUTE;
    this.now = options.now ?? Date.now;
  }

  /**
   * Verifies a request. `url` is the absolute URL as the client signed it (http://host/path?query);
   * the oauth_* parameters come from the Authorization header or, failing that, the query string.
   */
  verify(method: string, url: URL, authorization: string | undefined): AuthResult {
    let params: Map<string, string>;
    let signedUrl = url;
    const header = authorization ? parseAuthorizationHeader(authorization) : undefined;
    if (header) {
      params = header;
    } else if (url.searchParams.has("oauth_signature")) {
      params = new Map([...url.searchParams].filter(([k]) => k.startsWith("oauth_")));
      signedUrl = new URL(url.href);
      signedUrl.searchParams.delete("oauth_signature");
    } else {
      return { ok: false, reason: "missing OAuth 1.0a credentials" };
    }
    const signature = params.get("oauth_signature");
    const consumerKey = params.get("oauth_consumer_key");
    const method_ = params.get("oauth_signature_method");
    const nonce = params.get("oauth_nonce");
    const timestamp = params.get("oauth_timestamp");
    if (!signature || !consumerKey || !method_ || !nonce || !timestamp) {
      return { ok: false, reason: "incomplete OAuth 1.0a parameters" };
    }
    if (consumerKey !== this.options.clientId) {
      return { ok: false, reason: "unknown oauth_consumer_key" };
    }
    if (method_ !== "HMAC-SHA256") {
      return { ok: false, reason: `unsupported oauth_signature_method ${method_}` };
    }
    if (!/^\d+$/.test(timestamp)) {
      return { ok: false, reason: "malformed oauth_timestamp" };
    }
    const now = this.now();
    const timestampMs = Number(timestamp) * SECOND;
    if (Math.abs(now - timestampMs) > this.maxSkewMs) {
      return { ok: false, reason: "oauth_timestamp outside the accepted window" };
    }
    // When the parameters came in the header they are extra parameters of the base string; when they
    // came in the query they are already part of the URL.
    const extra: [string, string][] =
      signedUrl === url ? [...params].filter(([k]) => k !== "oauth_signature" && k !== "realm") : [];
    const expected = hmacSignature(signatureBaseString(method, signedUrl, extra), this.options.clientSecret);
    if (!safeEqual(expected, signature)) {
      return { ok: false, reason: "invalid signature" };
    }
    this.prune(now);
    const key = `${consumerKey}\u0000${nonce}`;
    if (this.nonces.has(key)) {
      return { ok: false, reason: "oauth_nonce already used" };
    }
    this.nonces.set(key, timestampMs + this.maxSkewMs);
    return { ok: true };
  }

  private prune(now: number): void {
    if (now - this.lastPrune < SECOND) {
      return;
    }
    this.lastPrune = now;
    for (const [key, forgetAt] of this.nonces) {
      if (forgetAt < now) {
        this.nonces.delete(key);
      }
    }
  }
}

export interface TokenIssuerOptions {
  clientId: string;
  clientSecret: string;
  /** Lifetime of issued tokens, sent as `expires_in`. Default 3600 s. */
  tokenTtlSeconds?: number;
  now?: () => number;
}

export type TokenResponse =
  | { status: 200; body: { access_token: string; token_type: "bearer"; expires_in: number; scope: string } }
  | { status: 400 | 401; body: { error: string; error_description: string } };

/** OAuth 2 client credentials (RFC 6749 §4.4): Basic auth or client_id/client_secret in the form. */
export class TokenIssuer {
  private readonly tokens = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly options: TokenIssuerOptions) {
    this.now = options.now ?? Date.now;
  }

  issue(authorization: string | undefined, form: URLSearchParams): TokenResponse {
    if (form.get("grant_type") !== "client_credentials") {
      return {
        status: 400,
        body: { error: "unsupported_grant_type", error_description: "grant_type must be client_credentials" },
      };
    }
    let clientId = form.get("client_id") ?? undefined;
    let clientSecret = form.get("client_secret") ?? undefined;
    const basic = /^Basic\s+(\S+)$/i.exec(authorization ?? "");
    if (basic) {
      const decoded = Buffer.from(basic[1]!, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon >= 0) {
        clientId = decodeURIComponent(decoded.slice(0, colon));
        clientSecret = decodeURIComponent(decoded.slice(colon + 1));
      }
    }
    if (
      clientId !== this.options.clientId ||
      clientSecret === undefined ||
      !safeEqual(clientSecret, this.options.clientSecret)
    ) {
      return {
        status: 401,
        body: { error: "invalid_client", error_description: "unknown client or bad secret" },
      };
    }
    const ttl = this.options.tokenTtlSeconds ?? 3600;
    const token = randomBytes(24).toString("base64url");
    this.tokens.set(token, this.now() + ttl * SECOND);
    return {
      status: 200,
      body: { access_token: token, token_type: "bearer", expires_in: ttl, scope: form.get("scope") ?? "" },
    };
  }

  verify(authorization: string | undefined): AuthResult {
    const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? "");
    if (!bearer) {
      return { ok: false, reason: "missing bearer token" };
    }
    const expiresAt = this.tokens.get(bearer[1]!);
    if (expiresAt === undefined) {
      return { ok: false, reason: "unknown bearer token" };
    }
    if (expiresAt <= this.now()) {
      this.tokens.delete(bearer[1]!);
      return { ok: false, reason: "expired bearer token" };
    }
    return { ok: true };
  }

  /** Forgets every issued token, so the next request gets a 401 (to test refresh-once-on-401). */
  revokeAll(): number {
    const n = this.tokens.size;
    this.tokens.clear();
    return n;
  }
}
