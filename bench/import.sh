#!/usr/bin/env bash
# Lead import throughput: `tollgate leads import` of a generated CSV into the
# embedded default (SQLite, WAL, synchronous=FULL), with /usr/bin/time for
# the peak memory. Requires a release build (cargo build --release -p tollgate).
#   ROWS=1000000 bench/import.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin="${CARGO_TARGET_DIR:-$root/target}/release/tollgate"
rows=${ROWS:-1000000}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
python3 - "$rows" "$work/leads.csv" <<'PY'
import random, sys
random.seed(7)
acs = [l.split(",")[0] for l in open("rules/area_codes.csv").read().splitlines()[1:]]
with open(sys.argv[2], "w") as f:
    f.write("phone,state,zip,name,consent_type,consent_timestamp,consent_source,consent_ip,consent_text_version,consent_captured_by,plan\n")
    for i in range(int(sys.argv[1])):
        f.write(f"({random.choice(acs)}) {random.randint(200, 999)}-{i % 10000:04d},,,Lead {i},prior_express_written,"
                f"2026-01-05T12:00:00Z,https://example.test/form/{i % 50},192.0.2.{i % 250},v3,web form,gold\n")
PY
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$work" && exec env TOLLGATE_DATA_DIR="$work/data" TOLLGATE_SERVER_LISTEN="127.0.0.1:$port" TOLLGATE_LOG_LEVEL=warn "$bin" serve > "$work/out.txt" 2>&1) &
pids+=($!)
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
token=$(grep -oE 'tg_boot_[a-z0-9_]+' "$work/out.txt" | head -1)
key=$(curl -fsS -X POST "http://127.0.0.1:$port/bootstrap" --data-urlencode "token=$token" \
  --data-urlencode "org_name=Import" --data-urlencode "owner_name=B" --data-urlencode "owner_email=b@bench.example.com" \
  | grep -oE 'tg_live_[a-z0-9_]+' | head -1)
org=$(curl -fsS "http://127.0.0.1:$port/v1/me" -H "Authorization: Bearer $key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["org_id"])')
campaign=$(curl -fsS -X POST "http://127.0.0.1:$port/v1/campaigns" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -d '{"name":"import","purpose":"telemarketing","channel":"voice","voice":"ai"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true; pids=()
size=$(du -h "$work/leads.csv" | cut -f1)
${PROFILE:-} /usr/bin/time -f '%e s elapsed, %U s user, %S s sys, %M KB peak RSS' env TOLLGATE_DATA_DIR="$work/data" TOLLGATE_LOG_LEVEL=warn \
  "$bin" leads import "$work/leads.csv" --org "$org" --campaign "$campaign" > "$work/report.jsonl" 2> "$work/err.txt" || true
tail -c 300 "$work/err.txt" | tr '\r' '\n' | tail -2
echo "file: $rows rows, $size"
tail -1 "$work/report.jsonl"
