#!/usr/bin/env bash
# DNC index (issue 8): generate a synthetic national registry (TOTAL numbers,
# one flat file per area code), import it with `tollgate_dnc::import` (what
# `tollgate dnc import` runs) under /usr/bin/time (wall time and peak
# memory), measure the index beside a sorted u64 array and Roaring bitmaps
# (bench/dnc/src/main.rs), time the server's start-up with the index
# recorded as the current national list (when a release `tollgate` is
# built), then, when PG_URL is set, a PostgreSQL table with
# a B-tree (bigint primary key) holding the numbers of the first
# PG_AREA_CODES area codes, loaded with COPY and queried with pgbench (one
# client, prepared statements). Results: docs/benchmarks.md, "DNC index".
# Generated data stays in WORK (default: a temporary directory, removed at
# the end) and is never committed.
#   cargo build --release -p tollgate-dnc-bench
#   TOTAL=258000000 PG_URL=postgres://USER@HOST:5432/DB PG_AREA_CODES=10 bench/dnc.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin="${CARGO_TARGET_DIR:-$root/target}/release/dnc-bench"
total=${TOTAL:-258000000}
if [ -n "${WORK:-}" ]; then work=$WORK; mkdir -p "$work"; else work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi
if [ ! -d "$work/registry" ]; then
  "$bin" generate "$work/registry" "$total"
fi
du -sh "$work/registry" | cut -f1 | sed 's/^/registry files: /'
rm -f "$work/national.idx"
/usr/bin/time -f 'import: %e s elapsed, %U s user, %S s sys, %M KB peak RSS' \
  "$bin" import "$work/registry" "$work/national.idx"
"$bin" measure "$work/national.idx"

# Server start-up with the index recorded as the current national list
# (`tollgate dnc activate`, what `dnc import --activate` runs): exec of
# `tollgate serve` to the first 200 from /readyz, and the CPU time the
# process used until then (all its threads), against the same server with
# no list recorded, alternately. Needs the release `tollgate` binary
# (cargo build --release -p tollgate); STARTUP=0 skips it.
tg="${CARGO_TARGET_DIR:-$root/target}/release/tollgate"
if [ "${STARTUP:-1}" != 0 ] && [ -x "$tg" ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cpu_ms() { # user+system ms of every thread of $1 so far
    awk '{ s += $1 } END { printf "%d", s / 1e6 }' /proc/"$1"/task/*/schedstat
  }
  start_once() { # $1: data directory; prints wall ms and CPU ms to readiness
    local t0 t1 pid cpu
    t0=$(date +%s%N)
    (cd "$1" && exec env TOLLGATE_SERVER_LISTEN="127.0.0.1:$port" TOLLGATE_LOG_LEVEL=warn "$tg" serve >> out.txt 2>> err.txt) &
    pid=$!
    until curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; do
      kill -0 "$pid" 2>/dev/null || { echo "server exited:"; cat "$1/err.txt"; exit 1; }
      sleep 0.002
    done
    t1=$(date +%s%N)
    # The subshell exec'd the server, so $pid is the server itself.
    cpu=$(cpu_ms "$pid")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    echo "$(( (t1 - t0) / 1000000 )) $cpu"
  }
  for d in with without; do
    rm -rf "$work/serve-$d"; mkdir -p "$work/serve-$d"
    start_once "$work/serve-$d" > /dev/null # creates and migrates the database
  done
  (cd "$work/serve-with" && "$tg" dnc activate "$work/national.idx" > /dev/null)
  echo
  echo "server start-up, exec to /readyz 200 (wall ms, CPU ms of the server), 5 alternate runs:"
  for i in 1 2 3 4 5; do
    echo "  with the national list: $(start_once "$work/serve-with")  without: $(start_once "$work/serve-without")  ($(uptime | sed 's/.*load/load/'))"
  done
  grep -h "DNC list" "$work/serve-with/out.txt" "$work/serve-with/err.txt" | tail -1 || true
fi

[ -n "${PG_URL:-}" ] || exit 0
read -r rows lo hi pct < <("$bin" pg-numbers "$work/national.idx" "${PG_AREA_CODES:-10}" "$work/pg.txt")
echo
echo "PostgreSQL: $rows rows ($pct% of the registry), numbers $lo..$hi"
pg() { psql -v ON_ERROR_STOP=1 -qAt "$PG_URL" "$@"; }
pg -c 'DROP TABLE IF EXISTS dnc_bench' -c 'CREATE UNLOGGED TABLE dnc_bench (number bigint NOT NULL)'
start=$(date +%s.%N)
pg -c "\\copy dnc_bench (number) FROM '$work/pg.txt'"
mid=$(date +%s.%N)
pg -c 'ALTER TABLE dnc_bench ADD PRIMARY KEY (number)' -c 'VACUUM ANALYZE dnc_bench'
end=$(date +%s.%N)
bytes=$(pg -c "SELECT pg_total_relation_size('dnc_bench')")
awk -v a="$start" -v b="$mid" -v c="$end" 'BEGIN { printf "COPY %.1f s, primary key + vacuum %.1f s\n", b - a, c - b }'
awk -v b="$bytes" -v r="$rows" 'BEGIN { printf "size: %d bytes = %.1f bits/number (table + index)\n", b, b * 8 / r }'
cat > "$work/single.sql" <<SQL
\\set n random($lo, $hi)
SELECT 1 FROM dnc_bench WHERE number = :n;
SQL
cat > "$work/batch.sql" <<SQL
SELECT count(*) FROM dnc_bench WHERE number = ANY(ARRAY(SELECT $lo + (random() * ($hi - $lo))::bigint FROM generate_series(1, 10000) ORDER BY 1));
SQL
echo "single lookups (pgbench, 1 client, prepared, 10 s):"
pgbench -n -M prepared -c 1 -j 1 -T 10 -f "$work/single.sql" "$PG_URL" 2>/dev/null | grep -E 'latency average|tps'
echo "batches of 10,000 sorted numbers with = ANY (generated by the server in the same query), 10 s:"
pgbench -n -M prepared -c 1 -j 1 -T 10 -f "$work/batch.sql" "$PG_URL" 2>/dev/null | grep -E 'latency average|tps'
pg -c 'DROP TABLE dnc_bench'
