#!/usr/bin/env bash
# make load: starts dynalite (DynamoDB, whose conditional writes are atomic, unlike moto's) on
# a free loopback port, creates the table, runs examples/load.rs against it (the real ingest
# and processor handlers; the archive in a local directory, the queue in memory: moto's S3 and
# SQS could not serve 32 concurrent senders, see examples/load.rs), prints its figures and
# stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
LOAD_DIR=.load
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

free_port() { "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 1 100); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "load: nothing listens on $1" >&2; exit 1; }

if [ ! -x "$LOAD_DIR/node_modules/.bin/dynalite" ]; then
  echo "load: installing dynalite (npm) into $LOAD_DIR"
  mkdir -p "$LOAD_DIR"
  npm install --prefix "$LOAD_DIR" --no-audit --no-fund --loglevel=error dynalite@4 >/dev/null
fi

# The provider list (and its test secrets) comes from the scribehook binary.
echo "load: building scribehook and the load example (if needed)"
cargo build --quiet --locked --bin scribehook --example load

DYNAMO_PORT=$(free_port)
node "$LOAD_DIR/node_modules/dynalite/cli.js" --port "$DYNAMO_PORT" >"$LOAD_DIR/dynalite.log" 2>&1 &
wait_for "$DYNAMO_PORT"

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMO_PORT"
"$VENV/bin/python" - <<PY
import boto3
ddb = boto3.client("dynamodb", endpoint_url="$AWS_ENDPOINT_URL_DYNAMODB")
ddb.create_table(TableName="scribehook-load", BillingMode="PAY_PER_REQUEST",
    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
PY
rm -rf "$LOAD_DIR/archive"
export LOAD_TABLE=scribehook-load ARCHIVE="file://$PWD/$LOAD_DIR/archive" STORE=dynamodb://scribehook-load
# The test secrets of every provider the code lists (events/README.md): the example signs
# each provider's deliveries with them.
eval "$("$VENV/bin/python" scripts/providers.py "${CARGO_TARGET_DIR:-target}/debug/scribehook" env)"
export RUST_LOG=${RUST_LOG:-error}
echo "load: dynalite on $DYNAMO_PORT; sending"
timeout 1200 cargo run --quiet --locked --example load
