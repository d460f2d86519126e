// The unauthenticated admin API under /_sandbox/ (loopback only): counters, faults, roster changes.
// GET /_sandbox/ lists the endpoints; see ADMIN_HELP.
import type http from "node:http";
import type { FaultInjector, SandboxFaults } from "./faults.js";
import { parseFaults } from "./faults.js";
import type { MutationResult, SandboxChange } from "./mutate.js";
import { MutationError } from "./mutate.js";
import { readBody, send } from "./respond.js";

export const ADMIN_HELP = {
  "GET /_sandbox/": "this list",
  "GET /_sandbox/info": "urls, auth mode, client id, page sizes, seed, record counts, schools",
  "GET /_sandbox/stats": "request counters (SandboxStats)",
  "POST /_sandbox/reset-stats": "zero the counters",
  "GET /_sandbox/faults": "current faults",
  "POST /_sandbox/faults": "merge a JSON object into the faults; a key set to null turns it off",
  "PUT /_sandbox/faults": "replace the faults ({} turns all off)",
  "DELETE /_sandbox/faults": "turn all faults off",
  "GET /_sandbox/modes": "the strict modes of the REST dialects (minimal, topLevelOnly)",
  "POST /_sandbox/modes": 'merge into the strict modes, e.g. {"minimal": true}',
  "POST /_sandbox/mutate": "apply a roster change (SandboxChange); answers the MutationResult",
  "POST /_sandbox/reset": "regenerate the district from the start options",
  "POST /_sandbox/revoke-tokens": "forget every OAuth 2 token issued",
};

/** What the admin API needs of the sandbox handle (kept narrow: no import of server.ts). */
export interface AdminContext {
  sandbox: {
    stats(): object;
    resetStats(): void;
    mutate(change: SandboxChange): MutationResult;
    resetDistrict(): unknown;
    revokeTokens(): number;
  };
  faults: FaultInjector;
  /** The GET /_sandbox/info document. */
  info: () => object;
  /** The strict modes (modes.ts): read, and merge a checked change. */
  modes: { get(): object; set(changes: unknown): object };
}

export async function serveAdmin(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  ctx: AdminContext,
): Promise<void> {
  const { sandbox: handle, faults, info, modes } = ctx;
  const route = `${req.method} ${url.pathname.replace(/\/+$/, "")}`;
  const json = async (): Promise<unknown> => {
    const text = await readBody(req);
    return text.trim() === "" ? {} : JSON.parse(text);
  };
  try {
    switch (route) {
      case "GET /_sandbox":
        return send(res, 200, ADMIN_HELP);
      case "GET /_sandbox/info":
        return send(res, 200, info());
      case "GET /_sandbox/stats":
        return send(res, 200, handle.stats());
      case "POST /_sandbox/reset-stats":
        handle.resetStats();
        return send(res, 200, { ok: true });
      case "GET /_sandbox/faults":
        return send(res, 200, faults.get());
      case "POST /_sandbox/faults":
        return send(res, 200, faults.merge(parseFaults(await json(), true)));
      case "PUT /_sandbox/faults":
        return send(res, 200, faults.set(parseFaults(await json(), false) as SandboxFaults));
      case "DELETE /_sandbox/faults":
        return send(res, 200, faults.set({}));
      case "GET /_sandbox/modes":
        return send(res, 200, modes.get());
      case "POST /_sandbox/modes":
        return send(res, 200, modes.set(await json()));
      case "POST /_sandbox/mutate": {
        const change = (await json()) as SandboxChange;
        if (change === null || typeof change !== "object" || typeof change.kind !== "string") {
          return send(res, 400, { error: 'a change is a JSON object with a "kind"' });
        }
        return send(res, 200, handle.mutate(change));
      }
      case "POST /_sandbox/reset":
        handle.resetDistrict();
        return send(res, 200, info());
      case "POST /_sandbox/revoke-tokens":
        return send(res, 200, { revoked: handle.revokeTokens() });
      default:
        return send(res, 404, { error: `no admin endpoint ${route}`, endpoints: ADMIN_HELP });
    }
  } catch (error) {
    if (error instanceof SyntaxError || error instanceof TypeError || error instanceof MutationError) {
      return send(res, 400, { error: error.message });
    }
    if (error instanceof RangeError) {
      return send(res, 400, { error: error.message });
    }
    throw error;
  }
}
