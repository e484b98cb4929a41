#!/usr/bin/env bash
# Signed webhook deliveries per second to a local receiver, and the
# end-to-end latency from the event's commit to its arrival at a steady
# load of thousands of deliveries a second.
# Requires hey and release builds:
#   cargo build --release -p tollgate -p tollgate-bench
#   (SERVER_BIN=path runs another build of the server, for before/after.)
#   bench/webhooks.sh                                   # embedded SQLite
#   PG_OWNER_URL=postgres://tollgate_owner@127.0.0.1/DB PG_APP_URL=postgres://tollgate_app@127.0.0.1/DB bench/webhooks.sh
#   (a fresh database each run, owned by tollgate_owner, schema public
#   owned by tollgate_owner; the server migrates it.)
#   PG_ANALYZE_SECS=N also runs ANALYZE on the webhook tables every N
#   seconds during the run, as the owner: what autovacuum does for a live
#   database, but whose first pass on a new one comes after this benchmark
#   is over. Without it the run measures a database with no statistics
#   yet (see docs/benchmarks.md, Webhooks, for why that once mattered).
#
# ENDPOINTS endpoints (default 20) subscribe to `webhook.test`, all served
# by one receiver (endpoint N at /hook/N, each with its own secret).
#
# 1. Drain: EVENTS test events to endpoint 0 (POST .../test, one event per
#    request) are committed by a node with delivery off; a delivering node
#    then starts, and the receiver reports deliveries per second (first to
#    last arrival). Skipped with EVENTS=0.
# 2. Steady load: bench's webhook-producer commits RATE events per second
#    (default 250) for DURATION seconds (default 10) through the store's
#    enqueue, in groups per transaction like the gate's group commit, while
#    the node delivers; each event fans out to the ENDPOINTS endpoints, so
#    the node is offered RATE x ENDPOINTS signed deliveries per second
#    (5,000 by default). The producer commits every TICK_MS (default 10)
#    what fell due since its last commit. The receiver reports the delivered rate and the
#    commit-to-arrival latency p50/p99 at that load.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin="${SERVER_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/tollgate}"
recv="${CARGO_TARGET_DIR:-$root/target}/release/webhook-receiver"
producer="${CARGO_TARGET_DIR:-$root/target}/release/webhook-producer"
events=${EVENTS:-10000}
endpoints=${ENDPOINTS:-20}
rate=${RATE:-250}
dur=${DURATION:-10}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

tp=$(port)
rp=$(port)
db_env=()
db_url="sqlite://$work/data/tollgate.db"
if [ -n "${PG_APP_URL:-}" ]; then
  db_env=(TOLLGATE_DATABASE_URL="$PG_APP_URL" TOLLGATE_DATABASE_MIGRATION_URL="$PG_OWNER_URL")
  db_url=$PG_APP_URL
fi
serve() {
  (cd "$work" && exec env TOLLGATE_SERVER_LISTEN="127.0.0.1:$tp" TOLLGATE_LOG_LEVEL=warn \
     TOLLGATE_DATA_DIR="$work/data" \
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
# The delivering node's CPU time so far (user and system, in ms): on a
# shared machine a steadier figure than the wall clock.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' "/proc/$spid/stat"; }

serve TOLLGATE_WEBHOOKS_WORKERS=false
link=$(grep -oE 'http://[^ ]+/bootstrap/tg_boot_[a-z0-9_]+' "$work/out.txt")
token=${link##*/}
page=$(curl -fsS -X POST "http://127.0.0.1:$tp/bootstrap" --data-urlencode "token=$token" \
  --data-urlencode "org_name=Bench" --data-urlencode "owner_name=B" --data-urlencode "owner_email=b@bench.example.com")
key=$(echo "$page" | grep -oE 'tg_live_[a-z0-9_]+' | head -1)
org=$(echo "$page" | grep -oE '<code>org_[a-z0-9]+</code>' | head -1 | sed -e 's/<[^>]*>//g')
secrets=()
for n in $(seq 0 $((endpoints - 1))); do
  created=$(curl -fsS -X POST "http://127.0.0.1:$tp/v1/webhook-endpoints" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' \
    -d "{\"url\": \"http://127.0.0.1:$rp/hook/$n\", \"event_types\": [\"webhook.test\"]}")
  [ "$n" = 0 ] && endpoint=$(echo "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  secrets+=("$(echo "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')")
done
test_url="http://127.0.0.1:$tp/v1/webhook-endpoints/$endpoint/test"

if [ -n "${PG_ANALYZE_SECS:-}" ]; then
  (while sleep "$PG_ANALYZE_SECS"; do
     psql -q "$PG_OWNER_URL" -c 'ANALYZE webhook_deliveries, webhook_messages, webhook_queue, webhook_attempts' || true
   done) &
  pids+=($!)
fi

# 1. Drain.
if [ "$events" -gt 0 ]; then
  hey -n "$events" -c 32 -m POST -H "Authorization: Bearer $key" "$test_url" > "$work/fill.txt"
  stop
  "$recv" "$rp" 3 "${secrets[@]}" > "$work/drain.json" &
  rpid=$!; pids+=($rpid)
  serve
  wait "$rpid"
  echo "drain ($events events queued, 1 endpoint): $(cat "$work/drain.json") server CPU: $(cpu_ms) ms; $(uptime)"
else
  stop
  serve
fi

# 2. Steady load, the node delivering as events commit. The receiver waits
# 10 s without a delivery before it reports: on a loaded PostgreSQL one
# producer commit has taken over 3 s.
"$recv" "$rp" 10 "${secrets[@]}" > "$work/steady.json" &
rpid=$!; pids+=($rpid)
cpu0=$(cpu_ms)
"$producer" "$db_url" "$org" "$rate" "$dur" "${TICK_MS:-10}" > "$work/produced.json"
wait "$rpid"
echo "steady load ($rate events/s x $endpoints endpoints for $dur s): producer: $(cat "$work/produced.json")"
echo "  received: $(cat "$work/steady.json")"
echo "  delivering node CPU during the run: $(( $(cpu_ms) - cpu0 )) ms; $(uptime)"
# Warnings and errors of the node (lock waits, failed claims), if any.
grep -hiE 'warn|error' "$work/out.txt" "$work/err.txt" | tail -5 || true
