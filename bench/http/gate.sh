#!/usr/bin/env bash
# Dial checks per second through HTTP, with the attempt, the decision and the
# audit event written durably in one transaction per request.
# Requires wrk and hey, and a release build:
#   cargo build --release -p tollgate
#   (SERVER_BIN=path runs another build of the server, for before/after.)
#   bench/http/gate.sh                                   # embedded SQLite
#   PG_OWNER_URL=postgres://tollgate_owner@127.0.0.1/DB PG_APP_URL=postgres://tollgate_app@127.0.0.1/DB bench/http/gate.sh
# One wrk thread and 32 connections leave the other core to the server. The
# leads are New York numbers (no state cap) and the planned instant is the
# next weekday at 10:00 Eastern, so every decision is "allowed".
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bin="${SERVER_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/tollgate}"
dur=${DURATION:-10s}
leads=${LEADS:-2000}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

tp=$(port)
db_env=()
if [ -n "${PG_APP_URL:-}" ]; then
  db_env=(TOLLGATE_DATABASE_URL="$PG_APP_URL" TOLLGATE_DATABASE_MIGRATION_URL="$PG_OWNER_URL")
fi
(cd "$work" && exec env TOLLGATE_SERVER_LISTEN="127.0.0.1:$tp" TOLLGATE_LOG_LEVEL=warn \
   TOLLGATE_RATE_LIMIT_KEY_PER_MINUTE=1000000 TOLLGATE_RATE_LIMIT_KEY_BURST=1000000 \
   TOLLGATE_RATE_LIMIT_ORG_PER_MINUTE=1000000 TOLLGATE_RATE_LIMIT_ORG_BURST=1000000 \
   "${db_env[@]}" "$bin" serve > "$work/out.txt" 2> "$work/err.txt") &
