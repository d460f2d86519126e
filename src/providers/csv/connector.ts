// The OneRoster 1.1 CSV bundle connector (`type: csv`): a folder or a .zip read once per provider
// instance (one sync cycle), then every Provider method answers from the in-memory index with the
// semantics of the OneRoster REST endpoints it stands in for (/classes/{id}/students,
// /schools/{id}/students, /courses/{id}/classes, /students …). Concurrent first calls share one load.
// Given the mappings it serves, it reads only the files and keeps only the fields they use, and
// tolerates (logs as warnings) departures from the spec in what they do not use.
import type { Logger } from "pino";
import type { MappingConfig, ProviderConfig } from "../../config/schema.js";
import { ProviderError } from "../../errors.js";
import type {
  GroupType,
  ProgressFn,
  Provider,
  ProviderStats,
  RosterGroup,
  RosterUser,
  UserKind,
} from "../types.js";
import { loadBundle, type RosterIndex } from "./bundle.js";
import { csvNeeds, type CsvNeeds } from "./needs.js";
import { formatProblem, Problems, type CsvProblem, type Report } from "./parse.js";
import { openBundle, type BundleSource } from "./source.js";

/** Problems listed in an error's message; the error's `problems` holds up to 100. */
const PROBLEMS_IN_MESSAGE = 10;
/** Warnings named in the run's log and in `validate`; the rest are counted. */
const WARNINGS_SHOWN = 5;

/** A bundle that breaks the OneRoster 1.1 CSV rules in what the sync reads: nothing of it is used. */
export class CsvBundleError extends ProviderError {
  declare readonly problems: readonly CsvProblem[];
  readonly problemCount: number;

  constructor(provider: string, location: string, problems: Problems, warnings = 0) {
    const shown = problems.list.slice(0, PROBLEMS_IN_MESSAGE).map((p) => `  ${formatProblem(p)}`);
    const more = problems.count > shown.length ? [`  … and ${problems.count - shown.length} more`] : [];
    const noun = problems.count === 1 ? "problem" : "problems";
    const tolerated = warnings > 0 ? ` (and ${warnings} it does not depend on)` : "";
    super(
      "PROVIDER_RESPONSE",
      [
        `provider ${provider}: CSV bundle ${location} has ${problems.count} ${noun} with what the sync reads${tolerated}; none of it was used:`,
        ...shown,
        ...more,
      ].join("\n"),
      provider,
      location,
      undefined,
    );
    // Possibly long: kept off enumeration so that logging the error does not dump it.
    Object.defineProperty(this, "problems", { value: problems.list, enumerable: false });
    this.problemCount = problems.count;
  }
}

const KINDS = { students: ["student"], teachers: ["teacher"], users: ["student", "teacher"] } as const;

export class CsvConnector implements Provider {
  readonly name: string;
  /** No HTTP: the counters stay 0. */
  readonly stats: ProviderStats = { requests: 0, retries: 0, status429: 0 };
  readonly #path: string;
  readonly #logger: Logger | undefined;
  readonly #needs: CsvNeeds;
  #index: Promise<RosterIndex> | undefined;
  #warnings: Problems | undefined;

  /** `mappings`: the ones this connector serves; without them every file and column is read and kept. */
  constructor(
    config: ProviderConfig,
    options: { logger?: Logger | undefined; mappings?: readonly MappingConfig[] | undefined } = {},
  ) {
    if (!config.path) {
      throw new ProviderError(
        "PROVIDER_RESPONSE",
        `provider ${config.name}: type csv needs path`,
        config.name,
        undefined,
        undefined,
      );
    }
    this.name = config.name;
    this.#path = config.path;
    this.#logger = options.logger;
    this.#needs = csvNeeds(config, options.mappings);
  }

  async listGroups(type: GroupType, onProgress?: ProgressFn): Promise<RosterGroup[]> {
    const index = await this.#load(onProgress);
    return type === "schools" ? index.schools : type === "courses" ? index.courses : index.classes;
  }

  async courseClasses(courseSourcedId: string, onProgress?: ProgressFn): Promise<RosterGroup[]> {
    const index = await this.#load(onProgress);
    if (!index.courseIds.has(courseSourcedId)) {
      throw this.#missing(`course ${courseSourcedId}`);
    }
    return index.classesByCourse.get(courseSourcedId) ?? [];
  }

