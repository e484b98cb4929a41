#!/usr/bin/env bash
# Authenticated requests per second on loopback, against a bare axum ceiling.
# Requires: wrk and hey (Debian packages), a release build:
#   cargo build --release -p tollgate -p tollgate-bench
#   bench/http/run.sh            # SQLite, in-process limits
#   REDIS_URL=redis://127.0.0.1:6379 bench/http/run.sh   # shared limits in Redis
#   SERVER_BIN=path BARE_BIN=path bench/http/run.sh      # other builds, for before/after
# Writes a Markdown table to standard output. One wrk thread and 32
# connections leave the other core to the server.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bin="${SERVER_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/tollgate}"
bare="${BARE_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/bare-axum}"
dur=${DURATION:-10s}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rps() { grep -E "^Requests/sec" | awk '{print int($2)}'; }
p99_at() { # URL RATE [header]: p99 in ms with hey at a fixed total rate
  local url=$1 rate=$2; shift 2
  hey -z "$dur" -c 16 -q $(( rate / 16 > 0 ? rate / 16 : 1 )) "$@" "$url" | awk '/99%/ {printf "%.2f", $3 * 1000}'
}

bp=$(port); "$bare" "$bp" & pids+=($!)
tp=$(port)
(cd "$work" && TOLLGATE_SERVER_LISTEN="127.0.0.1:$tp" TOLLGATE_LOG_LEVEL=warn \
   TOLLGATE_RATE_LIMIT_KEY_PER_MINUTE=1000000 TOLLGATE_RATE_LIMIT_KEY_BURST=1000000 \
   TOLLGATE_RATE_LIMIT_ORG_PER_MINUTE=1000000 TOLLGATE_RATE_LIMIT_ORG_BURST=1000000 \
   exec env ${REDIS_URL:+TOLLGATE_REDIS_URL=$REDIS_URL TOLLGATE_REDIS_KEY_PREFIX=bench$$} "$bin" serve > out.txt 2> err.txt) &
pids+=($!)
sleep 1.5
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$tp/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
link=$(grep -oE 'http://[^ ]+/bootstrap/tg_boot_[a-z0-9_]+' "$work/out.txt")
token=${link##*/}
key=$(curl -fsS -X POST "http://127.0.0.1:$tp/bootstrap" --data-urlencode "token=$token" \
  --data-urlencode "org_name=Bench" --data-urlencode "owner_name=B" --data-urlencode "owner_email=b@bench.example.com" \
  | grep -oE 'tg_live_[a-z0-9_]+' | head -1)
auth="Authorization: Bearer $key"
# An OAuth client and one of its access tokens, for the same request.
client=$(curl -fsS -X POST "http://127.0.0.1:$tp/v1/oauth-clients" -H "$auth" -H 'Content-Type: application/json' \
  -d '{"name": "bench", "scopes": ["org:admin"]}')
cid=$(printf '%s' "$client" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client"]["client_id"])')
csecret=$(printf '%s' "$client" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
access=$(curl -fsS -X POST "http://127.0.0.1:$tp/oauth/token" -u "$cid:$csecret" -d grant_type=client_credentials \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
oauth="Authorization: Bearer $access"

ceiling=$(wrk -t1 -c32 -d"$dur" "http://127.0.0.1:$bp/ping" | rps)
# Server CPU (user + system, clock ticks) around a wrk run, per request:
# robust to a loaded machine where requests/s is not. Prints
# "requests/s µs-per-request" (0 for a run that sent nothing).
cpu() { awk '{print $14 + $15}' "/proc/${pids[1]}/stat"; }
tck=$(getconf CLK_TCK)
measured() {
  local c0 c1 out reqs
  c0=$(cpu)
  out=$(wrk -t1 -c32 -d"$dur" "$@")
  c1=$(cpu)
  reqs=$(printf '%s\n' "$out" | awk '/requests in/ {print $1}')
  echo "$(printf '%s\n' "$out" | rps | grep . || echo 0) $(( (c1 - c0) * 1000000 / tck / (${reqs:-0} > 0 ? ${reqs:-0} : 1) ))"
}
read -r get get_cpu < <(measured -H "$auth" "http://127.0.0.1:$tp/v1/me")
read -r post post_cpu < <(measured -H "$auth" -H "Content-Type: application/json" -s bench/http/post_member.lua "http://127.0.0.1:$tp/v1/members")
read -r oget oget_cpu < <(measured -H "$oauth" "http://127.0.0.1:$tp/v1/me")
# The p99 phase (hey) runs last. A phase that delivers almost nothing
# (at most 16,384 responses: the audit sink's queue) is a server stall,
# not the generator. One such stall followed the POST phase until
# 22fa71e: a POST cut off as wrk closed its connections left SQLite's
# write lock held (docs/benchmarks.md, eighth session). A phase that
# sent nothing is reported and run again.
get_p99=$(p99_at "http://127.0.0.1:$tp/v1/me" $(( get / 2 )) -H "$auth")
if [ "${oget:-0}" -eq 0 ]; then
  echo "the OAuth wrk phase sent no request; running it again" >&2
  sleep 1
  read -r oget oget_cpu < <(measured -H "$oauth" "http://127.0.0.1:$tp/v1/me")
fi
limits=${REDIS_URL:+redis}
echo "| limits | bare axum req/s | GET /v1/me, API key (% of bare) | server CPU per GET | GET /v1/me, OAuth token (% of bare) | server CPU per OAuth GET | p99 at 50% of GET peak | POST /v1/members req/s | server CPU per POST |"
echo "|---|---|---|---|---|---|---|---|---|"
echo "| ${limits:-in-process} | $ceiling | $get ($(( get * 100 / ceiling ))%) | $get_cpu µs | $oget ($(( oget * 100 / ceiling ))%) | $oget_cpu µs | $get_p99 ms | $post | $post_cpu µs |"
