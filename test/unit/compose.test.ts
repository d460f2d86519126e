// There is no Docker engine on the build machines: the compose file is checked by parsing it and
// checking what the worker needs (SPEC §8) — that `docker compose up` works out of the box: the
// mounted config is the production example and parses with the environment compose gives the
// worker, every secret it names is passed, the file sink writes to a volume the image's user owns,
// and /healthz and /metrics are published on loopback only. The same services run in tests from
// Debian's packages.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { isScalar, parse, parseDocument, visit } from "yaml";
import { loadConfigFile } from "../../src/config/load.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  volumes?: string[];
  ports?: string[];
  deploy?: { replicas?: number };
}

interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

/** What an admin sets in `.env` before `docker compose up` (the compose file's required variables). */
const HOST_ENV: Record<string, string> = {
  POSTGRES_PASSWORD: "0123456789abcdef",
  DISTRICT_BASE_URL: "https://district-app.oneroster.com/ims/oneroster/v1p1/",
  DISTRICT_CLIENT_ID: "compose-client-id",
  DISTRICT_CLIENT_SECRET: "compose-client-secret",
};

/**
 * Compose's interpolation of `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}` and
 * `$$`, as `docker compose config` does it: a required variable that is unset is an error.
 */
function interpolate(text: string, env: Record<string, string | undefined>): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g,
    (match, name: string | undefined, op: string | undefined, arg: string | undefined) => {
      if (match === "$$") {
        return "$";
      }
      const value = env[name!];
      const unset = op?.startsWith(":") ? value === undefined || value === "" : value === undefined;
      if (!unset) {
        return value!;
      }
      if (op?.endsWith("?")) {
        throw new Error(`required variable ${name} is missing: ${arg}`);
      }
      return op ? (arg ?? "") : "";
    },
  );
}

/** The compose file as `docker compose config` would see it with `env` in the shell. */
function loadCompose(env: Record<string, string | undefined>): Compose {
  const text = readFileSync(path.join(root, "docker-compose.yml"), "utf8");
  // Interpolated value by value, after parsing, as compose does (so a value cannot change the YAML).
  const doc = parseDocument(text, { merge: true });
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === "string") {
        node.value = interpolate(node.value, env);
      }
    },
  });
  return doc.toJS({ maxAliasCount: 100 }) as Compose;
}

/** `SOURCE:TARGET[:MODE]` of a short-syntax volume. */
function mount(spec: string): { source: string; target: string; mode: string | undefined } {
  const [source, target, mode] = spec.split(":");
  return { source: source!, target: target!, mode };
}

/** The names of `${VAR}` references in the config's values (comments are not values). */
function configReferences(file: string): { name: string; hasDefault: boolean }[] {
  const refs: { name: string; hasDefault: boolean }[] = [];
  visit(parseDocument(readFileSync(file, "utf8")), {
    Scalar(_key, node) {
      if (typeof node.value === "string") {
        for (const m of node.value.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}/g)) {
          refs.push({ name: m[1]!, hasDefault: m[2] !== undefined });
        }
      }
    },
  });
  return refs;
}

const compose = loadCompose(HOST_ENV);
const worker = compose.services.worker!;
const workerEnv = worker.environment!;
const configMount = worker.volumes!.map(mount).find((v) => v.target === workerEnv.SYNC_CONFIG);
const mountedConfig = path.resolve(root, configMount?.source ?? "(no config mount)");