  async groupMembers(
    group: { type: "classes" | "schools"; sourcedId: string },
    kind: UserKind,
    onProgress?: ProgressFn,
  ): Promise<RosterUser[]> {
    const index = await this.#load(onProgress);
    const out: RosterUser[] = [];
    if (group.type === "classes") {
      if (!index.classIds.has(group.sourcedId)) {
        throw this.#missing(`class ${group.sourcedId}`);
      }
      // As /classes/{id}/students and /teachers: by enrollment role, each user once per list.
      const members = index.classMembers.get(group.sourcedId);
      for (const role of KINDS[kind]) {
        const seen = new Set<string>();
        for (const user of (role === "student" ? members?.students : members?.teachers) ?? []) {
          if (!seen.has(user.sourcedId)) {
            seen.add(user.sourcedId);
            out.push(user);
          }
        }
      }
      return out;
    }
    if (!index.schoolIds.has(group.sourcedId)) {
      throw this.#missing(`school ${group.sourcedId}`);
    }
    // As /schools/{id}/students and /teachers: users whose orgs include the school, by user role.
    const users = index.usersByOrg.get(group.sourcedId) ?? [];
    for (const role of KINDS[kind]) {
      out.push(...users.filter((u) => u.role === role));
    }
    return out;
  }

  async allUsers(kind: UserKind, onProgress?: ProgressFn): Promise<RosterUser[]> {
    const index = await this.#load(onProgress);
    if (kind === "users") {
      return index.users;
    }
    const role = KINDS[kind][0];
    return index.users.filter((u) => u.role === role);
  }

  /** The bundle is read as a fetch reads it: what the sync reads is usable (else the error says where). */
  async check(): Promise<void> {
    await this.#load();
  }

  /** Problems the last load tolerated (the sync does not depend on them): how many, the first few. */
  tolerated(): { count: number; shown: string[] } {
    const warnings = this.#warnings;
    return {
      count: warnings?.count ?? 0,
      shown: (warnings?.list ?? []).slice(0, WARNINGS_SHOWN).map(formatProblem),
    };
  }

  async close(): Promise<void> {}

  #load(onProgress?: ProgressFn): Promise<RosterIndex> {
    this.#index ??= this.#withSource(async (source) => {
      const started = Date.now();
      const report: Report = { errors: new Problems(), warnings: new Problems() };
      const index = await loadBundle(source, this.#needs, report, onProgress);
      this.#warnings = report.warnings;
      if (!index) {
        throw new CsvBundleError(this.name, source.location, report.errors, report.warnings.count);
      }
      if (report.warnings.count > 0) {
        const { count, shown } = this.tolerated();
        this.#logger?.warn(
          { provider: this.name, bundle: source.location, warnings: count, first: shown },
          `CSV bundle has ${count} departure${count === 1 ? "" : "s"} from the OneRoster 1.1 CSV spec in what the sync does not read; synced anyway`,
        );
      }
      this.#logger?.debug(
        { provider: this.name, rows: index.rows, users: index.users.length, ms: Date.now() - started },
        "read CSV bundle",
      );
      return index;
    });
    return this.#index;
  }

  async #withSource<T>(use: (source: BundleSource) => Promise<T>): Promise<T> {
    let source: BundleSource;
    try {
      source = await openBundle(this.#path);
    } catch (error) {
      throw this.#io(error);
    }
    try {
      return await use(source);
    } catch (error) {
      throw error instanceof ProviderError ? error : this.#io(error);
    } finally {
      await source.close();
    }
  }

  /** A failure to read (not a problem of the content): retried, since a bundle may be mid-upload. */
  #io(error: unknown): ProviderError {
    const reason = error instanceof Error ? error.message : String(error);
    return new ProviderError(
      "PROVIDER_RESPONSE",
      `provider ${this.name}: cannot read CSV bundle ${this.#path}: ${reason}`,
      this.name,
      this.#path,
      undefined,
      { cause: error, retriable: true },
    );
  }

  #missing(what: string): ProviderError {
    return new ProviderError(
      "PROVIDER_RESPONSE",
      `provider ${this.name}: CSV bundle ${this.#path} has no ${what}`,
      this.name,
      this.#path,
      undefined,
    );
  }
}
