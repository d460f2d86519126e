// The small set of errors roster-sync raises. Each has a stable `code`, the context a person needs,
// and a `cause`. Whether an error is worth retrying is decided by `retriable` (see also
// src/providers/retry.ts for HTTP statuses), never by scattered checks of messages.

export type ErrorCode =
  | "CONFIG"
  | "USAGE"
  | "PROVIDER_HTTP"
  | "PROVIDER_AUTH"
  | "PROVIDER_RESPONSE"
  | "PROVIDER_NETWORK"
  | "INCOMPLETE_FETCH"
  | "NO_GROUP_MATCHED"
  | "DATABASE"
  | "DATABASE_LOCKED"
  | "SINK";

export class RosterSyncError extends Error {
  readonly code: ErrorCode;
  /** True when trying the same thing again later may succeed (network, 429, 5xx, a locked sink). */
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** Bad configuration: names the file, key path and, where known, line and column. Exit code 2. */
export class ConfigError extends RosterSyncError {
  constructor(
    message: string,
    readonly file: string,
    readonly keyPath: string | undefined,
    readonly line?: number,
    readonly column?: number,
  ) {
    super("CONFIG", message);
  }
}

/** Bad command-line usage (unknown mapping, bad flag value). Exit code 2. */
export class UsageError extends RosterSyncError {
  constructor(message: string) {
    super("USAGE", message);
  }
}

/** A provider request or response failed. `url` never carries credentials. */
export class ProviderError extends RosterSyncError {
  constructor(
    code: Extract<
      ErrorCode,
      "PROVIDER_HTTP" | "PROVIDER_AUTH" | "PROVIDER_RESPONSE" | "PROVIDER_NETWORK" | "INCOMPLETE_FETCH"
    >,
    message: string,
    readonly provider: string,
    readonly url: string | undefined,
    readonly status: number | undefined,
    options: { cause?: unknown; retriable?: boolean } = {},
  ) {
    super(code, message, options);
  }
}

/** A mapping's groups matched nothing: an error, never an empty roster (SPEC §3). */
export class NoGroupMatchedError extends RosterSyncError {
  constructor(message: string) {
    super("NO_GROUP_MATCHED", message);
  }
}

export class DatabaseError extends RosterSyncError {
  constructor(message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super("DATABASE", message, options);
  }
}

/** The embedded database folder is held by another process (SPEC §7). Exit code 1. */
export class DatabaseLockedError extends RosterSyncError {
  constructor(
    message: string,
    readonly holder: { pid: number; command: string; host: string; since: string },
  ) {
    super("DATABASE_LOCKED", message);
  }
}

export class SinkError extends RosterSyncError {
  constructor(
    message: string,
    readonly sink: string,
    options: { cause?: unknown; retriable?: boolean } = {},
  ) {
    super("SINK", message, { retriable: true, ...options });
  }
}

/** A URL fit for logs and errors: no user info, and no query parameters that carry secrets. */
export function safeUrl(input: string | URL): string {
  let url: URL;
  try {
    url = new URL(String(input));
  } catch {
    return "<invalid url>";
  }
  url.username = "";
  url.password = "";
  for (const key of [...url.searchParams.keys()]) {
    if (/^(oauth_|access_token|token|client_secret|secret|signature|password|api_key|apikey)/i.test(key)) {
      url.searchParams.delete(key);
    }
  }
  return url.toString();
}
