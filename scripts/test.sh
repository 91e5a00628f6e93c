#!/usr/bin/env bash
# The README's test command (`make test`). On a fresh machine with Go, Python
# (pip) and Node.js (npm) it installs the test tools it lacks, starts the real
# programs the tests talk to on 127.0.0.1, and runs every test:
#   - json-server (npm, pinned by examples/quickstart/package-lock.json): the legacy app
#   - moto server (PyPI) for KMS, Secrets Manager and Cognito, and local-kms (Go) as a
#     second KMS: .ci/aws-emulators.sh; a Cognito user pool and user: .ci/cognito.sh
#   - helm (Go module proxy): lint and render the chart: .ci/helm.sh
# Emulators are stopped on exit. Extra arguments go to `go test` (e.g. -run, -race).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export PATH="$(go env GOPATH)/bin:$PATH"

step() { printf '\n==> %s\n' "$*" >&2; }

step "legacy app: json-server"
if [ ! -x examples/quickstart/node_modules/.bin/json-server ]; then
	(cd examples/quickstart && npm ci --no-audit --no-fund --loglevel=error)
fi

export FIELDSEAL_JSON_SERVER="$root/examples/quickstart/node_modules/.bin/json-server"

step "AWS emulators: moto and local-kms"
eval "$(bash .ci/aws-emulators.sh)"
stop_emulators() {
	kill "${FIELDSEAL_TEST_MOTO_PID:-}" "${FIELDSEAL_TEST_LOCALKMS_PID:-}" 2>/dev/null || true
}
trap stop_emulators EXIT

step "Cognito user pool in moto"
eval "$(bash .ci/cognito.sh)"

step "Helm chart: lint, render, decode"
bash .ci/helm.sh

step "go vet"
go vet ./...

step "go test"
go test -count=1 "$@" ./...
