// The pure diff of a mapping's roster against its snapshot (SPEC §5 step 2). No I/O.
import { TRACKED_ATTRIBUTES, type Member } from "../domain.js";

export interface Diff {
  added: Member[];
  removed: Member[];
  /** The new state of each member whose tracked attributes changed, with the names that changed. */
  updated: { member: Member; changed: string[] }[];
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) {
    return false;
  }
  // The common case, the same values in the same order, without sorting copies (a 1M-member diff
  // spends most of its time here).
  let i = 0;
  while (i < a.length && a[i] === b[i]) {
    i += 1;
  }
  if (i === a.length) {
    return true;
  }
  // Order carries no meaning for grades and orgs.
  const sa = [...a].sort();
  const sb = [...b].sort();
  return sa.every((v, i) => v === sb[i]);
}

/** Names of the tracked attributes that differ between two states of one member. */
export function changedAttributes(before: Member, after: Member): string[] {
  const changed: string[] = [];
  for (const attr of TRACKED_ATTRIBUTES) {
    const a = before[attr];
    const b = after[attr];
    const same = Array.isArray(a) && Array.isArray(b) ? sameList(a, b) : a === b;
    if (!same) {
      changed.push(attr);
    }
  }
  return changed;
}

/** Whether no tracked attribute differs: changedAttributes(...).length === 0, without building the
 * list (most members of a large roster are unchanged; this is the hot loop of a 1M-member diff). */
function unchanged(before: Member, after: Member): boolean {
  return (
    before.email === after.email &&
    before.username === after.username &&
    before.givenName === after.givenName &&
    before.familyName === after.familyName &&
    before.role === after.role &&
    sameList(before.grades, after.grades) &&
    sameList(before.orgs, after.orgs)
  );
}

/**
 * Compares the fetched roster with the previous snapshot. Output is sorted by key so that event
 * order, and with it event ids, are the same for the same input.
 */
export function diffMembers(
  previous: ReadonlyMap<string, Member>,
  current: ReadonlyMap<string, Member>,
): Diff {
  const added: Member[] = [];
  const updated: Diff["updated"] = [];
  const removed: Member[] = [];
  for (const [key, member] of current) {
    const before = previous.get(key);
    if (!before) {
      added.push(member);
      continue;
    }
    if (unchanged(before, member)) {
      continue;
    }
    const changed = changedAttributes(before, member);
    if (changed.length > 0) {
      updated.push({ member, changed });
    }
  }
  for (const [key, member] of previous) {
    if (!current.has(key)) {
      removed.push(member);
    }
  }
  const byKey = (a: Member, b: Member) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  added.sort(byKey);
  removed.sort(byKey);
  updated.sort((a, b) => byKey(a.member, b.member));
  return { added, removed, updated };
}
