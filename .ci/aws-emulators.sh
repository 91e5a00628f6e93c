#!/usr/bin/env bash
# Installs (idempotently) and starts the AWS API emulators the crypto/awskeys tests use:
#   moto_server (KMS + Secrets Manager, also Cognito) on 127.0.0.1:5001
#   local-kms   (a second, independent KMS)           on 127.0.0.1:5002
# and prints shell `export` lines for the caller:
#   eval "$(bash .ci/aws-emulators.sh)"
#   go test ./crypto/awskeys/...
#   kill "$FIELDSEAL_TEST_MOTO_PID" "$FIELDSEAL_TEST_LOCALKMS_PID"
# Only the export lines go to stdout; progress goes to stderr. Running it again while
# both emulators answer reuses them (it prints the same exports without starting more).
# Ports can be changed with MOTO_PORT / LOCALKMS_PORT.
set -euo pipefail

MOTO_VERSION="5.2.1"
LOCALKMS_MODULE="github.com/nsmithuk/local-kms"
# local-kms has no semver tags; this pseudo-version is the 2026-02-28 head, which
# builds with Go 1.26.
LOCALKMS_VERSION="v0.0.0-20260228092603-2a5e92d09ab6"
MOTO_PORT="${MOTO_PORT:-5001}"
LOCALKMS_PORT="${LOCALKMS_PORT:-5002}"
REGION="${FIELDSEAL_TEST_REGION:-us-east-1}"
ACCOUNT_ID="123456789012"

log() { printf 'aws-emulators: %s\n' "$*" >&2; }

# answers URL: true when something at URL speaks HTTP (any status).
answers() {
	curl -s -o /dev/null --max-time 2 "$1"
}

# moto_version PYTHON: the moto version installed for that interpreter, or "".
moto_version() {
	{ "$1" -m pip show moto 2>/dev/null || true; } | awk '/^Version:/{print $2}'
}

# install_moto installs moto[server] for python3 (a pyenv or virtualenv python), or,
# where the system python refuses (PEP 668 "externally managed"), into a virtualenv
# of our own whose bin directory is then put first on PATH and exported.
MOTO_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/fieldseal/moto-venv"
EXTRA_PATH=""
install_moto() {
	if [[ -x "$MOTO_VENV/bin/moto_server" && "$(moto_version "$MOTO_VENV/bin/python")" == "$MOTO_VERSION" ]]; then
		EXTRA_PATH="$MOTO_VENV/bin"
		export PATH="$EXTRA_PATH:$PATH"
		log "moto $MOTO_VERSION already installed in $MOTO_VENV"
		return
	fi
	local have
	have="$(moto_version python3)"
	if [[ "$have" == "$MOTO_VERSION" ]] && command -v moto_server >/dev/null 2>&1; then
		log "moto $MOTO_VERSION already installed"
		return
	fi
	log "installing moto[server]==$MOTO_VERSION (had: ${have:-none})"
	if ! python3 -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2; then
		log "pip refused to install into python3; using a virtualenv in $MOTO_VENV"
		python3 -m venv "$MOTO_VENV" >&2
		"$MOTO_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
		EXTRA_PATH="$MOTO_VENV/bin"
		export PATH="$EXTRA_PATH:$PATH"
	fi
	hash -r
	# pyenv installs console scripts behind shims that need a rehash.
	if command -v pyenv >/dev/null 2>&1; then pyenv rehash >&2 || true; fi
	command -v moto_server >/dev/null 2>&1 || { log "moto_server not on PATH after install"; exit 1; }
}

localkms_bin() {
	printf '%s/local-kms' "$(go env GOPATH)/bin"
}

