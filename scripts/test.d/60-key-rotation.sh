#!/usr/bin/env bash
# Key rotation on PostgreSQL: the real `tollgate keys rotate-kek` and
# `rotate-dek` beside an open store, each test in a private database (a KEK
# rotation touches every organization, so it cannot share the suite's).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${TEST_PG_HOST:?run through scripts/test}"
admin() { psql -v ON_ERROR_STOP=1 -qAt -h "$TEST_PG_HOST" -p "$TEST_PG_PORT" -U "$TEST_PG_ADMIN" -d postgres "$@"; }
drop_private() {
  admin -c "SELECT 'DROP DATABASE ' || datname || ' WITH (FORCE);' FROM pg_database WHERE datname LIKE 'tollgate\_keys\_%'" \
    | admin >/dev/null
}
trap drop_private EXIT
export TEST_PG_HOST TEST_PG_PORT TEST_PG_ADMIN
cargo nextest run -p tollgate --test keys --no-capture
