// What optional parts of OneRoster a server has, found out once (SPEC §3): the nested endpoints
// (`/classes/{id}/students`, `/schools/{id}/teachers`, `/courses/{id}/classes`), which some 1.2
// servers lack, and `filter` on a collection, which some answer with 400. The first request that
// needs one finds out, requests made meanwhile wait for its answer, and every later one goes
// straight to the feature or straight to the fallback. One instance per connector, so what is
// learnt lasts one fetch cycle (a connector is made per run) and a server that gains a feature is
// noticed on the next run.
import { ProviderError } from "../../errors.js";

/**
 * Statuses that say "this endpoint does not exist here" without doubt. A 404 is ambiguous (the
 * endpoint, or the class it names?), so it is confirmed by the group's existence: see
 * `isMissingEndpoint`.
 */
export const NOT_IMPLEMENTED_STATUSES: ReadonlySet<number> = new Set([405, 501]);

/** The status of a failed provider request, when it was an HTTP answer (not auth, network, shape). */
export function httpStatus(error: unknown): number | undefined {
  return error instanceof ProviderError && error.code === "PROVIDER_HTTP" ? error.status : undefined;
}

/**
 * Whether a request's `filter` is what failed it, so that listing the collection and filtering
 * here is the answer: any HTTP error answer but 429. Servers answer a filter they lack with 400,
 * but also 404, 422, or a 500 from a parser that chokes on `~` or `OR`; listing is never less
 * correct than filtering, only slower. A 429 (retries spent) would hit the listing alike, and
 * auth and network failures are not HTTP answers: those fail the fetch.
 */
export function isFilterRejection(error: unknown): boolean {
  const status = httpStatus(error);
  return status !== undefined && status !== 429;
}

/**
 * Whether `error`, from a nested endpoint of a group (e.g. `classes/123/students`), means the
 * endpoint is missing: a 405 or 501, or a 404 while the group itself exists (`groupExists`, which
 * must not lean on `classes/123` answering: servers of top-level collections only have no such
 * endpoint). A 404 for a group that does not exist means the group is gone: the nested endpoint is
 * fine and the error stands. A failure of `groupExists` is thrown.
 */
export async function isMissingEndpoint(
  error: unknown,
  groupExists: () => Promise<boolean>,
): Promise<boolean> {
  const status = httpStatus(error);
  if (status !== undefined && NOT_IMPLEMENTED_STATUSES.has(status)) {
    return true;
  }
  return status === 404 && groupExists();
}

/** Waiters re-check the state after the discovering call ends; this many rounds at most. */
const MAX_ROUNDS = 32;

export class Capabilities {
  /** feature → true (served), false (missing), or the discovery in progress. */
  readonly #state = new Map<string, boolean | Promise<void>>();

  constructor(private readonly onMissing?: (feature: string, error: unknown) => void) {}

  /** What is known of `route` (a feature): true, false, or undefined while unknown or being found out. */
  known(route: string): boolean | undefined {
    const state = this.#state.get(route);
    return typeof state === "boolean" ? state : undefined;
  }

  /**
   * `nested()` where the feature `route` is served, `fallback()` where it is missing (`isMissing`
   * says so of the error `nested()` failed with). While unknown, one caller tries `nested()` and the
   * others wait for its answer, so the feature is tried once per instance, however many groups are
   * resolved at the same time.
   */
  async run<T>(
    route: string,
    nested: () => Promise<T>,
    fallback: () => Promise<T>,
    isMissing: (error: unknown) => Promise<boolean>,
  ): Promise<T> {
    for (let round = 0; round < MAX_ROUNDS; round += 1) {
      const state = this.#state.get(route);
      if (state === true) {
        return nested();
      }
      if (state === false) {
        return fallback();
      }
      if (state !== undefined) {
        await state;
        continue;
      }
      return this.#discover(route, nested, fallback, isMissing);
    }
    // Only reached when discovery kept failing for other reasons (each waiter became the next
    // discoverer and failed): try the endpoint without memory rather than loop on.
    return nested();
  }

  async #discover<T>(
    route: string,
    nested: () => Promise<T>,
    fallback: () => Promise<T>,
    isMissing: (error: unknown) => Promise<boolean>,
  ): Promise<T> {
    let settle: () => void = () => undefined;
    this.#state.set(
      route,
      new Promise<void>((resolve) => {
        settle = resolve;
      }),
    );
    try {
      const result = await nested();
      this.#state.set(route, true);
      return result;
    } catch (error) {
      let missing = false;
      try {
        missing = await isMissing(error);
      } finally {
        // Unknown again unless proven missing: the next caller tries for itself.
        if (missing) {
          this.#state.set(route, false);
        } else {
          this.#state.delete(route);
        }
      }
      if (!missing) {
        throw error;
      }
      this.onMissing?.(route, error);
      return fallback();
    } finally {
      settle();
    }
  }
}
