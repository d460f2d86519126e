// OAuth 1.0a request signing (RFC 5849) as ClassLink and most OneRoster 1.1 servers expect it:
// HMAC-SHA256, no token, query parameters part of the signature base string, and a fresh nonce and
// timestamp on every request (so also on every retry). Pure except for `signRequest`'s defaults.
import { createHmac, randomBytes } from "node:crypto";

export type OAuth1Method = "HMAC-SHA256" | "HMAC-SHA1";

/** RFC 3986 percent-encoding as RFC 5849 §3.6 requires (unreserved characters stay as they are). */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** Base string URI (RFC 5849 §3.4.1.2): scheme and host lower case, default port dropped, no query. */
export function baseStringUri(url: URL): string {
  const scheme = url.protocol.toLowerCase();
  const host = url.hostname.toLowerCase();
  const defaultPort =
    (scheme === "http:" && url.port === "80") || (scheme === "https:" && url.port === "443");
  const port = url.port && !defaultPort ? `:${url.port}` : "";
  return `${scheme}//${host}${port}${url.pathname}`;
}

/** Normalised parameters (RFC 5849 §3.4.1.3.2): encoded, sorted by name then value, joined with &. */
export function normaliseParameters(params: [string, string][]): string {
  return params
    .map(([k, v]) => [percentEncode(k), percentEncode(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

/** Signature base string (RFC 5849 §3.4.1). `extraParams` are oauth_* and form-body parameters. */
export function signatureBaseString(method: string, url: URL, extraParams: [string, string][]): string {
  const query: [string, string][] = [...url.searchParams.entries()];
  return [
    method.toUpperCase(),
    percentEncode(baseStringUri(url)),
    percentEncode(normaliseParameters([...query, ...extraParams])),
  ].join("&");
}

export function hmacSignature(
  baseString: string,
  consumerSecret: string,
  tokenSecret = "",
  method: OAuth1Method = "HMAC-SHA256",
): string {
  const key = `${percentEncode(consumerSecret)}&${percentEncode(tokenSecret)}`;
  return createHmac(method === "HMAC-SHA256" ? "sha256" : "sha1", key)
    .update(baseString)
    .digest("base64");
}

export interface OAuth1Credentials {
  clientId: string;
  clientSecret: string;
  token?: string;
  tokenSecret?: string;
  signatureMethod?: OAuth1Method;
  /** Sent only when set: ClassLink and oneroster-python leave `oauth_version` out. */
  version?: string;
}

export interface OAuth1Parameters {
  nonce: string;
  timestamp: string;
}

/** The oauth_* parameters of one request, signature included. */
export function oauthParameters(
  method: string,
  url: URL,
  creds: OAuth1Credentials,
  fresh: OAuth1Parameters,
): [string, string][] {
  const params: [string, string][] = [
    ["oauth_consumer_key", creds.clientId],
    ["oauth_nonce", fresh.nonce],
    ["oauth_signature_method", creds.signatureMethod ?? "HMAC-SHA256"],
    ["oauth_timestamp", fresh.timestamp],
  ];
  if (creds.token !== undefined) {
    params.push(["oauth_token", creds.token]);
  }
  if (creds.version !== undefined) {
    params.push(["oauth_version", creds.version]);
  }
  const base = signatureBaseString(method, url, params);
  params.push([
    "oauth_signature",
    hmacSignature(base, creds.clientSecret, creds.tokenSecret ?? "", creds.signatureMethod ?? "HMAC-SHA256"),
  ]);
  return params;
}

/** `Authorization: OAuth …` header value from the oauth_* parameters (RFC 5849 §3.5.1). */
export function authorizationHeader(params: [string, string][]): string {
  return `OAuth ${params.map(([k, v]) => `${percentEncode(k)}="${percentEncode(v)}"`).join(",")}`;
}

/** Parses an `Authorization: OAuth …` header (for servers such as the sandbox). */
export function parseAuthorizationHeader(header: string): Map<string, string> | undefined {
  const m = /^OAuth\s+(.*)$/i.exec(header.trim());
  if (!m) {
    return undefined;
  }
  const out = new Map<string, string>();
  for (const part of m[1]!.split(",")) {
    const kv = /^\s*([^=\s]+)\s*=\s*"([^"]*)"\s*$/.exec(part);
    if (!kv) {
      continue;
    }
    try {
      out.set(decodeURIComponent(kv[1]!), decodeURIComponent(kv[2]!));
    } catch {
      // A malformed percent-escape: the header is unusable, not a reason to throw at the server.
      return undefined;
    }
  }
  return out;
}

/** The Authorization header for one request, with a fresh nonce and timestamp. */
export function signRequest(
  method: string,
  url: URL,
  creds: OAuth1Credentials,
  fresh: OAuth1Parameters = {
    nonce: randomBytes(16).toString("hex"),
    timestamp: String(Math.floor(Date.now() / 1000)),
  },
): string {
  return authorizationHeader(oauthParameters(method, url, creds, fresh));
}
