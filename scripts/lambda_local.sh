#!/usr/bin/env bash
# make invoke: both Lambda handlers under cargo-lambda's emulator of the Lambda runtime, the
# docs/local.md "local Lambda" path end to end and unattended:
#   1. re-signs every sample into data/lambda/events (git ignores data/; events/ stays as
#      committed), because a signature is only valid for SIGNATURE_TOLERANCE_SECONDS (300 s);
#   2. starts `cargo lambda watch` in the background, with the test secrets and local
#      ARCHIVE/STORE in *its* environment (the functions it runs inherit them);
#   3. invokes the ingest function with every HTTP API (v2) sample, then the processor with
#      each provider's SQS sample (the processor reads the deliveries the ingest archived);
#   4. stops the emulator, and exits non-zero if any answer was not the expected one.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET_DIR="${CARGO_TARGET_DIR:-target}"
PY=.venv/bin/python              # from `make setup`, with cargo-lambda beside it
export PATH="$PWD/.venv/bin:$PATH"
DATA="$PWD/data/lambda"
EVENTS="$DATA/events"
rm -rf "$DATA"
mkdir -p "$DATA"

echo "== Building the binaries (cargo shows its progress; the first build takes minutes)"
cargo build --bins

echo "== Re-signing the samples into ${EVENTS#"$PWD"/} (valid for 300 s)"
"$PY" scripts/make_events.py "$TARGET_DIR/debug/scribehook" --out "$EVENTS"

# The environment of `cargo lambda watch` is the functions' environment: the test secrets
# the samples are signed with (events/README.md), for every provider the code lists, local
# directories for ARCHIVE and STORE, no QUEUE_URL (the ingest processes each delivery
# before answering).
eval "$("$PY" scripts/providers.py "$TARGET_DIR/debug/scribehook" env)"
export ARCHIVE="file://$DATA/store" STORE="file://$DATA/store"
unset QUEUE_URL PROVIDERS AWS_LAMBDA_FUNCTION_NAME ALLOWED_OUTPUT_BUCKETS AWS_ENDPOINT_URL
export AWS_REGION="${AWS_REGION:-us-east-1}"

PORT="${LAMBDA_PORT:-$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
echo "== Starting cargo lambda watch on port $PORT (its log: ${DATA#"$PWD"/}/watch.log)"
# Its own process group (setsid), so stopping it also stops the cargo and function
# processes it started, and nothing else.
setsid cargo lambda watch --invoke-port "$PORT" >"$DATA/watch.log" 2>&1 &
WATCH=$!
stop_watch() {
  kill -TERM -- "-$WATCH" 2>/dev/null || true
  wait "$WATCH" 2>/dev/null || true
}
trap stop_watch EXIT
for _ in $(seq 300); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  kill -0 "$WATCH" 2>/dev/null || { cat "$DATA/watch.log" >&2; echo "cargo lambda watch stopped" >&2; exit 1; }
  sleep 0.1
done

FAILED=0
# invoke FUNCTION FILE: prints a one-line summary of the answer; counts unexpected ones.
invoke() {
  local function=$1 file=$2 answer
  if ! answer=$(cargo lambda invoke "$function" --invoke-port "$PORT" --data-file "$file" 2>&1); then
    printf '  %-9s %-55s FAILED: %s\n' "$function" "${file#"$EVENTS"/}" "$answer"
    FAILED=$((FAILED + 1))
    return
  fi
  "$PY" - "$function" "${file#"$EVENTS"/}" "$answer" <<'PYEOF' || FAILED=$((FAILED + 1))
import json, sys
function, name, answer = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
if function == "ingest":
    status, body = answer["statusCode"], json.loads(answer["body"])
    summary = f'{status} {body.get("status") or body.get("error", {}).get("code")} {body.get("event_id", "")}'
    ok = 200 <= status < 300
else:
    failures = answer.get("batchItemFailures", [])
    summary = f"{len(failures)} batch item failures" + (f": {failures}" if failures else "")
    ok = not failures
print(f"  {function:<9} {name:<55} {summary}")
sys.exit(0 if ok else 1)
PYEOF
}

echo "== cargo lambda invoke ingest --data-file <each HTTP API v2 sample>"
echo "   (the first invocation compiles and starts the function)"
for file in "$EVENTS"/apigw-v2/*/*.json; do invoke ingest "$file"; done
echo "== cargo lambda invoke processor --data-file <each provider's SQS sample>"
for file in "$EVENTS"/sqs/*.json; do invoke processor "$file"; done

echo
echo "Archive and records: ${DATA#"$PWD"/}/store; to read the records:"
echo "  $TARGET_DIR/debug/scribehook records --store file://$DATA/store"
echo "Bota's rec_xyz789 shows as deleted, its content purged: its samples include recording.deleted,"
echo "and a deletion purges the subject's content while PURGE_ON_DELETE is true (the default)."
if ((FAILED)); then
  echo "$FAILED invocation(s) did not answer as expected; the emulator's log: ${DATA#"$PWD"/}/watch.log" >&2
  exit 1
fi
