import { defineConfig } from "prisma/config";

// Only `prisma generate` runs on these machines (migrations are applied by src/store/migrate.ts);
// the URL is for users who run `prisma migrate status` against PostgreSQL with the native engine.
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://localhost/roster_sync" },
});
