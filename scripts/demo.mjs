// `npm run demo`: the whole one-shot flow against the built-in sandbox, in under a minute.
// Starts the sandbox on a free loopback port, syncs the example sync.config.yaml into ./data/demo
// (embedded database), shows the runs, the history and some events, changes the roster, and syncs
// again to show the add / remove / update events that follow.
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startSandbox } from "../dist/src/sandbox/index.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = path.join(root, "bin/roster-sync.js");
const dataDir = path.join(root, "data/demo");
const eventsFile = path.join(root, "data/demo-events.ndjson");

function heading(text) {
  process.stdout.write(`\n\x1b[1m== ${text}\x1b[0m\n`);
}

// The sandbox serves from this process, so the CLI runs as a child without blocking the event loop.
async function cli(args, env, { allow = [0], capture = false } = {}) {
  process.stdout.write(`$ roster-sync ${args.join(" ")}\n`);
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: root,
    env: { ...process.env, ...env, LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" },
    stdio: ["ignore", capture ? "pipe" : "inherit", "inherit"],
  });
  let stdout = "";
  child.stdout?.on("data", (d) => (stdout += d));
  const code = await new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  if (!allow.includes(code)) {
    throw new Error(`roster-sync ${args.join(" ")} exited with ${code}`);
  }
  return capture ? JSON.parse(stdout) : code;
}

const started = Date.now();
// The demo's own database and event file: a fresh start every time, nothing else touched.
rmSync(dataDir, { recursive: true, force: true });
rmSync(eventsFile, { force: true });

const sandbox = await startSandbox({ port: 0, seed: 1 });
const env = {
  SANDBOX_URL: sandbox.url,
  DATABASE_URL: `file:${path.relative(root, dataDir)}`,
  EVENTS_FILE: path.relative(root, eventsFile),
};
try {
  heading(`Sandbox OneRoster 1.1 server at ${sandbox.url}`);
  const info = sandbox.district;
  process.stdout.write(
    `a generated district: ${info.schools().length} schools, ${info.usersWithRole("student").length} students, ` +
      `${info.usersWithRole("teacher").length} teachers, ${info.classes.length} classes\n`,
  );

  heading("Validate the config and the provider's credentials");
  await cli(["validate"], env);

  heading("First sync: everyone is added");
  await cli(["sync"], env);

  heading("History");
  await cli(["history"], env);

  heading("A few of the events (also appended to data/demo-events.ndjson)");
  await cli(["events", "--mapping", "ela6-creative-cloud", "--limit", "5"], env);

  heading("The roster changes: 3 students join ELA 6, 2 leave, 2 change");
  const change = sandbox.mutate({
    kind: "churn",
    seed: 7,
    classTitle: "ELA 6 (6A ELA)",
    adds: 3,
    removes: 2,
    updates: 2,
  });
  for (const a of change.added) {
    process.stdout.write(`  + ${a.sourcedId} joins ${a.classes.join(", ")}\n`);
  }
  for (const r of change.removed) {
    process.stdout.write(`  - ${r.sourcedId} leaves (${r.how})\n`);
  }
  for (const u of change.updated) {
    process.stdout.write(`  ~ ${u.sourcedId} changes ${Object.keys(u.changes).join(", ")}\n`);
  }

  heading("Second sync: exactly those changes");
  const second = await cli(["sync", "ela6-creative-cloud", "--json"], env, { capture: true });
  const run = second.runs[0];
  process.stdout.write(`${run.mapping}: ${run.status}, +${run.added} -${run.removed} ~${run.updated}\n`);
  await cli(["events", "--run", run.runId], env);

  heading("An unchanged roster emits nothing");
  await cli(["sync", "ela6-creative-cloud"], env);

  heading("A wiped class is held by the safety guard (exit code 3), nothing changes");
  sandbox.mutate({ kind: "wipe-class", classTitle: "ELA 6 (6A ELA)", role: "student" });
  await cli(["sync", "ela6-creative-cloud"], env, { allow: [3] });
  await cli(["history", "--mapping", "ela6-creative-cloud", "--limit", "3"], env);

  heading(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.stdout.write(
    "Try it yourself: `npx roster-sync sandbox` in one terminal, `npx roster-sync sync` in another.\n",
  );
} finally {
  await sandbox.close();
}
