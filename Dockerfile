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
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/prisma ./prisma
USER node
EXPOSE 9464
# Migrations are applied at start; SIGTERM lets the current run finish (worker.shutdownGraceMs).
ENTRYPOINT ["node", "bin/roster-sync.js"]
CMD ["worker", "--config", "/config/sync.config.yaml"]
