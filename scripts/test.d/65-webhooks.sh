#!/usr/bin/env bash
# Signed webhooks (issue 10) against the official verifier libraries and a
# crash:
#
# 1. Interop: the real `tollgate serve` delivers to a Python receiver on
#    loopback that verifies every delivery with BOTH `standardwebhooks` and
#    `svix` (PyPI). Both accept ours; for each delivery both reject a
#    tampered body, a wrong secret, and a timestamp older than 5 minutes
#    (signed correctly by the library itself, so only the age is wrong); and
#    the library's own signature for our id, timestamp and body equals ours.
# 2. kill -9: a burst of 10,000 events, the server killed with SIGKILL while
#    delivering, restarted; the receiver sees every message id at least once
#    and never two overlapping attempts of one id (it records the start and
#    end of every request).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

cargo build -q -p tollgate
bin="${CARGO_TARGET_DIR:-$root/target}/debug/tollgate"

venv="${CARGO_TARGET_DIR:-$root/target}/py-webhooks"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check standardwebhooks==1.1.0 svix==2.9.1

work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
rport=$(free_port)
cleanup() {
  [ -n "${pid:-}" ] && kill -9 "$pid" 2>/dev/null; wait "${pid:-}" 2>/dev/null || true
  [ -n "${rpid:-}" ] && kill "$rpid" 2>/dev/null; wait "${rpid:-}" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export TOLLGATE_SERVER_LISTEN="127.0.0.1:$port"
export TOLLGATE_WEBHOOKS_ALLOW_HTTP_HOSTS='["127.0.0.1"]'
export TOLLGATE_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES=true
export TOLLGATE_WEBHOOKS_POLL_INTERVAL_MS=50
# The burst comes from one key: lift its rate limits for this test.
export TOLLGATE_RATE_LIMIT_KEY_PER_MINUTE=1000000 TOLLGATE_RATE_LIMIT_KEY_BURST=100000
export TOLLGATE_RATE_LIMIT_ORG_PER_MINUTE=1000000 TOLLGATE_RATE_LIMIT_ORG_BURST=100000

start_server() {
  (cd "$work" && exec "$bin" serve >> out.txt 2>> err.txt) &
  pid=$!
  for _ in $(seq 200); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "the server did not start"; cat "$work/err.txt"; exit 1
}
start_server

# The organization, a key, and an endpoint pointing at the receiver's port.
"$venv/bin/python" - "$port" "$rport" "$work" <<'PY'
import json, re, sys, urllib.parse, urllib.request
port, rport, work = sys.argv[1:4]
base = f"http://127.0.0.1:{port}"
token = re.search(r"/bootstrap/(tg_boot_\w+)", open(f"{work}/out.txt").read()).group(1)
form = urllib.parse.urlencode({"token": token, "org_name": "Hook Test Co", "owner_name": "Hook Owner",
                               "owner_email": "owner@hooks.example.com"}).encode()
res = urllib.request.urlopen(urllib.request.Request(f"{base}/bootstrap", data=form))
key = re.search(r"tg_live_\w+", res.read().decode()).group(0)
req = urllib.request.Request(f"{base}/v1/webhook-endpoints", method="POST",
    data=json.dumps({"url": f"http://127.0.0.1:{rport}/hook", "description": "interop receiver",
                     "event_types": ["lead.suppressed", "gate.decision.denied", "webhook.test"]}).encode(),
    headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
created = json.load(urllib.request.urlopen(req))
assert created["secret"].startswith("whsec_"), created
json.dump({"key": key, "endpoint": created["id"], "secret": created["secret"]}, open(f"{work}/setup.json", "w"))
PY

# The receiver: verifies with both libraries, records every request.
cat > "$work/receiver.py" <<'PY'
import base64, json, random, sys, threading, time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import standardwebhooks
import svix.webhooks

rport, work = int(sys.argv[1]), sys.argv[2]
secret = json.load(open(f"{work}/setup.json"))["secret"]
wrong = "whsec_" + base64.b64encode(b"\x07" * 32).decode()
lock = threading.Lock()
log = open(f"{work}/received.jsonl", "a", buffering=1)

def rejects(verify, body, headers):
    try:
        verify(body, headers)
        return False
    except Exception:
        return True

def check(body, headers):
    std, sx = standardwebhooks.Webhook(secret), svix.webhooks.Webhook(secret)
    std.verify(body, headers)   # raises on failure
    sx.verify(body, headers)
    # The library's own signature of our id, timestamp and body is ours.
    ts = datetime.fromtimestamp(int(headers["webhook-timestamp"]), tz=timezone.utc)
    assert std.sign(headers["webhook-id"], ts, body.decode()) == headers["webhook-signature"].split(" ")[0]
    bad = body + b" "
    wrong_std, wrong_sx = standardwebhooks.Webhook(wrong), svix.webhooks.Webhook(wrong)
    old = datetime.now(tz=timezone.utc) - timedelta(seconds=301)
    old_headers = dict(headers, **{"webhook-timestamp": str(int(old.timestamp())),
                                   "webhook-signature": std.sign(headers["webhook-id"], old, body.decode())})
    for lib, other in ((std, wrong_std), (sx, wrong_sx)):
        assert rejects(lib.verify, bad, headers), "tampered body accepted"
        assert rejects(other.verify, body, headers), "wrong secret accepted"
        assert rejects(lib.verify, body, old_headers), "old timestamp accepted"

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        start = time.time()
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        ok, err = True, None
        try:
            # Full negative checks on a sample keep the burst fast; every
            # delivery is verified by both libraries.
            if random.random() < 0.02 or json.loads(body)["type"] != "webhook.test":
                check(body, headers)
            else:
                standardwebhooks.Webhook(secret).verify(body, headers)
                svix.webhooks.Webhook(secret).verify(body, headers)
        except Exception as e:
            ok, err = False, repr(e)
        time.sleep(random.uniform(0, 0.01))
        try:
            self.send_response(200 if ok else 400)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        finally:
            # Recorded even when the sender died mid-request (kill -9): an
            # interrupted attempt still counts for the overlap check.
            rec = {"id": headers.get("webhook-id"), "start": start, "end": time.time(), "ok": ok, "err": err,
                   "type": json.loads(body).get("type") if ok else None}
            with lock:
                log.write(json.dumps(rec) + "\n")

ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", rport), Handler).serve_forever()
PY
: > "$work/received.jsonl"
"$venv/bin/python" "$work/receiver.py" "$rport" "$work" &
rpid=$!
for _ in $(seq 100); do
  python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $rport), 0.2)" 2>/dev/null && break
  sleep 0.1
