#!/usr/bin/env bash
# Signed webhook deliveries per second to a local receiver, and the
# end-to-end latency from the event's commit to its arrival.
# Requires hey and release builds:
#   cargo build --release -p tollgate -p tollgate-bench
#   (SERVER_BIN=path runs another build of the server, for before/after.)
#   bench/webhooks.sh                                   # embedded SQLite
#   PG_OWNER_URL=postgres://tollgate_owner@127.0.0.1/DB PG_APP_URL=postgres://tollgate_app@127.0.0.1/DB bench/webhooks.sh
#
# 1. Drain: EVENTS test events are committed to the outbox by a node with
#    delivery off; a delivering node then starts, and the receiver reports
#    deliveries per second (first to last arrival).
# 2. Steady load: events arrive through the API at RATE per second for
#    DURATION while the node delivers; the receiver reports commit-to-arrival
#    latency p50/p99 at that load.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin="${SERVER_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/tollgate}"
recv="${CARGO_TARGET_DIR:-$root/target}/release/webhook-receiver"
events=${EVENTS:-20000}
rate=${RATE:-500}
dur=${DURATION:-10s}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

tp=$(port)
rp=$(port)
db_env=()
if [ -n "${PG_APP_URL:-}" ]; then
  db_env=(TOLLGATE_DATABASE_URL="$PG_APP_URL" TOLLGATE_DATABASE_MIGRATION_URL="$PG_OWNER_URL")
fi
serve() {
  (cd "$work" && exec env TOLLGATE_SERVER_LISTEN="127.0.0.1:$tp" TOLLGATE_LOG_LEVEL=warn \
     TOLLGATE_RATE_LIMIT_KEY_PER_MINUTE=1000000 TOLLGATE_RATE_LIMIT_KEY_BURST=1000000 \
     TOLLGATE_RATE_LIMIT_ORG_PER_MINUTE=1000000 TOLLGATE_RATE_LIMIT_ORG_BURST=1000000 \
     TOLLGATE_WEBHOOKS_ALLOW_HTTP_HOSTS='["127.0.0.1"]' TOLLGATE_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES=true \
     TOLLGATE_WEBHOOKS_POLL_INTERVAL_MS=20 "$@" \
     "${db_env[@]}" "$bin" serve >> "$work/out.txt" 2>> "$work/err.txt") &
  spid=$!
  pids+=($spid)
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$tp/readyz" >/dev/null 2>&1 && return; sleep 0.2; done
  echo "server did not start"; cat "$work/err.txt"; exit 1
}
stop() { kill "$spid"; wait "$spid" 2>/dev/null || true; }

serve TOLLGATE_WEBHOOKS_WORKERS=false
link=$(grep -oE 'http://[^ ]+/bootstrap/tg_boot_[a-z0-9_]+' "$work/out.txt")
token=${link##*/}
key=$(curl -fsS -X POST "http://127.0.0.1:$tp/bootstrap" --data-urlencode "token=$token" \
  --data-urlencode "org_name=Bench" --data-urlencode "owner_name=B" --data-urlencode "owner_email=b@bench.example.com" \
  | grep -oE 'tg_live_[a-z0-9_]+' | head -1)
created=$(curl -fsS -X POST "http://127.0.0.1:$tp/v1/webhook-endpoints" -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' \
  -d "{\"url\": \"http://127.0.0.1:$rp/hook\", \"event_types\": [\"webhook.test\"]}")
endpoint=$(echo "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
secret=$(echo "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
test_url="http://127.0.0.1:$tp/v1/webhook-endpoints/$endpoint/test"

# 1. Drain.
hey -n "$events" -c 32 -m POST -H "Authorization: Bearer $key" "$test_url" > "$work/fill.txt"
stop
"$recv" "$rp" "$secret" 3 > "$work/drain.json" &
rpid=$!; pids+=($rpid)
serve
wait "$rpid"
# The delivering node's CPU time so far (user and system, in clock ticks):
# on a shared machine a steadier figure than the wall clock.
cpu=$(awk '{print $14 + $15}' "/proc/$spid/stat")
echo "drain ($events events queued): $(cat "$work/drain.json") server CPU: $((cpu * 1000 / $(getconf CLK_TCK))) ms; $(uptime)"

# 2. Steady load, the node delivering as events commit.
"$recv" "$rp" "$secret" 3 > "$work/steady.json" &
rpid=$!; pids+=($rpid)
hey -z "$dur" -q "$((rate / 8))" -c 8 -m POST -H "Authorization: Bearer $key" "$test_url" > "$work/load.txt"
wait "$rpid"
echo "steady load (offered $rate/s for $dur; API: $(grep -E 'Requests/sec' "$work/load.txt" | tr -s ' ')): $(cat "$work/steady.json")"
