#!/usr/bin/env bash
# Checks the Helm chart with the helm of the repository's tool cache (.ci/tools.sh:
# helm v4.3.1, the official release binary from a PyPI package, pinned and
# checksum-checked): helm lint --strict and helm template with the default values and
# with every charts/fieldseal/ci/*.yaml values file, with no extra flags, as a user
# would run them. Rendered output goes under .cache/ (kept and printed when something
# fails). Then runs the chart's Go tests, which decode every rendered manifest strictly
# into k8s.io/api types.
#
# Usage: .ci/helm.sh [--no-go-test]   (from anywhere inside the repository)
#        --no-go-test: lint and render only (`make test` runs the Go tests itself)
# Env:   KEEP_RENDERED=1 keep the rendered manifests directory
#        FIELDSEAL_E2E=1 also install etcd (Debian etcd-server) and kube-apiserver (built
#          from .ci/kube-apiserver, the release matching k8s.io/api in go.mod) into the
#          tool cache and run the injector behind that real API server
set -euo pipefail

go_test=1
if [[ "${1:-}" == --no-go-test ]]; then
	go_test=0
fi

root="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
cd "$root"
chart="charts/fieldseal"

. .ci/tools.sh
if [[ "${FIELDSEAL_E2E:-}" == 1 ]]; then
	tools_install helm etcd kube-apiserver
	export ETCD="$TOOLS_BIN/etcd" KUBE_APISERVER="$TOOLS_BIN/kube-apiserver"
else
	tools_install helm
fi
echo "helm.sh: using $(command -v helm) ($(helm version --short))"

mkdir -p "$FIELDSEAL_CACHE"
out="$(mktemp -d "$FIELDSEAL_CACHE/helm-rendered.XXXXXX")"
failed=0
cleanup() {
	if [[ "$failed" != 0 || "${KEEP_RENDERED:-}" == 1 ]]; then
		echo "helm.sh: rendered manifests kept in $out"
	else
		rm -rf "$out"
	fi
}
trap cleanup EXIT

run() { # run NAME CMD...: run a step, record failure, keep going
	local name="$1"
	shift
	echo "helm.sh: $name"
	if ! "$@"; then
		echo "helm.sh: FAILED: $name" >&2
		failed=1
	fi
}

run "lint (default values)" helm lint --strict "$chart"
run "template (default values)" sh -c "helm template fieldseal '$chart' --namespace fieldseal-system > '$out/default.yaml'"
for values in "$chart"/ci/*.yaml; do
	name="$(basename "$values" .yaml)"
	run "lint ($name)" helm lint --strict "$chart" -f "$values"
	run "template ($name)" sh -c "helm template fieldseal '$chart' --namespace fieldseal-system -f '$values' > '$out/$name.yaml'"
done

if [[ "$go_test" == 1 ]]; then
	# The chart's Go tests render again and decode every object strictly (and, with
	# FIELDSEAL_E2E=1, send them to a real API server); CI=true makes them fail
	# instead of skipping if helm were missing.
	run "go test ./charts/..." env CI=true go test -count=1 ./charts/...
	if [[ "${FIELDSEAL_E2E:-}" == 1 ]]; then
		run "injector behind a real kube-apiserver" go test -count=1 -run TestInjectorBehindRealAPIServer ./inject/
	fi
fi

if [[ "$failed" != 0 ]]; then
	echo "helm.sh: chart checks failed" >&2
	exit 1
fi
echo "helm.sh: chart OK ($(ls "$out" | wc -l) renderings)"