pids+=($!)
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$tp/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
link=$(grep -oE 'http://[^ ]+/bootstrap/tg_boot_[a-z0-9_]+' "$work/out.txt")
token=${link##*/}
key=$(curl -fsS -X POST "http://127.0.0.1:$tp/bootstrap" --data-urlencode "token=$token" \
  --data-urlencode "org_name=Bench" --data-urlencode "owner_name=B" --data-urlencode "owner_email=b@bench.example.com" \
  | grep -oE 'tg_live_[a-z0-9_]+' | head -1)
auth="Authorization: Bearer $key"
json=(-H "$auth" -H 'Content-Type: application/json')
api() { curl -fsS -X "$1" "http://127.0.0.1:$tp$2" "${json[@]}" -d "$3"; }
api PATCH /v1/gate-settings '{"dnc_provider_absence_acknowledged": true, "dnc_statement": "benchmark"}' >/dev/null
campaign=$(api POST /v1/campaigns '{"name":"bench","purpose":"informational","channel":"voice","voice":"ai"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
python3 - "$leads" <<'PY' > "$work/batches.txt"
import json, sys
n = int(sys.argv[1])
for b in range(0, n, 100):
    print(json.dumps({"leads": [{"phone": f"212-555-{i:04d}" if i < 10000 else f"646-{200 + i // 10000}-{i % 10000:04d}",
        "consent": {"type": "prior_express_written", "timestamp": "2026-01-05T12:00:00Z", "source": "bench",
                    "text_version": "v1", "captured_by": "bench"}} for i in range(b, min(n, b + 100))]}))
PY
: > "$work/leads.txt"
while read -r batch; do
  api POST /v1/leads "$batch" | python3 -c 'import json,sys; [print(l["id"]) for l in json.load(sys.stdin)["data"]]' >> "$work/leads.txt"
done < "$work/batches.txt"
planned=$(python3 -c '
import datetime as d
t = d.datetime.now(d.timezone.utc) + d.timedelta(days=1)
while t.weekday() >= 5: t += d.timedelta(days=1)
print(t.replace(hour=15, minute=0, second=0, microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ"))')
first=$(head -1 "$work/leads.txt")
check=$(api POST /v1/dial-checks "{\"lead_id\":\"$first\",\"campaign_id\":\"$campaign\",\"channel\":\"voice\",\"planned_at\":\"$planned\"}")
printf '%s' "$check" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["allowed"], d'

# Server CPU (user + system, clock ticks) around the wrk run: robust to a
# loaded machine where requests/s is not.
cpu() { awk '{print $14 + $15}' "/proc/${pids[0]}/stat"; }
tck=$(getconf CLK_TCK)
# Bytes the server sent to the disk (the log, then the checkpoints' copy):
# unlike requests/s, the same on a slow or a fast minute of the machine.
written() { awk '/^write_bytes/ {print $2}' "/proc/${pids[0]}/io"; }
w0=$(written)
c0=$(cpu)
out=$(LEADS_FILE="$work/leads.txt" PLANNED_AT="$planned" CAMPAIGN_ID="$campaign" \
  wrk -t1 -c"${CONNS:-32}" -d"$dur" --latency "${json[@]:0:2}" -H 'Content-Type: application/json' -s bench/http/dial_check.lua "http://127.0.0.1:$tp/v1/dial-checks")
rps=$(printf '%s\n' "$out" | awk '/^Requests\/sec/ {print int($2)}')
c1=$(cpu)
w1=$(written)
reqs=$(printf '%s\n' "$out" | awk '/requests in/ {print $1}')
cpu_us=$(( (c1 - c0) * 1000000 / tck / (reqs > 0 ? reqs : 1) ))
disk_kb=$(awk -v b=$(( w1 - w0 )) -v n="${reqs:-0}" 'BEGIN {printf "%.1f", (n > 0 ? b / n / 1024 : 0)}')
p99=$(printf '%s\n' "$out" | awk '$1 == "99%" {print $2}')
non2xx=$(printf '%s\n' "$out" | awk '/Non-2xx/ {print $NF}')
body="{\"lead_id\":\"$first\",\"campaign_id\":\"$campaign\",\"channel\":\"voice\",\"planned_at\":\"$planned\"}"
half=$(( rps / 2 ))
p99_half=$(hey -z "$dur" -c 16 -q $(( half / 16 > 0 ? half / 16 : 1 )) -m POST -H "$auth" -T application/json -d "$body" \
  "http://127.0.0.1:$tp/v1/dial-checks" | awk '/99%/ {printf "%.2f ms", $3 * 1000}')
# The target's own measure: p99 at about a fixed rate over the rotating
# leads, not at saturation, where latency is whatever the queue of 32
# connections makes it. wrk paces PACED_CONNS connections (default 64),
# each pausing PAUSE_MS (default 3) between an answer and its next
# request: each connection then sends one request per pause plus its
# latency, so the rate achieved depends on the latency too. It is
# reported beside p99; raise or lower PAUSE_MS to bring it to the rate
# being judged (10,000/s for the issue's target).
paced_conns=${PACED_CONNS:-64}
fixed=$(LEADS_FILE="$work/leads.txt" PLANNED_AT="$planned" CAMPAIGN_ID="$campaign" DELAY_MS=${PAUSE_MS:-3} \
  wrk -t1 -c"$paced_conns" -d"$dur" --latency "${json[@]:0:2}" -H 'Content-Type: application/json' -s bench/http/dial_check.lua "http://127.0.0.1:$tp/v1/dial-checks")
fixed_rps=$(printf '%s\n' "$fixed" | awk '/^Requests\/sec/ {print int($2)}')
fixed_p99=$(printf '%s\n' "$fixed" | awk '$1 == "99%" {print $2}')
allowed=$(api POST /v1/dial-checks "$body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["allowed"])')
backend=${PG_APP_URL:+postgres}
echo "| backend | dial checks/s (wrk, ${CONNS:-32} conns) | server CPU per check | disk written per check | p99 at peak (wrk) | p99 at 50% of peak (hey) | paced ($paced_conns conns, ${PAUSE_MS:-3} ms pauses): checks/s, p99 | non-2xx | last answer allowed |"
echo "|---|---|---|---|---|---|---|---|---|"
echo "| ${backend:-sqlite} | $rps | $cpu_us µs | $disk_kb KB | $p99 | $p99_half | $fixed_rps/s, $fixed_p99 | ${non2xx:-0} | $allowed |"
