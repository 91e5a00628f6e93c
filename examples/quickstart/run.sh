#!/usr/bin/env bash
# Quick start: a legacy app (json-server on 127.0.0.1:3000) with fieldseal in front of it
# (127.0.0.1:8080, admin on 127.0.0.1:9090), keys from the embedded local provider.
# Runs both in the foreground; Ctrl-C stops both. Needs Go and Node.js (npm).
#
# State lives in examples/quickstart/.data (git-ignored): the fieldseal binary, the app's
# db.json, the key ring and a random master key file created on first run. Each step is
# printed with the seconds since the start; the run ends with the time until fieldseal
# answered ready.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
data="$here/.data"
mkdir -p "$data/bin"
cd "$here"

command -v go >/dev/null || { echo "run.sh: Go is required (https://go.dev/dl/)" >&2; exit 1; }
command -v npm >/dev/null || { echo "run.sh: Node.js with npm is required" >&2; exit 1; }

step() { printf '==> [%3ds] %s\n' "$SECONDS" "$*"; }

step "building fieldseal: go build -v lists each package as it compiles (the first build"
echo "    compiles a few hundred, later builds reuse Go's build cache and list none)"
# go build -v and "go: downloading" lines go to stderr; show them indented as progress.
(cd "$root" && go build -v -o "$data/bin/fieldseal" ./cmd/fieldseal) 2>&1 | sed -u 's/^/    /'
fs="$data/bin/fieldseal"
step "built $("$fs" version 2>/dev/null || echo fieldseal)"

# json-server, pinned by package-lock.json, through the same tool cache as `make test`.
step "legacy app: json-server (npm ci, pinned by package-lock.json; reused once installed)"
. "$root/.ci/tools.sh"
tools_install json-server 2>&1 | sed -u 's/^/    /'

# The master key wraps the data keys in the ring file. fieldseal.yaml reads it from
# .data/master.key; it is never a built-in constant. On first run we create a random one.
if [ ! -s "$data/master.key" ]; then
  step "creating a random master key in $data/master.key (keep it secret: losing it loses the data)"
  (umask 077 && "$fs" keys master-key >"$data/master.key")
fi

if [ ! -s "$data/ring.json" ]; then
  step "creating the key ring $data/ring.json (data key v1, wrapped by the master key)"
  "$fs" keys init --config fieldseal.yaml
fi
[ -s "$data/db.json" ] || cp db.seed.json "$data/db.json"

step "checking fieldseal.yaml"
"$fs" config check fieldseal.yaml

pids=()
stop() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
# Ctrl-C is how a quick start ends: stop both and exit 0, so that make does not
# report "Error 130".
trap 'stop; echo; step "stopped"; exit 0' INT TERM
trap stop EXIT

step "starting the legacy app: json-server on http://127.0.0.1:3000 (db: $data/db.json)"
node_modules/.bin/json-server --host 127.0.0.1 --port 3000 --quiet "$data/db.json" &
pids+=($!)
# Start fieldseal once the app accepts connections, so the first request
# through it does not meet a 502.
for _ in $(seq 1 100); do
  if (exec 3<>/dev/tcp/127.0.0.1/3000) 2>/dev/null; then break; fi
  sleep 0.1
done

step "starting fieldseal on http://127.0.0.1:8080 (admin http://127.0.0.1:9090)"
# Its log goes to the terminal and to .data/fieldseal.log, for the tail below
# should it exit at start (a port taken, a key ring that does not open).
"$fs" serve --config fieldseal.yaml > >(tee "$data/fieldseal.log") 2>&1 &
pids+=($!)

# Ready once /readyz answers 200 (keys loaded, field map compiled).
ready=""
for _ in $(seq 1 100); do
  if curl -fsS -o /dev/null --max-time 1 http://127.0.0.1:9090/readyz 2>/dev/null; then
    ready=1
    break
  fi
  kill -0 "${pids[1]}" 2>/dev/null || break
  sleep 0.1
done
if [ -n "$ready" ]; then
  step "ready: both running; Ctrl-C stops them. Try the curl session in the README."
elif ! kill -0 "${pids[1]}" 2>/dev/null; then
  code=0
  wait "${pids[1]}" || code=$?
  step "fieldseal exited at start (status $code); the end of its log ($data/fieldseal.log):"
  tail -n 5 "$data/fieldseal.log" | sed 's/^/    /'
  echo "    (\"address already in use\": another program holds port 8080 or 9090; stop it and run again)"
  exit 1
else
  step "fieldseal is not ready yet; see its log above (http://127.0.0.1:9090/readyz says why)"
fi
wait -n "${pids[@]}"
