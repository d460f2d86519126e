# roster-sync worker image. Build: docker build -t roster-sync .
# Run with docker-compose.yml (PostgreSQL + Redis + N workers).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY prisma ./prisma
COPY prisma.config.ts tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY jobs ./jobs
COPY bin ./bin
# npm ci runs `prisma generate` (postinstall) and the TypeScript build (prepare).
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
# Where docker-compose.yml mounts the config; `roster-sync <command>` in the container finds it.
ENV SYNC_CONFIG=/config/sync.config.yaml
WORKDIR /app
# What runs: the compiled code (with the generated Prisma client, dist/src/generated), the
# production dependencies, the entry point, and the migrations applied at start (prisma/migrations).
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/prisma ./prisma
# `roster-sync` on the PATH (docker compose exec worker roster-sync history), and the file sink's
# folder owned by the user the worker runs as: a new named volume mounted there keeps that owner.
RUN ln -s /app/bin/roster-sync.js /usr/local/bin/roster-sync \
  && mkdir -p /var/lib/roster-sync \
  && chown node:node /var/lib/roster-sync
USER node
EXPOSE 9464
# Migrations are applied at start; SIGTERM lets the current run finish (worker.shutdownGraceMs).
ENTRYPOINT ["node", "bin/roster-sync.js"]
CMD ["worker"]
