#!/usr/bin/env bash
# OAuth interoperability: the real `tollgate serve` binary and a standard
# OAuth client nobody here wrote (Python authlib) doing the client
# credentials flow, a /v1 call, introspection and revocation
# (e2e/oauth/authlib_client_credentials.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

cargo build -q -p tollgate
bin="${CARGO_TARGET_DIR:-$root/target}/debug/tollgate"

venv="${CARGO_TARGET_DIR:-$root/target}/py-oauth"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check authlib==1.9.9 requests==2.34.2

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait "${pid:-}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

(cd "$work" && TOLLGATE_SERVER_LISTEN="127.0.0.1:$port" TOLLGATE_DATA_DIR="$work/data" \
  exec "$bin" serve > out.txt 2> err.txt) &
pid=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/readyz" | grep -q '"status":"ready"' || { cat "$work/err.txt"; exit 1; }

# The first organization, through the printed bootstrap link, as a new user would.
key=$("$venv/bin/python" - "$port" "$work" <<'PY'
import re, sys, urllib.parse, urllib.request
port, work = sys.argv[1], sys.argv[2]
out = open(f"{work}/out.txt").read()
token = re.search(r"/bootstrap/(tg_boot_\w+)", out).group(1)
form = urllib.parse.urlencode({"token": token, "org_name": "OAuth Interop Lending",
                               "owner_name": "Olive Auth", "owner_email": "olive@interop.example.com"}).encode()
res = urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/bootstrap", data=form))
print(re.search(r"tg_live_\w+", res.read().decode()).group(0))
PY
)

"$venv/bin/python" e2e/oauth/authlib_client_credentials.py "http://127.0.0.1:$port" "$key"
