#!/usr/bin/env bash
# DNC index (issue 8): generate a synthetic national registry (TOTAL numbers,
# one flat file per area code), import it with `tollgate_dnc::import` (what
# `tollgate dnc import` runs) under /usr/bin/time (wall time and peak
# memory), then measure the
# index beside a sorted u64 array, Roaring bitmaps and, when PG_URL is set,
# a PostgreSQL B-tree over PG_AREA_CODES area codes. Results:
# docs/benchmarks.md, "DNC index". Generated data stays in WORK (default: a
# temporary directory, removed at the end) and is never committed.
#   cargo build --release -p tollgate-bench --bin dnc-bench
#   TOTAL=258000000 PG_URL=postgres://USER@HOST:5432/DB PG_AREA_CODES=10 bench/dnc.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin="${CARGO_TARGET_DIR:-$root/target}/release"
total=${TOTAL:-258000000}
if [ -n "${WORK:-}" ]; then work=$WORK; mkdir -p "$work"; else work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi
if [ ! -d "$work/registry" ]; then
  "$bin/dnc-bench" generate "$work/registry" "$total"
fi
du -sh "$work/registry" | cut -f1 | sed 's/^/registry files: /'
rm -f "$work/national.idx"
/usr/bin/time -f 'import: %e s elapsed, %U s user, %S s sys, %M KB peak RSS' \
  "$bin/dnc-bench" import "$work/registry" "$work/national.idx"
if [ -n "${PG_URL:-}" ]; then
  "$bin/dnc-bench" measure "$work/national.idx" "$PG_URL" "${PG_AREA_CODES:-10}"
else
  "$bin/dnc-bench" measure "$work/national.idx"
fi
