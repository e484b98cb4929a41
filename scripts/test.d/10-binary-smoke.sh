#!/usr/bin/env bash
# The README's first command, tried as a new user would: the real `tollgate`
# binary started with no configuration in an empty directory; /readyz; the
# bootstrap link it prints; the form; the API key on /v1. Then the served
# OpenAPI document is checked by an independent validator from PyPI
# (openapi-spec-validator), and `config check` and `version` are exercised.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

cargo build -q -p tollgate
bin="${CARGO_TARGET_DIR:-$root/target}/debug/tollgate"

venv="${CARGO_TARGET_DIR:-$root/target}/py-smoke"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check openapi-spec-validator==0.9.0

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait "${pid:-}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

(cd "$work" && "$bin" version | grep -q '^tollgate ')
(cd "$work" && TOLLGATE_DATABASE_URL=postgres://app:hunter2@db/x "$bin" config check > check.txt)
grep -q '<redacted>' "$work/check.txt" && ! grep -q hunter2 "$work/check.txt"
if (cd "$work" && TOLLGATE_SERVER_LISTEN=nonsense "$bin" config check >/dev/null 2>&1); then
  echo "config check accepted a bad listen address"; exit 1
fi

# Only the port differs from a configuration-free start.
(cd "$work" && TOLLGATE_SERVER_LISTEN="127.0.0.1:$port" exec "$bin" serve > out.txt 2> err.txt) &
pid=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/readyz" | grep -q '"status":"ready"'
test "$(stat -c %a "$work/tollgate-data/keys/kek")" = 600
test "$(stat -c %a "$work/tollgate-data/keys/token-hash")" = 600

"$venv/bin/python" - "$port" "$work" <<'PY'
import json, re, sys, urllib.parse, urllib.request
from openapi_spec_validator import validate

port, work = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}"
out = open(f"{work}/out.txt").read()
link = re.search(r"http://\S+/bootstrap/(tg_boot_\w+)", out)
assert link, f"no bootstrap link printed: {out!r}"
token = link.group(1)

page = urllib.request.urlopen(f"{base}/bootstrap/{token}").read().decode()
assert 'method="post"' in page

form = urllib.parse.urlencode({"token": token, "org_name": "Smoke Test Lending",
                               "owner_name": "Sam Smoke", "owner_email": "sam@smoke.example.com"}).encode()
res = urllib.request.urlopen(urllib.request.Request(f"{base}/bootstrap", data=form))
assert res.status == 201, res.status
key = re.search(r"tg_live_\w+", res.read().decode()).group(0)

def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return r.status, json.loads(r.read() or b"null")

status, org = call("GET", "/v1/org")
assert status == 200 and org["name"] == "Smoke Test Lending", org
status, created = call("POST", "/v1/api-keys", {"name": "dialer", "scopes": ["dial:check"]})
assert status == 201 and created["token"].startswith("tg_live_"), created
with open(f"{work}/secrets.txt", "w") as f:
    for secret in (key, created["token"], token):
        f.write(secret[-40:] + "\n")

doc = json.load(urllib.request.urlopen(f"{base}/openapi.json"))
validate(doc)  # raises on an invalid OpenAPI 3.1 document
ops = sum(1 for item in doc["paths"].values() for m in item if m in ("get", "post", "patch", "put", "delete"))
print(f"binary smoke: bootstrap, key, /v1 ok; OpenAPI {doc['openapi']} valid with {ops} operations")
PY

# Nothing secret in what the server logged.
if grep -E 'tg_(live|boot)_' "$work/err.txt"; then
  echo "a token reached the server log"; exit 1
fi

# Nor anywhere in the audit log of this whole run: stop the server, export
# every organization's log with the CLI and look for any token format and
# for the exact secrets created during the run.
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
export TOLLGATE_DATA_DIR="$work/tollgate-data"
orgs=$("$bin" audit verify 2>/dev/null | grep -oE '^org_[a-z0-9]+' || true)
test -n "$orgs"
for org in $orgs; do
  "$bin" audit export --org "$org" --format jsonl >> "$work/audit.jsonl" 2>/dev/null
done
test -s "$work/audit.jsonl"
if grep -E 'tg_(live|boot)_[a-z0-9]{16}_' "$work/audit.jsonl"; then
  echo "a token reached the audit log"; exit 1
fi
while read -r secret; do
  if grep -qF "$secret" "$work/audit.jsonl"; then echo "a created secret reached the audit log"; exit 1; fi
done < "$work/secrets.txt"
echo "binary smoke: $(wc -l < "$work/audit.jsonl") audit events of the run hold no token or secret"
