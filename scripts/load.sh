#!/usr/bin/env bash
# make load: starts dynalite (DynamoDB, whose conditional writes are atomic, unlike moto's) on
# a free loopback port, creates the table, runs examples/load.rs against it twice: first at
# full concurrency with the archive in a local directory and the queue and bus in memory,
# then the deployed path (S3 archive, SQS queue, EventBridge notifications, all on moto) at
# the concurrency moto can serve; prints their figures and stops everything.
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
echo "load: dynalite on $DYNAMO_PORT; sending (archive on disk, queue and bus in memory)"
# LOAD_PHASES=deployed skips the first run.
if [[ " ${LOAD_PHASES:-memory deployed} " == *" memory "* ]]; then
  timeout 1200 cargo run --quiet --locked --example load
fi
[[ " ${LOAD_PHASES:-memory deployed} " == *" deployed "* ]] || exit 0

# The deployed path: the ingest archives to S3 and queues on SQS, the processor reads the
# queue as Lambda's event source does and tells EventBridge, whose rule sends every
# notification to an SQS queue the example drains (moto serves S3, SQS and EventBridge;
# DynamoDB stays on dynalite). Fewer senders and deliveries: moto answers slowly under 32.
MOTO_PORT=$(free_port)
"$VENV/bin/python" scripts/moto_server.py "$MOTO_PORT" >"$LOAD_DIR/moto.log" 2>&1 &
wait_for "$MOTO_PORT"
MOTO="http://127.0.0.1:$MOTO_PORT"
export AWS_ENDPOINT_URL_S3=$MOTO AWS_ENDPOINT_URL_SQS=$MOTO AWS_ENDPOINT_URL_EVENTBRIDGE=$MOTO
eval "$("$VENV/bin/python" - <<PY
import json, boto3
ddb = boto3.client("dynamodb", endpoint_url="$AWS_ENDPOINT_URL_DYNAMODB")
ddb.create_table(TableName="scribehook-load-deployed", BillingMode="PAY_PER_REQUEST",
    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
boto3.client("s3", endpoint_url="$MOTO").create_bucket(Bucket="scribehook-load-archive")
sqs = boto3.client("sqs", endpoint_url="$MOTO")
queue = sqs.create_queue(QueueName="scribehook-load-deliveries", Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
told = sqs.create_queue(QueueName="scribehook-load-notifications")["QueueUrl"]
told_arn = sqs.get_queue_attributes(QueueUrl=told, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
events = boto3.client("events", endpoint_url="$MOTO")
events.create_event_bus(Name="scribehook-load")
events.put_rule(Name="every-record", EventBusName="scribehook-load", EventPattern=json.dumps({"source": ["scribehook"]}))
events.put_targets(Rule="every-record", EventBusName="scribehook-load", Targets=[{"Id": "sqs", "Arn": told_arn}])
print(f"export QUEUE_URL={queue} LOAD_NOTIFY_QUEUE_URL={told}")
PY
)"
export LOAD_TABLE=scribehook-load-deployed STORE=dynamodb://scribehook-load-deployed
export ARCHIVE=s3://scribehook-load-archive LOAD_ARCHIVE_BUCKET=scribehook-load-archive NOTIFY_BUS=scribehook-load
echo "load: the deployed path: moto on $MOTO_PORT (S3, SQS, EventBridge), dynalite on $DYNAMO_PORT; sending"
timeout 1200 cargo run --quiet --locked --example load
