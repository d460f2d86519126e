// Blocks that inherit field by field. A field left out of a provider's `rateLimit` / `retry`
// (provider.ts) or a mapping's `safety` (mapping.ts) takes the value of the level above
// (`defaults.rateLimit` / `defaults.retry` / `defaults.safety`), then the built-in default below.
// These schemas therefore have no inner defaults (zod's `.partial()` would keep them and skip the
// level in between, issue 9 item 1): the loader merges the levels (`inherit`). Each default is
// stated once, in the *_DEFAULTS object under its schema.

/** Fills every optional field: the shape of a block once its levels are merged. */
export type Filled<T> = { [K in keyof T]-?: Exclude<T[K], undefined> };

/** Merges the levels of a block field by field, nearest last: a field a level leaves out is the
 * level above's. */
export function inherit<T extends object>(builtIn: T, ...levels: (Partial<T> | undefined)[]): T {
  const merged = { ...builtIn } as Record<string, unknown>;
  for (const level of levels) {
    for (const [key, value] of Object.entries(level ?? {})) {
      if (value !== undefined) {
        merged[key] = value;
      }
    }
  }
  return merged as T;
}
