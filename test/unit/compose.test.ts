// There is no Docker engine on the build machines: the compose file is checked by parsing it and
// checking what the worker needs (SPEC §8), and the same services run in tests from Debian's packages.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  volumes?: string[];
}

describe("docker-compose.yml", () => {
  const compose = parse(readFileSync(path.join(root, "docker-compose.yml"), "utf8")) as {
    services: Record<string, Service>;
  };

  it("starts PostgreSQL, Redis and the worker", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["postgres", "redis", "worker"]);
    expect(compose.services.postgres!.image).toMatch(/^postgres:1[3-9]/);
    expect(compose.services.redis!.image).toMatch(/^redis:/);
    expect(compose.services.redis!.command).toContain("noeviction");
  });

  it("runs the worker after healthy dependencies, with secrets from the environment only", () => {
    const worker = compose.services.worker!;
    expect(worker.build).toBe(".");
    expect(worker.command?.[0]).toBe("worker");
    expect(worker.depends_on).toEqual({
      postgres: { condition: "service_healthy" },
      redis: { condition: "service_healthy" },
    });
    const env = worker.environment!;
    expect(env.DATABASE_URL).toMatch(/^postgresql:\/\/roster_sync:\$\{POSTGRES_PASSWORD/);
    expect(env.REDIS_URL).toBe("redis://redis:6379");
    expect(env.METRICS_PORT).toBe("9464");
    for (const [key, value] of Object.entries(env)) {
      if (/SECRET|PASSWORD/.test(key)) {
        expect(value, key).toMatch(/^\$\{[A-Z_]+(:-|:\?)/);
      }
    }
    expect(worker.healthcheck?.test.join(" ")).toContain("/healthz");
    expect(worker.volumes).toContain("./sync.config.yaml:/config/sync.config.yaml:ro");
  });

  it("matches the Dockerfile's entry point", () => {
    const dockerfile = readFileSync(path.join(root, "Dockerfile"), "utf8");
    expect(dockerfile).toContain('ENTRYPOINT ["node", "bin/roster-sync.js"]');
    expect(dockerfile).toMatch(/FROM node:20/);
  });
});
