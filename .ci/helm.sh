#!/usr/bin/env bash
# Install helm from the Go module proxy (pinned) and check the chart:
#   helm lint (strict) and helm template with the default values and with every
#   charts/fieldseal/ci/*.yaml values file; rendered output goes to a temp dir
#   (kept and printed when something fails). Then runs the chart's Go tests,
#   which decode every rendered manifest strictly into k8s.io/api types.
#
# Usage: .ci/helm.sh            (from anywhere inside the repository)
# Env:   HELM_VERSION  override the pinned helm v3 version
#        KEEP_RENDERED=1 keep the rendered manifests directory
#        FIELDSEAL_E2E=1 also run the injector behind a real kube-apiserver + etcd:
#          etcd from Debian (etcd-server), kube-apiserver built from the Go module
#          proxy (k8s.io/kubernetes, ~4 min on 2 cores, cached in GOPATH/bin)
set -euo pipefail

# v3.22.0 is the newest v3 release on proxy.golang.org that builds with Go 1.26
# (checked 2026-11: `go install helm.sh/helm/v3/cmd/helm@v3.22.0`).
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
# helm built by `go install` has no stamped Kubernetes version and assumes v1.20;
# the chart requires >= 1.25, so render for a current release.
KUBE_VERSION="${KUBE_VERSION:-1.31.0}"

root="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
cd "$root"
chart="charts/fieldseal"

gobin="$(go env GOPATH)/bin"
export PATH="$gobin:$PATH"
if ! helm version --short 2>/dev/null | grep -q "^v3\."; then
	echo "helm.sh: installing helm ${HELM_VERSION} from the Go module proxy into ${gobin}"
	GOFLAGS=-buildvcs=false go install "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
fi
echo "helm.sh: using $(command -v helm) ($(helm version --short 2>/dev/null || echo unknown))"

out="$(mktemp -d "${TMPDIR:-/tmp}/fieldseal-helm.XXXXXX")"
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
run "template (default values)" sh -c "helm template fieldseal '$chart' --namespace fieldseal-system --kube-version '$KUBE_VERSION' > '$out/default.yaml'"
for values in "$chart"/ci/*.yaml; do
	name="$(basename "$values" .yaml)"
	run "lint ($name)" helm lint --strict "$chart" -f "$values"
	run "template ($name)" sh -c "helm template fieldseal '$chart' --namespace fieldseal-system --kube-version '$KUBE_VERSION' -f '$values' > '$out/$name.yaml'"
done
# Optional end-to-end run of the webhook behind a real API server.
KUBE_VERSION_E2E="${KUBE_VERSION_E2E:-v1.37.2}" # matches k8s.io/api v0.37.2 in go.mod
build_kube_apiserver() {
	local mod
	mod="$(mktemp -d "${TMPDIR:-/tmp}/kube-apiserver-build.XXXXXX")"
	(
		cd "$mod"
		go mod download "k8s.io/kubernetes@${KUBE_VERSION_E2E}"
		local gomod
		gomod="$(go mod download -json "k8s.io/kubernetes@${KUBE_VERSION_E2E}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
		# k8s.io/kubernetes replaces its staging modules with ./staging paths that
		# are not in its module zip; point them at the published v0 versions.
		local v0="v0.${KUBE_VERSION_E2E#v1.}"
		{
			printf 'module kubeapiserverbuild\n\ngo 1.26\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$KUBE_VERSION_E2E"
			grep -E '^\s*k8s.io/[a-z0-9-]+ => ./staging' "$gomod" | awk -v v="$v0" '{print "\t" $1 " => " $1 " " v}'
			printf ')\n'
		} > go.mod
		printf 'package main\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver/app"\n\nfunc main() {}\n' > main.go
		go mod tidy
		CGO_ENABLED=0 go build -o "$gobin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
	)
	local rc=$?
	rm -rf "$mod"
	return $rc
}
if [[ "${FIELDSEAL_E2E:-}" == 1 ]]; then
	if ! command -v etcd >/dev/null; then
		run "install etcd (etcd-server)" sh -c "apt-get update -qq >/dev/null && apt-get install -y -qq etcd-server >/dev/null"
	fi
	if [[ ! -x "$gobin/kube-apiserver" ]] && ! command -v kube-apiserver >/dev/null; then
		run "build kube-apiserver ${KUBE_VERSION_E2E} from the module proxy" build_kube_apiserver
	fi
fi

# The chart's Go tests render again and decode every object strictly (and, with
# FIELDSEAL_E2E=1, send them to a real API server); CI=true makes them fail
# instead of skipping if helm were missing.
run "go test ./charts/..." env CI=true go test -count=1 ./charts/...
if [[ "${FIELDSEAL_E2E:-}" == 1 ]]; then
	run "injector behind a real kube-apiserver" go test -count=1 -run TestInjectorBehindRealAPIServer ./inject/
fi

if [[ "$failed" != 0 ]]; then
	echo "helm.sh: chart checks failed" >&2
	exit 1
fi
echo "helm.sh: chart OK ($(ls "$out" | wc -l) renderings)"
