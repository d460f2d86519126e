// Resolving a mapping's members straight through a connector, as one sync cycle does, for tests
// that compare connectors (OneRoster 1.1 / 1.2, Clever, CSV) on one generated district.
import { expect } from "vitest";
import type { MappingConfig, ProviderConfig } from "../../src/config/schema.js";
import { ProviderError } from "../../src/errors.js";
import type { GroupType, ProgressFn, Provider } from "../../src/providers/types.js";
import type { Member } from "../../src/domain.js";
import { FetchCache, resolveMembers } from "../../src/sync/resolve.js";

/** Who a mapping selects: the part of a mapping that decides its members. */
export interface Selection {
  users: MappingConfig["users"];
  groups?: { type: GroupType; match: string; matchOn?: string[] }[];
  include?: Record<string, string[]>;
}

export function mappingFor(provider: ProviderConfig, selection: Selection): MappingConfig {
  return {
    name: "m",
    provider,
    users: selection.users,
    groups: selection.groups?.map((g) => ({ ...g, matchOn: g.matchOn ?? provider.matchGroupsBy })),
    include: selection.include,
    product: "p",
    schedule: "0 2 * * *",
    safety: { maxRemovals: 50, maxRemovalPercent: 20 },
  };
}

/** One fetch cycle's members sorted by key (a fresh FetchCache: nothing shared with an earlier call). */
export async function resolvedMembers(
  provider: Provider,
  config: ProviderConfig,
  selection: Selection,
  onProgress?: ProgressFn,
): Promise<Member[]> {
  const resolved = await resolveMembers(mappingFor(config, selection), new FetchCache(provider, onProgress));
  return [...resolved.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
}

/** The ProviderError a promise rejects with; fails the test when it resolves or rejects otherwise. */
export async function providerError(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}
