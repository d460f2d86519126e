// What each attempt of a provider request sends to prove who we are (SPEC §4), built from the
// provider's `auth` config. Called afresh for every attempt: OAuth1 needs a new nonce and timestamp
// each time, and OAuth2 refreshes its token once on a 401.
import type { Got } from "got";
import type { AuthConfig, ProviderConfig } from "../config/schema.js";
import { RosterSyncError } from "../errors.js";
import { signRequest } from "./oneroster/auth/oauth1.js";
import { defaultTokenUrl, OAuth2TokenSource } from "./oneroster/auth/oauth2.js";

/** What one attempt sends to prove who we are. Called again for every attempt. */
export interface Authorization {
  headers: Record<string, string>;
  /** Called on a 401; returning true retries the request once with fresh credentials (OAuth2). */
  onUnauthorized?: () => boolean;
}

export interface Authorizer {
  authorize(method: string, url: URL): Promise<Authorization> | Authorization;
}

export const noAuth: Authorizer = { authorize: () => ({ headers: {} }) };

export function bearerAuth(token: string): Authorizer {
  return { authorize: () => ({ headers: { authorization: `Bearer ${token}` } }) };
}

/** OAuth1 HMAC-SHA256 without `oauth_version` (ClassLink): a fresh nonce and timestamp per call. */
export function oauth1Auth(clientId: string, clientSecret: string): Authorizer {
  return {
    authorize: (method, url) => ({
      headers: { authorization: signRequest(method, url, { clientId, clientSecret }) },
    }),
  };
}

export function oauth2Auth(tokens: OAuth2TokenSource): Authorizer {
  return {
    async authorize() {
      const token = await tokens.token();
      return {
        headers: { authorization: `Bearer ${token}` },
        onUnauthorized: () => {
          tokens.invalidate(token);
          return true;
        },
      };
    },
  };
}

/** The authorizer the provider's `auth` config asks for. */
export function createAuthorizer(config: ProviderConfig, client: Got): Authorizer {
  const auth: AuthConfig | undefined = config.auth;
  switch (auth?.method) {
    case undefined:
    case "none":
      return noAuth;
    case "bearer":
      return bearerAuth(auth.token);
    case "oauth1":
      return oauth1Auth(auth.clientId, auth.clientSecret);
    case "oauth2":
      return oauth2Auth(
        new OAuth2TokenSource({
          providerName: config.name,
          tokenUrl: auth.tokenUrl ?? defaultTokenUrl(requireBaseUrl(config)),
          clientId: auth.clientId,
          clientSecret: auth.clientSecret,
          scope: auth.scope,
          got: client,
          maxResponseBytes: config.maxResponseBytes,
        }),
      );
  }
}

/** The provider's baseUrl, which the schema requires of every REST type but clever (its connector
 * fills in the default). Shared with the HTTP client, which needs it first. */
export function requireBaseUrl(config: Pick<ProviderConfig, "baseUrl" | "name">): string {
  if (!config.baseUrl) {
    throw new RosterSyncError("CONFIG", `provider ${config.name} has no baseUrl`);
  }
  return config.baseUrl;
}
