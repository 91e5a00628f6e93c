#!/usr/bin/env bash
# Installs (once, into the repository's .cache/ via .ci/tools.sh) and starts the AWS
# API emulators the crypto/awskeys tests use:
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

MOTO_PORT="${MOTO_PORT:-5001}"
LOCALKMS_PORT="${LOCALKMS_PORT:-5002}"
REGION="${FIELDSEAL_TEST_REGION:-us-east-1}"
ACCOUNT_ID="123456789012"

log() { printf 'aws-emulators: %s\n' "$*" >&2; }

# answers URL: true when something at URL speaks HTTP (any status).
answers() {
	curl -s -o /dev/null --max-time 2 "$1"
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

# moto (PyPI, in .cache/venv) and local-kms (Go module proxy) in the repository's
# tool cache, pinned in .ci/tools.sh; installed once, reused afterwards.
. "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
tools_install moto local-kms

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
	nohup "$TOOLS_BIN/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$LOGDIR/moto.log" 2>&1 </dev/null &
	moto_pid=$!
	echo "$moto_pid" >"$STATE/moto.pid"
	wait_for moto "$MOTO_URL/moto-api/" "$moto_pid"
	log "moto on $MOTO_URL (pid $moto_pid, log $LOGDIR/moto.log)"
fi
if [[ -z "$localkms_pid" ]]; then
	[[ "$LOGDIR" != "$STATE" ]] || LOGDIR="$(mktemp -d "${TMPDIR:-/tmp}/fieldseal-emulators.XXXXXX")"
	mkdir -p "$LOGDIR/local-kms-data"
	# local-kms listens on all interfaces (it binds ":PORT"; it has no host setting).
	# KMS_SEED_PATH points at a file that does not exist: no seeded keys, tests make their own.
	PORT="$LOCALKMS_PORT" KMS_REGION="$REGION" KMS_ACCOUNT_ID="$ACCOUNT_ID" \
		KMS_DATA_PATH="$LOGDIR/local-kms-data" KMS_SEED_PATH="$LOGDIR/no-seed.yaml" \
		nohup "$TOOLS_BIN/local-kms" >"$LOGDIR/local-kms.log" 2>&1 </dev/null &
	localkms_pid=$!
	echo "$localkms_pid" >"$STATE/local-kms.pid"
	wait_for local-kms "$LOCALKMS_URL/" "$localkms_pid"
	log "local-kms on $LOCALKMS_URL (pid $localkms_pid, log $LOGDIR/local-kms.log)"
fi

# The outage tests start their own moto_server from PATH.
printf 'export PATH=%q:"$PATH"\n' "$TOOLS_BIN"
cat <<OUT
export FIELDSEAL_TEST_MOTO_URL=$MOTO_URL
export FIELDSEAL_TEST_LOCALKMS_URL=$LOCALKMS_URL
export FIELDSEAL_TEST_REGION=$REGION
export FIELDSEAL_TEST_MOTO_PID=$moto_pid
export FIELDSEAL_TEST_LOCALKMS_PID=$localkms_pid
OUT