describe("docker-compose.yml", () => {
  it("starts PostgreSQL, Redis and the worker (more workers on demand), each with a healthcheck", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["postgres", "redis", "worker", "worker-extra"]);
    expect(compose.services.postgres!.image).toMatch(/^postgres:1[3-9]/);
    expect(compose.services.redis!.image).toMatch(/^redis:/);
    expect(compose.services.redis!.command).toContain("noeviction");
    for (const [name, service] of Object.entries(compose.services)) {
      expect(service.healthcheck?.test.length, name).toBeGreaterThan(0);
    }
    expect(worker.healthcheck!.test.join(" ")).toContain("http://127.0.0.1:9464/healthz");
    // The extra workers are the same worker, none by default (`--scale worker-extra=N`).
    const { deploy, ...extra } = compose.services["worker-extra"]!;
    const { ports: _ports, ...same } = worker;
    expect(extra).toEqual(same);
    expect(deploy).toEqual({ replicas: 0 });
  });

  it("runs the worker after healthy dependencies, with secrets from the environment only", () => {
    expect(worker.build).toBe(".");
    expect(worker.command?.[0]).toBe("worker");
    expect(worker.depends_on).toEqual({
      postgres: { condition: "service_healthy" },
      redis: { condition: "service_healthy" },
    });
    expect(workerEnv.DATABASE_URL).toBe(
      `postgresql://roster_sync:${HOST_ENV.POSTGRES_PASSWORD}@postgres:5432/roster_sync`,
    );
    expect(workerEnv.REDIS_URL).toBe("redis://redis:6379");
    expect(workerEnv.METRICS_PORT).toBe("9464");
    // Every secret is a reference to the shell's environment, never a value in the file.
    const raw = parse(readFileSync(path.join(root, "docker-compose.yml"), "utf8"), {
      merge: true,
    }) as Compose;
    for (const [key, value] of Object.entries(raw.services.worker!.environment!)) {
      if (/SECRET|PASSWORD|CLIENT_ID/.test(key)) {
        expect(value, key).toMatch(/^\$\{[A-Z_]+(:-|:\?)[^}]*\}$/);
      }
    }
  });

  it("publishes /healthz and /metrics on loopback only, and nothing else", () => {
    expect(worker.ports).toEqual(["127.0.0.1:9464:9464"]);
    for (const [name, service] of Object.entries(compose.services)) {
      if (name !== "worker") {
        expect(service.ports, name).toBeUndefined();
      }
    }
  });

  it("refuses to start without the secrets the mounted config needs", () => {
    for (const name of Object.keys(HOST_ENV)) {
      expect(() => loadCompose({ ...HOST_ENV, [name]: undefined }), name).toThrow(
        `required variable ${name} is missing`,
      );
    }
  });

  it("mounts the production example read-only by default, or the file ROSTER_SYNC_CONFIG names", () => {
    expect(configMount).toEqual({
      source: "./examples/production.config.yaml",
      target: "/config/sync.config.yaml",
      mode: "ro",
    });
    expect(existsSync(mountedConfig)).toBe(true);
    const other = loadCompose({ ...HOST_ENV, ROSTER_SYNC_CONFIG: "/srv/roster/sync.config.yaml" });
    expect(other.services.worker!.volumes).toContain(
      "/srv/roster/sync.config.yaml:/config/sync.config.yaml:ro",
    );
    // The image says the same, so `docker compose exec worker roster-sync history` finds the config.
    expect(readFileSync(path.join(root, "Dockerfile"), "utf8")).toContain(
      `ENV SYNC_CONFIG=${workerEnv.SYNC_CONFIG}`,
    );
  });

  it("passes every environment variable the mounted config names", () => {
    const refs = configReferences(mountedConfig);
    expect(refs.map((r) => r.name)).toEqual(
      expect.arrayContaining(["DATABASE_URL", "REDIS_URL", "DISTRICT_CLIENT_SECRET"]),
    );
    for (const { name, hasDefault } of refs) {
      if (!hasDefault) {
        expect(workerEnv[name], `${name} is passed to the worker`).toBeTruthy();
      }
    }
  });

  it("the mounted config parses with the environment compose gives the worker, no secret in the file", () => {
    const config = loadConfigFile(mountedConfig, workerEnv);
    expect(config.database.url).toBe(workerEnv.DATABASE_URL);
    expect(config.redis.url).toBe("redis://redis:6379");
    const district = config.providers.district!;
    expect(district.baseUrl).toBe(HOST_ENV.DISTRICT_BASE_URL);
    expect(district.auth).toEqual({
      method: "oauth1",
      clientId: HOST_ENV.DISTRICT_CLIENT_ID,
      clientSecret: HOST_ENV.DISTRICT_CLIENT_SECRET,
    });
    expect(config.mappings.length).toBeGreaterThan(0);
    expect(config.worker.shutdownGraceMs).toBeLessThan(45_000); // the compose stop_grace_period
    // Not the sandbox example: nothing points at a loopback provider.
    for (const provider of Object.values(config.providers)) {
      expect(provider.baseUrl ?? "").not.toMatch(/127\.0\.0\.1|localhost/);
    }
    // Every credential in the file is a `${VAR}` reference.
    visit(parseDocument(readFileSync(mountedConfig, "utf8")), {
      Pair(_key, pair) {
        if (isScalar(pair.key) && /secret|token|password|clientId/i.test(String(pair.key.value))) {
          expect(isScalar(pair.value) && String(pair.value.value), String(pair.key.value)).toMatch(/^\$\{/);
        }
      },
    });
  });

  it("the file sink writes to a named volume whose folder the image's user owns", () => {
    const config = loadConfigFile(mountedConfig, workerEnv);
    const files = config.sinks.filter((s) => s.type === "file");
    expect(files).toHaveLength(1);
    const sinkPath = (files[0] as { path: string }).path;
    const volume = worker.volumes!.map(mount).find((v) => sinkPath.startsWith(`${v.target}/`));
    expect(volume, `a volume holds ${sinkPath}`).toBeDefined();
    expect(Object.keys(compose.volumes ?? {})).toContain(volume!.source);
    expect(volume!.mode).toBeUndefined();

    // A new named volume takes the owner of the image's folder it is mounted on.
    const dockerfile = readFileSync(path.join(root, "Dockerfile"), "utf8");
    const user = /^USER (\S+)$/m.exec(dockerfile)?.[1];
    expect(user).toBe("node");
    expect(dockerfile).toContain(`mkdir -p ${volume!.target}`);
    expect(dockerfile).toContain(`chown ${user}:${user} ${volume!.target}`);
    expect(dockerfile.indexOf(`chown ${user}:${user}`)).toBeLessThan(dockerfile.indexOf(`USER ${user}`));
  });
});

describe("Dockerfile", () => {
  const dockerfile = readFileSync(path.join(root, "Dockerfile"), "utf8");
  const runtime = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));

  it("runs the built CLI on Node 20", () => {
    expect(dockerfile).toContain('ENTRYPOINT ["node", "bin/roster-sync.js"]');
    expect(dockerfile).toMatch(/FROM node:20/);
    expect(runtime).toContain('CMD ["worker"]');
  });

  it("ships what runs (compiled code with the Prisma client, production dependencies, migrations) and no sources", () => {
    const copied = [...runtime.matchAll(/^COPY --from=build \/app\/(\S+) /gm)].map((m) => m[1]).sort();
    expect(copied).toEqual(["bin", "dist", "node_modules", "package.json", "prisma"]);
    expect(dockerfile).toContain("npm prune --omit=dev");
    // The generated client is compiled into dist/ (tsconfig.build.json includes src/generated).
    const build = JSON.parse(readFileSync(path.join(root, "tsconfig.build.json"), "utf8")) as {
      include: string[];
    };
    expect(build.include).toContain("src");
  });

  it("keeps secrets and local state out of the build context", () => {
    const ignored = readFileSync(path.join(root, ".dockerignore"), "utf8").split("\n");
    for (const entry of [".env", "node_modules", "dist", "data", "src/generated", ".git"]) {
      expect(ignored).toContain(entry);
    }
  });
});
