#!/usr/bin/env bash
# `npm test`: makes sure the private test servers can be started (PostgreSQL's initdb/postgres and
# redis-server; test/setup/services.ts runs its own instances), builds, then runs vitest.
set -euo pipefail
cd "$(dirname "$0")/.."

has_postgres() { command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; }
if ! command -v redis-server >/dev/null 2>&1 || ! has_postgres; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update && apt-get install -y postgresql redis-server
  else
    echo "roster-sync tests need PostgreSQL and Redis: run \`sudo apt-get install -y postgresql redis-server\`" >&2
    exit 1
  fi
fi

if npm pkg get scripts.build | grep -q '"'; then
  npm run build
fi
npx vitest run "$@"
