#!/usr/bin/env bash
# Scale-out: two `tollgate serve` processes on different loopback ports share
# one PostgreSQL and one Redis (provided by scripts/test). Checked by
# e2e/multinode/check.py: one rate limit across both nodes, an idempotent
# POST sent to node 1 then node 2 runs once, a key revoked on node 1 is
# refused on node 2, and a kill -9 of node 2 loses no accepted request.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${TEST_PG_HOST:?run through scripts/test}"
: "${TEST_REDIS_URL:?run through scripts/test}"

cargo build -q -p tollgate
bin="${CARGO_TARGET_DIR:-$(pwd)/target}/debug/tollgate"
host=$TEST_PG_HOST port=$TEST_PG_PORT db=tollgate_multinode
psql -v ON_ERROR_STOP=1 -qAt -h "$host" -p "$port" -U "$TEST_PG_ADMIN" -d postgres \
  -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db OWNER tollgate_owner" >/dev/null
psql -v ON_ERROR_STOP=1 -qAt -h "$host" -p "$port" -U "$TEST_PG_ADMIN" -d "$db" \
  -c "ALTER SCHEMA public OWNER TO tollgate_owner" >/dev/null

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

key() { head -c 32 /dev/urandom | base64; }
export TOLLGATE_DATABASE_URL="postgres://tollgate_app@$host:$port/$db"
export TOLLGATE_DATABASE_MIGRATION_URL="postgres://tollgate_owner@$host:$port/$db"
export TOLLGATE_REDIS_URL="$TEST_REDIS_URL"
export TOLLGATE_REDIS_KEY_PREFIX="multinode$$"
export TOLLGATE_SECURITY_KEK=$(key) TOLLGATE_SECURITY_TOKEN_HASH_KEYS=$(key) TOLLGATE_SECURITY_AUDIT_SIGNING_KEY=$(key)
export TOLLGATE_RATE_LIMIT_KEY_PER_MINUTE=60 TOLLGATE_RATE_LIMIT_KEY_BURST=10
export TOLLGATE_LOG_LEVEL=warn

"$bin" migrate >/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
p1=$(free_port); p2=$(free_port)
for n in 1 2; do
  pv="p$n"; mkdir -p "$work/n$n"
  (cd "$work/n$n" && TOLLGATE_SERVER_LISTEN="127.0.0.1:${!pv}" TOLLGATE_DATA_DIR="$work/n$n/data" \
     exec "$bin" serve > out.txt 2> err.txt) &
  pids+=($!)
done
for p in $p1 $p2; do
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$p/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fsS "http://127.0.0.1:$p/readyz" | grep -q '"rate_limits":"redis ok"'
done

python3 e2e/multinode/check.py "$p1" "$p2" "${pids[1]}" "$work/n1/out.txt"