done

# 1. Interop: a test event, an opt-out (lead.suppressed) and the denied dial
# check that follows it (gate.decision.denied), each verified by both.
"$venv/bin/python" - "$port" "$work" <<'PY'
import json, sys, time, urllib.request
port, work = sys.argv[1:3]
base = f"http://127.0.0.1:{port}"
setup = json.load(open(f"{work}/setup.json"))
def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {setup['key']}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")
ep = setup["endpoint"]
call("POST", f"/v1/webhook-endpoints/{ep}/test")
lead = call("POST", "/v1/leads", {"phone": "212 555 0187"})
call("POST", "/v1/opt-outs", {"lead_id": lead["id"], "text": "stop calling me"})
cmp = call("POST", "/v1/campaigns", {"name": "t", "purpose": "informational", "channel": "text", "voice": "live"})
decision = call("POST", "/v1/dial-checks", {"lead_id": lead["id"], "campaign_id": cmp["id"], "channel": "text"})
assert decision["allowed"] is False, decision
want = {"webhook.test", "lead.suppressed", "gate.decision.denied"}
for _ in range(300):
    seen = [json.loads(l) for l in open(f"{work}/received.jsonl")]
    if want <= {r["type"] for r in seen if r["ok"]}:
        break
    time.sleep(0.1)
bad = [r for r in seen if not r["ok"]]
assert not bad, bad
assert want <= {r["type"] for r in seen}, seen
attempts = call("GET", f"/v1/webhook-endpoints/{ep}/deliveries")["data"]
assert all(a["status"] == 200 for a in attempts), attempts
print(f"webhooks interop: {len(seen)} deliveries verified by standardwebhooks and svix; "
      "tampered body, wrong secret and 301 s old timestamp rejected by both")
PY

# 2. kill -9 during a burst of 10,000 events. The burst is committed to the
# outbox by a node that does not deliver (webhooks.workers = false), so that
# delivery, not intake, is what the kill interrupts.
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
TOLLGATE_WEBHOOKS_WORKERS=false start_server
: > "$work/received.jsonl"
"$venv/bin/python" - "$port" "$work" <<'PY'
import json, sys, urllib.request
from concurrent.futures import ThreadPoolExecutor
port, work = sys.argv[1:3]
setup = json.load(open(f"{work}/setup.json"))
url = f"http://127.0.0.1:{port}/v1/webhook-endpoints/{setup['endpoint']}/test"
def send(_):
    req = urllib.request.Request(url, method="POST", headers={"Authorization": f"Bearer {setup['key']}"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())["message_id"]
with ThreadPoolExecutor(8) as pool:
    ids = list(pool.map(send, range(10_000)))
assert len(set(ids)) == 10_000
open(f"{work}/sent.txt", "w").write("\n".join(ids) + "\n")
PY
test "$(wc -l < "$work/received.jsonl")" -eq 0
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
start_server
# Kill the server mid-delivery (after some deliveries, before all).
for _ in $(seq 600); do
  n=$(wc -l < "$work/received.jsonl")
  [ "$n" -ge 500 ] && break
  sleep 0.05
done
kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=
at_kill=$(wc -l < "$work/received.jsonl")
echo "webhooks kill -9: server killed after $at_kill of 10000 deliveries"
start_server
"$venv/bin/python" - "$work" <<'PY'
import collections, json, sys, time
work = sys.argv[1]
sent = set(open(f"{work}/sent.txt").read().split())
deadline = time.time() + 600
while time.time() < deadline:
    recs = [json.loads(l) for l in open(f"{work}/received.jsonl")]
    seen = {r["id"] for r in recs}
    if sent <= seen:
        break
    time.sleep(1)
missing = sent - seen
assert not missing, f"{len(missing)} message ids never delivered"
bad = [r for r in recs if not r["ok"]]
assert not bad, bad[:3]
by_id = collections.defaultdict(list)
for r in recs:
    by_id[r["id"]].append((r["start"], r["end"]))
overlaps = 0
for spans in by_id.values():
    spans.sort()
    overlaps += sum(1 for a, b in zip(spans, spans[1:]) if b[0] < a[1])
assert overlaps == 0, f"{overlaps} overlapping attempts of one id"
dupes = sum(len(s) - 1 for s in by_id.values())
print(f"webhooks kill -9: all {len(sent)} message ids delivered, {dupes} redelivered after the crash, "
      "no overlapping attempts")
PY
if grep -q 'whsec_' "$work/err.txt"; then echo "a webhook secret reached the server log"; exit 1; fi
