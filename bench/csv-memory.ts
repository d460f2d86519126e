// `npx tsx bench/csv-memory.ts [--schools 20] [--students 3000] [--extra 40] [--zip] [--keep DIR]`
// (issue 9, item 6): the CSV connector's peak RSS on a generated bundle with many `metadata.*`
// columns. Each row loads the bundle in a child process (so RSS is that load's alone) and resolves
// three mappings (every student, a class, a school):
// - "every column": the connector told nothing about the mappings, so it keeps every column, as
//   every load did before this change (the baseline, measured in the same run);
// - "used fields": the connector given the mappings, as `sync`, `worker` and `validate` do.
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { providerSchema, type MappingConfig, type ProviderConfig } from "../src/config/schema.js";
import { createProviderRuntime } from "../src/providers/runtime.js";
import { generateDistrict, writeCsvBundle } from "../src/sandbox/index.js";
import { FetchCache, resolveMembers } from "../src/sync/resolve.js";

const MB = 1024 * 1024;

function mappings(provider: ProviderConfig): MappingConfig[] {
  const base = {
    provider,
    include: undefined,
    product: "p",
    schedule: "0 2 * * *",
    safety: { maxRemovals: 50, maxRemovalPercent: 20 },
  };
  const matchOn = provider.matchGroupsBy;
  return [
    { ...base, name: "students", users: "students", groups: undefined },
    {
      ...base,
      name: "class",
      users: "students",
      groups: [{ type: "classes", match: "Math 7 (7A Math)", matchOn }],
    },
    { ...base, name: "school", users: "users", groups: [{ type: "schools", match: "sch-01", matchOn }] },
  ];
}

async function child(bundle: string, told: boolean): Promise<void> {
  const provider = { ...providerSchema.parse({ type: "csv", path: bundle }), name: "bench" };
  const all = mappings(provider);
  const runtime = createProviderRuntime();
  const csv = runtime.connector(provider, told ? { mappings: all } : {});
  const started = Date.now();
  const cache = new FetchCache(csv);
  let members = 0;
  for (const mapping of all) {
    members += (await resolveMembers(mapping, cache)).size;
  }
  const seconds = (Date.now() - started) / 1000;
  await csv.close();
  await runtime.close();
  process.stdout.write(JSON.stringify({ members, seconds, peakRssKb: process.resourceUsage().maxRSS }));
}

function runChild(
  bundle: string,
  told: boolean,
): Promise<{ members: number; seconds: number; peakRssKb: number }> {
  return new Promise((resolve, reject) => {
    const args = ["--import", "tsx", process.argv[1]!, "--child", bundle, told ? "told" : "untold"];
    const proc = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    proc.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    proc.on("error", reject);
    proc.on("close", (code) =>
      code === 0 ? resolve(JSON.parse(out) as never) : reject(new Error(`child exited ${code}`)),
    );
  });
}

async function bundleBytes(bundle: string): Promise<number> {
  const info = await stat(bundle);
  if (!info.isDirectory()) {
    return info.size;
  }
  let total = 0;
  for (const name of await readdir(bundle)) {
    total += (await stat(path.join(bundle, name))).size;
  }
  return total;
}

async function main(): Promise<void> {
  if (process.argv[2] === "--child") {
    await child(process.argv[3]!, process.argv[4] === "told");
    return;
  }
  const { values } = parseArgs({
    options: {
      schools: { type: "string", default: "20" },
      students: { type: "string", default: "3000" },
      extra: { type: "string", default: "40" },
      zip: { type: "boolean", default: false },
      keep: { type: "string" },
    },
  });
  const dir = values.keep ?? (await mkdtemp(path.join(tmpdir(), "bench-csv-")));
  try {
    const district = generateDistrict({
      seed: 9,
      schools: Number(values.schools),
      studentsPerSchool: Number(values.students),
    });
    const bundle = await writeCsvBundle(district, dir, {
      zip: values.zip,
      extraColumns: Number(values.extra),
    });
    const bytes = await bundleBytes(bundle);
    const rows = [];
    for (const [label, told] of [
      ["every column (baseline)", false],
      ["used fields", true],
    ] as const) {
      const r = await runChild(bundle, told);
      rows.push({
        load: label,
        bundleMb: Math.round(bytes / MB),
        members: r.members,
        seconds: r.seconds.toFixed(1),
        peakRssMb: Math.round(r.peakRssKb / 1024),
      });
    }
    console.log(
      `CSV bundle ${values.zip ? "zip" : "folder"}: ${values.schools} schools × ${values.students} students, ${values.extra} metadata columns per file`,
    );
    console.table(rows);
  } finally {
    if (!values.keep) {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

await main();
