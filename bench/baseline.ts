// The baseline of `npm run bench`: the seed library's way of fetching (Python `oneroster` 0.0.15,
// `get_users(user_filter, group_filter, group_name, match_on)`), run as a child process against
// the same sandbox. One request at a time; pages of 100 by limit/offset until a short page; groups
// found by listing every group of the type and matching here (no server-side filter); nothing
// shared between mappings (each lists the groups again). It waits out a 429's Retry-After, which
// the seed did not, so that it finishes.
//
//   node --import tsx bench/baseline.ts '<json: { baseUrl, clientId, clientSecret, pageSize, mappings }>'
// prints one JSON line: { wallMs, requests, status429, members, maxRssKb }.
import { signRequest } from "../src/providers/oneroster/auth/oauth1.js";
import type { BenchMapping } from "./scenarios.js";

interface Input {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  pageSize: number;
  mappings: BenchMapping[];
}

const input = JSON.parse(process.argv[2] ?? "{}") as Input;
let requests = 0;
let status429 = 0;
const MAX_ATTEMPTS = 20;

type Row = Record<string, unknown> & { sourcedId: string };

async function get(path: string, offset: number): Promise<Record<string, unknown>> {
  const url = new URL(path, input.baseUrl);
  url.searchParams.set("limit", String(input.pageSize));
  url.searchParams.set("offset", String(offset));
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
    requests += 1;
    const authorization = signRequest("GET", url, {
      clientId: input.clientId,
      clientSecret: input.clientSecret,
    });
    const response = await fetch(url, { headers: { authorization, accept: "application/json" } });
    if (response.status === 429) {
      status429 += 1;
      await response.arrayBuffer();
      const wait = Number(response.headers.get("retry-after") ?? "1");
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
      continue;
    }
    if (!response.ok) {
      throw new Error(`HTTP ${response.status} at ${url.pathname}`);
    }
    return (await response.json()) as Record<string, unknown>;
  }
  throw new Error(`gave up on ${url.pathname} after ${MAX_ATTEMPTS} attempts`);
}

/** Every record of a collection: pages until a short one. */
async function list(path: string, key: string): Promise<Row[]> {
  const rows: Row[] = [];
  for (let offset = 0; ;) {
    const page = (await get(path, offset))[key] as Row[];
    rows.push(...page);
    offset += page.length;
    if (page.length < input.pageSize) {
      return rows;
    }
  }
}

const norm = (value: unknown): string | undefined =>
  typeof value === "string" ? value.trim().toLowerCase() : undefined;

async function mappingMembers(mapping: BenchMapping): Promise<Set<string>> {
  const members = new Set<string>();
  const keep = (users: Row[]) => {
    for (const u of users) {
      if (u.status !== "tobedeleted" && String(u.enabledUser) !== "false") {
        members.add(u.sourcedId);
      }
    }
  };
  if (!mapping.group) {
    keep(await list("students", "users"));
    return members;
  }
  const { type, match, matchOn } = mapping.group;
  const groups = await list(type, type === "schools" ? "orgs" : "classes");
  const wanted = norm(match);
  for (const group of groups.filter((g) => matchOn.some((f) => norm(g[f]) === wanted))) {
    keep(await list(`${type}/${encodeURIComponent(group.sourcedId)}/students`, "users"));
  }
  return members;
}

const started = performance.now();
let members = 0;
for (const mapping of input.mappings) {
  members += (await mappingMembers(mapping)).size;
}
const wallMs = performance.now() - started;
process.stdout.write(
  `${JSON.stringify({ wallMs, requests, status429, members, maxRssKb: process.resourceUsage().maxRSS })}\n`,
);