install_localkms() {
	local bin stamp
	bin="$(localkms_bin)"
	stamp="$bin.version"
	if [[ -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$LOCALKMS_VERSION" ]]; then
		log "local-kms $LOCALKMS_VERSION already installed"
		return
	fi
	log "installing $LOCALKMS_MODULE@$LOCALKMS_VERSION"
	# Install outside any module so the project's go.mod is not touched.
	(cd / && GOFLAGS=-buildvcs=false go install "$LOCALKMS_MODULE@$LOCALKMS_VERSION") >&2
	printf '%s\n' "$LOCALKMS_VERSION" >"$stamp"
}

# wait_for NAME URL PID: waits at most 60 s for URL to answer while PID is alive.
wait_for() {
	local name="$1" url="$2" pid="$3" i
	for ((i = 0; i < 120; i++)); do
		if answers "$url"; then return 0; fi
		if ! kill -0 "$pid" 2>/dev/null; then
			log "$name exited during start-up; its log:"
			cat "$LOGDIR/$name.log" >&2 || true
			exit 1
		fi
		sleep 0.5
	done
	log "$name did not answer at $url within 60s; its log:"
	cat "$LOGDIR/$name.log" >&2 || true
	exit 1
}

command -v curl >/dev/null 2>&1 || { log "curl is required"; exit 1; }
command -v python3 >/dev/null 2>&1 || { log "python3 is required"; exit 1; }
command -v go >/dev/null 2>&1 || { log "go is required"; exit 1; }

install_moto
install_localkms

MOTO_URL="http://127.0.0.1:$MOTO_PORT"
LOCALKMS_URL="http://127.0.0.1:$LOCALKMS_PORT"
STATE="${TMPDIR:-/tmp}/fieldseal-aws-emulators"
mkdir -p "$STATE"
LOGDIR="$STATE"

moto_pid="" localkms_pid=""
# Reuse emulators this script started earlier if they still answer.
if [[ -f "$STATE/moto.pid" ]] && kill -0 "$(cat "$STATE/moto.pid")" 2>/dev/null && answers "$MOTO_URL"; then
	moto_pid="$(cat "$STATE/moto.pid")"
	log "moto already running (pid $moto_pid)"
elif answers "$MOTO_URL"; then
	log "port $MOTO_PORT is taken by something this script did not start"; exit 1
fi
if [[ -f "$STATE/local-kms.pid" ]] && kill -0 "$(cat "$STATE/local-kms.pid")" 2>/dev/null && answers "$LOCALKMS_URL"; then
	localkms_pid="$(cat "$STATE/local-kms.pid")"
	log "local-kms already running (pid $localkms_pid)"
elif answers "$LOCALKMS_URL"; then
	log "port $LOCALKMS_PORT is taken by something this script did not start"; exit 1
fi

if [[ -z "$moto_pid" ]]; then
	LOGDIR="$(mktemp -d "${TMPDIR:-/tmp}/fieldseal-emulators.XXXXXX")"
	nohup moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$LOGDIR/moto.log" 2>&1 </dev/null &
	moto_pid=$!
	echo "$moto_pid" >"$STATE/moto.pid"
	wait_for moto "$MOTO_URL/moto-api/" "$moto_pid"
	log "moto $MOTO_VERSION on $MOTO_URL (pid $moto_pid, log $LOGDIR/moto.log)"
fi
if [[ -z "$localkms_pid" ]]; then
	[[ "$LOGDIR" != "$STATE" ]] || LOGDIR="$(mktemp -d "${TMPDIR:-/tmp}/fieldseal-emulators.XXXXXX")"
	mkdir -p "$LOGDIR/local-kms-data"
	# local-kms listens on all interfaces (it binds ":PORT"; it has no host setting).
	# KMS_SEED_PATH points at a file that does not exist: no seeded keys, tests make their own.
	PORT="$LOCALKMS_PORT" KMS_REGION="$REGION" KMS_ACCOUNT_ID="$ACCOUNT_ID" \
		KMS_DATA_PATH="$LOGDIR/local-kms-data" KMS_SEED_PATH="$LOGDIR/no-seed.yaml" \
		nohup "$(localkms_bin)" >"$LOGDIR/local-kms.log" 2>&1 </dev/null &
	localkms_pid=$!
	echo "$localkms_pid" >"$STATE/local-kms.pid"
	wait_for local-kms "$LOCALKMS_URL/" "$localkms_pid"
	log "local-kms on $LOCALKMS_URL (pid $localkms_pid, log $LOGDIR/local-kms.log)"
fi

if [[ -n "$EXTRA_PATH" ]]; then
	# The outage tests start their own moto_server from PATH.
	printf 'export PATH=%q:"$PATH"\n' "$EXTRA_PATH"
fi
cat <<OUT
export FIELDSEAL_TEST_MOTO_URL=$MOTO_URL
export FIELDSEAL_TEST_LOCALKMS_URL=$LOCALKMS_URL
export FIELDSEAL_TEST_REGION=$REGION
export FIELDSEAL_TEST_MOTO_PID=$moto_pid
export FIELDSEAL_TEST_LOCALKMS_PID=$localkms_pid
OUT
