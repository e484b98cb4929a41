#!/usr/bin/env bash
# The dashboard in a real browser with real email: the `tollgate serve`
# binary sends its mail over SMTP to a real SMTP server (Python aiosmtpd,
# e2e/dashboard/smtp_sink.py), and Debian's Chromium, driven by Playwright
# (e2e/dashboard/dashboard.test.mjs), signs in from the received emails,
# enrolls TOTP (codes from otplib; the QR code read back by zxing-cpp),
# passes the second factor, invites and admits a member, revokes a session
# and screenshots every page. See e2e/dashboard/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
started=$(date +%s)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Debian's Chromium; never a browser downloaded by Playwright.
chromium=${TEST_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "installing Debian's chromium"
  apt_install chromium fonts-liberation
fi
command -v node >/dev/null || { echo "installing Node.js"; apt_install nodejs npm; }

cargo build -q -p tollgate
bin="${CARGO_TARGET_DIR:-$root/target}/debug/tollgate"

venv="${CARGO_TARGET_DIR:-$root/target}/py-dashboard"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check aiosmtpd==1.4.6 zxing-cpp==3.1.1 pillow==13.0.0

# node_modules beside the test (ignored by git), reinstalled only when the
# lock file changes.
e2e="$root/e2e/dashboard"
stamp="$e2e/node_modules/.package-lock.sha256"
want=$(sha256sum "$e2e/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  (cd "$e2e" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
smtp_port=$(free_port)

"$venv/bin/python" "$e2e/smtp_sink.py" "$smtp_port" "$work/mail" > "$work/smtp.txt" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q '^ready' "$work/smtp.txt" 2>/dev/null && break; sleep 0.1; done
grep -q '^ready' "$work/smtp.txt" || { cat "$work/smtp.txt"; exit 1; }

# The per-address limits are raised: the flow signs the owner in three
# times within a minute, which the defaults (a burst of 2 emails and 3
# codes per hour) rightly treat as suspicious.
(cd "$work" && \
  TOLLGATE_SERVER_LISTEN="127.0.0.1:$port" \
  TOLLGATE_DATA_DIR="$work/data" \
  TOLLGATE_SMTP_HOST=127.0.0.1 \
  TOLLGATE_SMTP_PORT="$smtp_port" \
  TOLLGATE_SMTP_TLS=none \
  TOLLGATE_SMTP_FROM="Tollgate <tollgate@dashboard.example.com>" \
  TOLLGATE_AUTH_LINK_REQUESTS_PER_EMAIL_PER_HOUR=30 \
  TOLLGATE_AUTH_CODE_ATTEMPTS_PER_USER_PER_HOUR=30 \
  exec "$bin" serve > out.txt 2> err.txt) &
pids+=($!)
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/readyz" | grep -q '"status":"ready"' || { cat "$work/err.txt"; exit 1; }
bootstrap=$(grep -oE 'http://[^ ]+/bootstrap/tg_boot_[A-Za-z0-9_]+' "$work/out.txt" | head -n1)
test -n "$bootstrap" || { echo "no bootstrap link printed"; cat "$work/out.txt"; exit 1; }

echo "dashboard: server on :$port, SMTP server on :$smtp_port, $("$chromium" --version 2>/dev/null)"
touch "$work/secrets.txt"
TEST_BASE_URL="http://127.0.0.1:$port" \
TEST_BOOTSTRAP_URL="$bootstrap" \
TEST_MAILDIR="$work/mail" \
TEST_DATA_DIR="$work/data" \
TEST_PYTHON="$venv/bin/python" \
TEST_SECRETS_FILE="$work/secrets.txt" \
TEST_CHROMIUM="$chromium" \
  timeout 300 node --test --test-reporter=spec "$e2e/dashboard.test.mjs" || {
  # The server's own account of a failed step (its log is removed with
  # the working directory), tokens masked all the same.
  echo "server log (last 60 lines, tokens masked):"
  tail -n 60 "$work/err.txt" | sed -E 's/tg_[a-z]+_[A-Za-z0-9_]+/tg_[masked]/g'
  exit 1
}

# Nothing secret that the browser saw reached the server's output.
if grep -E 'tg_(live|sil|ses)_[a-z0-9]{16}_' "$work/out.txt" "$work/err.txt"; then
  echo "a token reached the server log"; exit 1
fi
n=0
while read -r secret; do
  n=$((n + 1))
  if grep -qF "$secret" "$work/out.txt" "$work/err.txt"; then echo "a secret of the run reached the server log"; exit 1; fi
done < "$work/secrets.txt"
test "$n" -ge 15 || { echo "too few secrets recorded ($n)"; exit 1; }
echo "dashboard: $(ls "$work/mail"/*.eml | wc -l) emails received over SMTP; none of the run's $n secrets in the server log"
echo "dashboard: screenshots in e2e/dashboard/screenshots/; took $(( $(date +%s) - started )) s"
