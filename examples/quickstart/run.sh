#!/usr/bin/env bash
# Quick start: a legacy app (json-server on 127.0.0.1:3000) with fieldseal in front of it
# (127.0.0.1:8080, admin on 127.0.0.1:9090), keys from the embedded local provider.
# Runs both in the foreground; Ctrl-C stops both. Needs Go and Node.js (npm).
#
# State lives in examples/quickstart/.data (git-ignored): the app's db.json, the key ring
# and a random master key file created on first run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
data="$here/.data"
mkdir -p "$data/bin"
cd "$here"

command -v go >/dev/null || { echo "run.sh: Go is required (https://go.dev/dl/)" >&2; exit 1; }
command -v npm >/dev/null || { echo "run.sh: Node.js with npm is required" >&2; exit 1; }

echo "==> building fieldseal"
(cd "$root" && go build -o "$data/bin/fieldseal" ./cmd/fieldseal)
fs="$data/bin/fieldseal"

if [ ! -x node_modules/.bin/json-server ]; then
  echo "==> installing the legacy app (json-server, pinned in package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# The master key wraps the data keys in the ring file. fieldseal.yaml reads it from
# .data/master.key; it is never a built-in constant. On first run we create a random one.
if [ ! -s "$data/master.key" ]; then
  echo "==> creating a random master key in $data/master.key (keep it secret: losing it loses the data)"
  (umask 077 && "$fs" keys master-key >"$data/master.key")
fi

if [ ! -s "$data/ring.json" ]; then
  echo "==> creating the key ring $data/ring.json"
  "$fs" keys init --config fieldseal.yaml
fi
[ -s "$data/db.json" ] || cp db.seed.json "$data/db.json"

"$fs" config check fieldseal.yaml

pids=()
stop() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

echo "==> legacy app: json-server on http://127.0.0.1:3000 (db: $data/db.json)"
node_modules/.bin/json-server --host 127.0.0.1 --port 3000 --quiet "$data/db.json" &
pids+=($!)
# Start fieldseal once the app accepts connections, so the first request
# through it does not meet a 502.
for _ in $(seq 1 100); do
  if (exec 3<>/dev/tcp/127.0.0.1/3000) 2>/dev/null; then break; fi
  sleep 0.1
done

echo "==> fieldseal on http://127.0.0.1:8080 (admin http://127.0.0.1:9090)"
"$fs" serve --config fieldseal.yaml &
pids+=($!)

echo "==> both running; Ctrl-C stops them. Try the curl session in the README."
wait -n "${pids[@]}"
