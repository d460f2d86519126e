// The pure diff of a mapping's roster against its snapshot (SPEC §5 step 2). No I/O.
import { TRACKED_ATTRIBUTES, type Member } from "./member.js";

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
