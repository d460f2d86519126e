// Groups → members (SPEC §3): finds the groups a mapping selects, fetches their members through the
// provider, and keeps the active users that pass `include`, unique by keyIdentifier. Any fetch
// failure propagates: a partial roster is never returned.
import type { MappingConfig } from "../config/schema.js";
import { NoGroupMatchedError, ProviderError } from "../errors.js";
import type {
  GroupQuery,
  GroupType,
  ProgressFn,
  Provider,
  RosterGroup,
  RosterUser,
  UserKind,
} from "../providers/types.js";
import { groupMatches, includeKeysAbsent, isActive, passesInclude, toMember, userKey } from "./match.js";
import type { Member } from "../domain.js";

/**
 * Memoises provider reads within one sync cycle, so that mappings sharing a group list or a class
 * fetch it once. Create one per provider per cycle; never keep it across cycles.
 */
export class FetchCache {
  private readonly entries = new Map<string, Promise<unknown>>();

  constructor(
    readonly provider: Provider,
    private readonly onProgress?: ProgressFn,
  ) {}

  private memo<T>(key: string, load: () => Promise<T>): Promise<T> {
    let entry = this.entries.get(key) as Promise<T> | undefined;
    if (!entry) {
      entry = load();
      this.entries.set(key, entry);
    }
    return entry;
  }

  groups(type: GroupType): Promise<RosterGroup[]> {
    return this.memo(`groups:${type}`, () => this.provider.listGroups(type, this.onProgress));
  }

  /**
   * Groups that may match `query`, found by the provider's filter; undefined when the provider
   * cannot ask, or when this cycle already listed every group of the type (which answers any match
   * without a request). Memoised like the rest, by the query as matching sees it.
   */
  async findGroups(query: GroupQuery): Promise<RosterGroup[] | undefined> {
    const provider = this.provider;
    if (!provider.findGroups || this.entries.has(`groups:${query.type}`)) {
      return undefined;
    }
    const key = `find:${query.type}:${query.matchOn.join(",")}:${query.match.trim().toLowerCase()}`;
    return this.memo(key, () => provider.findGroups!(query, this.onProgress));
  }

  courseClasses(courseId: string): Promise<RosterGroup[]> {
    return this.memo(`course:${courseId}`, () => this.provider.courseClasses(courseId, this.onProgress));
  }

  members(group: { type: "classes" | "schools"; sourcedId: string }, kind: UserKind): Promise<RosterUser[]> {
    return this.memo(`members:${group.type}:${group.sourcedId}:${kind}`, () =>
      this.provider.groupMembers(group, kind, this.onProgress),
    );
  }

  allUsers(kind: UserKind): Promise<RosterUser[]> {
    return this.memo(`all:${kind}`, () => this.provider.allUsers(kind, this.onProgress));
  }
}

/**
 * The groups of a type that `query` matches. The provider's filter answers first where it can; its
 * answer is re-checked with our matching (trimmed, ignoring case), and when nothing in it matches,
 * every group of the type is listed and matched here, as without a filter. So a filter can save the
 * listing but never lose a group the listing finds, except as src/providers/oneroster/groups.ts
 * documents (a variant in another case of a title that also exists exactly, on a server whose
 * filter is case-sensitive).
 */
export async function matchingGroups(query: GroupQuery, cache: FetchCache): Promise<RosterGroup[]> {
  const matches = (g: RosterGroup) => groupMatches(g, query.match, query.matchOn);
  const found = (await cache.findGroups(query))?.filter(matches) ?? [];
  if (found.length > 0) {
    return found;
  }
  return (await cache.groups(query.type)).filter(matches);
}

/** The groups (classes or schools) whose members form the mapping, de-duplicated. */
export async function selectGroups(
  mapping: MappingConfig,
  cache: FetchCache,
): Promise<{ type: "classes" | "schools"; sourcedId: string }[]> {
  const selected = new Map<string, { type: "classes" | "schools"; sourcedId: string }>();
  for (const spec of mapping.groups ?? []) {
    const matched = await matchingGroups(spec, cache);
    if (matched.length === 0) {
      throw new NoGroupMatchedError(
        `mapping ${mapping.name}: no group matched ${spec.type} "${spec.match}" on ${spec.matchOn.join(", ")}`,
      );
    }
    if (spec.type === "courses") {
      const classLists = await Promise.all(matched.map((course) => cache.courseClasses(course.sourcedId)));
      for (const cls of classLists.flat()) {
        selected.set(`classes:${cls.sourcedId}`, { type: "classes", sourcedId: cls.sourcedId });
      }
    } else {
      for (const g of matched) {
        selected.set(`${spec.type}:${g.sourcedId}`, { type: spec.type, sourcedId: g.sourcedId });
      }
    }
  }
  return [...selected.values()];
}

/** Every user the mapping's groups (or the whole directory) hold, before filtering; through the cache. */
export async function fetchUsers(mapping: MappingConfig, cache: FetchCache): Promise<RosterUser[]> {
  if (!mapping.groups) {
    return cache.allUsers(mapping.users);
  }
  const groups = await selectGroups(mapping, cache);
  const lists = await Promise.all(groups.map((g) => cache.members(g, mapping.users)));
  return lists.flat();
}

/** The complete membership of a mapping, keyed by keyIdentifier. */
export async function resolveMembers(
  mapping: MappingConfig,
  cache: FetchCache,
): Promise<Map<string, Member>> {
  const users = await fetchUsers(mapping, cache);
  const keyIdentifier = mapping.provider.keyIdentifier;
  const members = new Map<string, Member>();
  let active = 0;
  for (const user of users) {
    if (!isActive(user)) {
      continue;
    }
    active += 1;
    if (!passesInclude(user, mapping.include)) {
      continue;
    }
    const key = userKey(user, keyIdentifier);
    if (key === undefined) {
      throw new ProviderError(
        "PROVIDER_RESPONSE",
        `provider ${mapping.provider.name}: user ${user.sourcedId} has no ${keyIdentifier} (the keyIdentifier)`,
        mapping.provider.name,
        undefined,
        undefined,
      );
    }
    if (!members.has(key)) {
      members.set(key, toMember(user, key));
    }
  }
  const absent =
    members.size === 0 && active > 0 ? includeKeysAbsent(users.filter(isActive), mapping.include) : [];
  if (absent.length > 0) {
    throw new ProviderError(
      "PROVIDER_RESPONSE",
      `mapping ${mapping.name}: include ${absent.map((k) => `"${k}"`).join(", ")}: none of the ${active} ` +
        `active users fetched has a value for it (a misspelt key, or provider ${mapping.provider.name} ` +
        `does not send that field), so every user was filtered out; an empty roster is not applied`,
      mapping.provider.name,
      undefined,
      undefined,
    );
  }
  return members;
}
