#!/usr/bin/env bash
# make demo: the product's main job on a laptop, no AWS account needed. Builds, serves the
# real ingest handler locally (ARCHIVE and STORE on local files, deliveries queued on a local
# SQS), sends every signed sample delivery of every provider `scribehook providers` lists
# with `scribehook send` (plus a duplicate, an out-of-order timeline, Nabla Connect's exports
# of one encounter and deliveries that must be refused), drains the queue through the real
# processor handler, then prints the merged records and what was rejected and why.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Building scribehook (cargo shows its progress: the first build compiles about 270"
echo "   crates, about 6 minutes on 2 cores; later runs take seconds)"
cargo build --bins
BIN="${CARGO_TARGET_DIR:-target}/debug/scribehook"
PY=.venv/bin/python  # from `make setup`: moto plays S3 for Daily's batch-processor outputs
DATA="$PWD/data/demo"
rm -rf "$DATA"
mkdir -p "$DATA"

# The test secrets the samples are signed with (events/README.md), for every provider the
# code lists. ARCHIVE and STORE are local directories; a local S3 and SQS (moto) stand in
# for Daily's output bucket and for the delivery queue, so both Lambda handlers run as
# deployed: the ingest queues, then `scribehook drain` feeds the queue to the processor
# handler as SQS events.
eval "$("$PY" scripts/providers.py "$BIN" env)"
mapfile -t PROVIDER_NAMES < <("$PY" scripts/providers.py "$BIN" names)
export ARCHIVE="file://$DATA" STORE="file://$DATA"
unset QUEUE_URL AWS_LAMBDA_FUNCTION_NAME PROVIDERS
export RUST_LOG="${RUST_LOG:-warn}"
# Record notifications (docs/behaviour.md#record-notifications-eventbridge): what EventBridge
# would carry, as JSON lines; shown at the end.
export NOTIFY="file://$DATA/notifications"

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT

# A local S3 holding the outputs of one Daily batch-processor job (events/outputs/), and
# the delivery queue.
echo "== Starting a local S3 and SQS (moto) and the ingest handler"
S3_PORT=$(free_port)
"$PY" -m moto.server -H 127.0.0.1 -p "$S3_PORT" >"$DATA/moto.log" 2>&1 &
PIDS+=($!)
export AWS_ENDPOINT_URL="http://127.0.0.1:$S3_PORT" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo
unset AWS_PROFILE AWS_SESSION_TOKEN
export ALLOWED_OUTPUT_BUCKETS=scribehook-demo-outputs
wait_port "$S3_PORT"
JOB=2e7f0c1d-4b5a-4c3e-9d8f-7a6b5c4d3e2f
QUEUE_URL=$("$PY" - "$JOB" "$DATA" <<'PYEOF'
import json, sys, pathlib, boto3
job, data = sys.argv[1], pathlib.Path(sys.argv[2])
print(boto3.client("sqs").create_queue(QueueName="scribehook-deliveries")["QueueUrl"])
s3 = boto3.client("s3")
bucket = "scribehook-demo-outputs"
s3.create_bucket(Bucket=bucket)
outputs = pathlib.Path("events/outputs")
keys = {"soap.json": f"clinic/{job}/soap/soap.json", "concepts.json": f"clinic/{job}/concepts/concepts.json",
        "summary.txt": f"clinic/{job}/summary/summary", "transcript.json": f"clinic/{job}/transcript/transcript.json",
        "transcript.vtt": f"clinic/{job}/transcript/transcript.vtt", "transcript.srt": f"clinic/{job}/transcript/transcript.srt",
        "transcript.txt": f"clinic/{job}/transcript/transcript.txt"}
for name, key in keys.items():
    s3.put_object(Bucket=bucket, Key=key, Body=(outputs / name).read_bytes())
# Daily's transcript.ready-to-download sample points at a WebVTT in this bucket too.
s3.put_object(Bucket=bucket, Key="clinic/0c9a8b7c-1d2e-4f30-9a1b-2c3d4e5f6a7b.vtt", Body=(outputs / "transcript.vtt").read_bytes())
event = json.loads(pathlib.Path("events/payloads/daily/batch-processor.job-finished.json").read_text())
event["id"] = f"bp-jf-{job}"
event["payload"]["id"] = job
loc = lambda key, fmt: {"format": fmt, "s3Config": {"bucket": bucket, "key": key, "region": "us-east-1"}}
event["payload"]["output"] = {
    "soap": loc(keys["soap.json"], "JSON"), "concept": loc(keys["concepts.json"], "JSON"),
    "summary": loc(keys["summary.txt"], "txt"),
    "transcription": [loc(keys[f"transcript.{f}"], f) for f in ("json", "srt", "txt", "vtt")]}
(data / "job-finished-own-bucket.json").write_text(json.dumps(event))
PYEOF
)
export QUEUE_URL

# Daily's REST API, played by a loopback stand-in (scripts/daily_api_standin.py). The sample
# batch job's outputs sit in Daily's own bucket, which is not in ALLOWED_OUTPUT_BUCKETS: the
# processor asks GET /batch-processor/<job>/access-link with the key as a Bearer token and
# follows the links it answers with (without the key), as docs/behaviour.md#daily-outputs says.
echo "== Starting a stand-in for Daily's REST API (access links to outputs in Daily's storage)"
API_PORT=$(free_port)
export DAILY_API_KEY="scribehook-demo-daily-api-key" DAILY_API_URL="http://127.0.0.1:$API_PORT/v1"
unset DAILY_API_KEY_ARN
"$PY" scripts/daily_api_standin.py --port "$API_PORT" --key "$DAILY_API_KEY" \
  --outputs events/outputs --log "$DATA/daily-api.log" 2>>"$DATA/daily-api.log" &
PIDS+=($!)
wait_port "$API_PORT"

PORT="${DEMO_PORT:-$(free_port)}"
URL="http://127.0.0.1:$PORT/webhooks"
"$BIN" serve --addr "127.0.0.1:$PORT" 2>"$DATA/server.log" &
PIDS+=($!)
wait_port "$PORT"

REJECTED=()
# send LABEL PROVIDER FILE [scribehook send options…]
send() {
  local label=$1 provider=$2 file=$3
  shift 3
  local out status body
  out=$("$BIN" send --provider "$provider" --url "$URL/$provider" "$@" <"$file" 2>/dev/null) || true
  status=$(head -n1 <<<"$out")
  body=$(tail -n +2 <<<"$out")
  printf '  %-13s %-44s %s %s\n' "$provider" "$label" "${status:-???}" "$body"
  if [[ "$status" != 2* ]]; then REJECTED+=("$provider $label → $status $body"); fi
}
p() { echo "events/payloads/$1/$2.json"; }

# What a sample needs besides its body, one option per line: Prosa sends the event type and
# a delivery UUID in headers, derived from the sample's name as scripts/make_events.py does.
sample_options() {
  case $1 in
    prosa)
      printf '%s\n' --event-type "${2%.envelope}" --event-id \
        "$("$PY" -c "import uuid,sys; print(uuid.uuid5(uuid.NAMESPACE_URL, 'scribehook:prosa:' + sys.argv[1]))" "$2")"
      ;;
  esac
}
# Providers whose samples tell a story of their own below; every other provider's samples,
# a new provider's included, are sent as they are.
STORIES=" bota nabla-connect "

echo "== Sending every sample delivery to $URL/<provider>"
for provider in "${PROVIDER_NAMES[@]}"; do
  [[ $STORIES == *" $provider "* ]] && continue
  for f in events/payloads/"$provider"/*.json; do
    name=$(basename "$f" .json)
    mapfile -t options < <(sample_options "$provider" "$name")
    send "$name" "$provider" "$f" "${options[@]}"
  done
done
send "job-finished, outputs in an allowed bucket" daily "$DATA/job-finished-own-bucket.json"

echo "== Nabla Connect: the clinician exports a first draft of the note, then the full note"
echo "   (transcript, visit diagnoses), then the patient instructions, all of one encounter;"
echo "   each answer echoes request_uuid, which Nabla expects. The later export wins the note."
send "NOTE_EXPORT, a first draft (5 s earlier)" nabla-connect "$(p nabla-connect NOTE_EXPORT.note-only)" \
  --timestamp "$(($(date +%s) - 5))"
send "NOTE_EXPORT, with transcript and diagnoses" nabla-connect "$(p nabla-connect NOTE_EXPORT)"
send "PATIENT_INSTRUCTIONS_EXPORT" nabla-connect "$(p nabla-connect PATIENT_INSTRUCTIONS_EXPORT)"

echo "== Bota's timeline, out of order (summary first, recording.created last)"
for name in summary.completed transcription.completed recording.uploaded transcription.started summary.started recording.created; do
  send "$name" bota "$(p bota "$name")"
done
echo "== Bota's failures (another recording), device events, and a third recording transcribed,"
echo "   summarized, then deleted (PURGE_ON_DELETE, the default: its content ends)"
for name in transcription.failed summary.failed; do
  sed 's/rec_xyz789/rec_failed01/' "$(p bota "$name")" >"$DATA/$name.json"
  send "$name" bota "$DATA/$name.json"
done
for name in device.low_battery device.offline; do send "$name" bota "$(p bota "$name")"; done
# The third recording's own event ids (the samples' ids with a 0 for a 1 in the last digit).
# Its words differ from rec_xyz789's, so what is left of it can be searched for.
third() {
  sed 's/rec_xyz789/rec_deleted01/; s/"\(evt_[a-z]*[0-9]*\)\([0-9]\)"/"\1\20"/;
       s/coming in today/coming back today/g; s/seasonal allergies/ragweed allergies/' "$(p bota "$1")" >"$DATA/$1.json"
}
for name in recording.created transcription.completed summary.completed recording.deleted; do
  third "$name"
  send "$name" bota "$DATA/$name.json"
done

echo "== A retry of an accepted delivery, and Daily's endpoint check"
send "transcription.completed (again)" bota "$(p bota transcription.completed)"
echo '{"test":"test"}' >"$DATA/endpoint-check.json"
send "endpoint check {\"test\":\"test\"}" daily "$DATA/endpoint-check.json"

echo "== Deliveries that must be refused"
send "signed with the wrong secret" bota "$(p bota recording.created)" --secret whsec_not_the_configured_one
send "timestamp an hour old" nabla "$(p nabla transcribe_async.succeeded)" --timestamp "$(($(date +%s) - 3600))"
send "timestamp 61 s old (its window is 60 s)" nabla-connect "$(p nabla-connect PATIENT_INSTRUCTIONS_EXPORT)" \
  --timestamp "$(($(date +%s) - 61))"
# A callback type Nabla Connect may add later: 400 unknown_type, as its protocol asks (archived).
sed 's/PATIENT_INSTRUCTIONS_EXPORT/VISIT_SUMMARY_EXPORT/; s/c4d8e2f1-6a3b-4e9c-a7d0-1b5f8e2c9d34/0b7e5d3c-1a29-4f86-b0c4-9e8d7f6a5b43/' \
  "$(p nabla-connect PATIENT_INSTRUCTIONS_EXPORT)" >"$DATA/VISIT_SUMMARY_EXPORT.json"
send "an unknown type (VISIT_SUMMARY_EXPORT)" nabla-connect "$DATA/VISIT_SUMMARY_EXPORT.json"
echo 'this is not JSON' >"$DATA/not-json.txt"
send "verified but not JSON" bota "$DATA/not-json.txt"
out=$("$BIN" send --provider daily --url "$URL/zoom" <"$(p daily meeting.started)" 2>/dev/null) || true
printf '  %-13s %-44s %s %s\n' zoom "unknown provider route" "$(head -n1 <<<"$out")" "$(tail -n +2 <<<"$out")"
REJECTED+=("zoom unknown provider route → $(head -n1 <<<"$out") $(tail -n +2 <<<"$out")")

echo
echo "== The processor handler takes what was queued (as SQS would hand it to the function)"
echo "  $("$BIN" drain 2>>"$DATA/server.log")"

echo
echo "== Daily's batch job with its outputs in Daily's bucket, read through the access-link stand-in"
"$PY" - "$DATA" <<'PYEOF'
import json, pathlib, sys
data = pathlib.Path(sys.argv[1])
seen = [json.loads(l) for l in (data / "daily-api.log").read_text().splitlines() if l.startswith("{")]
api = [r for r in seen if r["path"].startswith("/v1/")]
files = [r for r in seen if r["path"].startswith("/files/")]
print(f"  the stand-in saw {len(api)} access-link request(s), {sum(r['key_sent'] for r in api)} with the key;"
      f" {len(files)} link(s) followed, {sum(r['key_sent'] for r in files)} with the key")
record = json.loads((data / "records/daily/1dae15c5-8a5b-4a5e-9b38-2b6e3f4c7d10/record.json").read_text())
for a in record["components"]["job"]["artifacts"]:
    state = f"fetched {a['bytes']} bytes via {a['via']}" if a.get("via") else a.get("reason", "fetched")
    print(f"  {a['kind']:<10} {a['format']:<4} {a['location'].split('/', 3)[2]}…  {state}")
PYEOF

echo
echo "== Merged records in $DATA/records"
echo
"$BIN" records --store "file://$DATA"

echo "== Rejected deliveries (nothing stored for them, except the verified bodies not understood, archived for replay)"
for r in "${REJECTED[@]}"; do echo "  $r"; done
echo

# What of a subject's text is left anywhere scribehook wrote under $DATA (records, events,
# archived bodies decoded): one line per file still holding a phrase.
holders() {
  "$PY" - "$DATA" "$@" <<'PYEOF'
import base64, json, pathlib, sys
data, phrases = pathlib.Path(sys.argv[1]), sys.argv[2:]
# What scribehook wrote (raw/, records/, erased/, ...), not the demo's own input files, nor
# what belongs to a subject named in HOLDERS_EXCLUDE (another job with the same outputs).
import os
exclude = os.environ.get("HOLDERS_EXCLUDE") or None
for path in sorted(p for p in data.rglob("*") if p.is_file() and len(p.relative_to(data).parts) > 1
                   and not (exclude and exclude in str(p))):
    raw = path.read_bytes()
    texts = [raw]
    try:
        texts.append(base64.b64decode(json.loads(raw)["body_base64"]))
    except Exception:
        pass
    if any(ph.encode() in t for t in texts for ph in phrases):
        print("    still holds it:", path.relative_to(data))
PYEOF
}
BOTA_TEXT=("coming back today" "ragweed allergies")
DAILY_TEXT=("right knee pain" "patellofemoral")

echo "== Deletion: Bota's rec_deleted01 was transcribed and summarized, then recording.deleted"
"$BIN" records --store "file://$DATA" --provider bota | grep -A4 rec_deleted01 | sed 's/^/  /' || true
echo "  archived deliveries left of it: $(holders rec_deleted01 | grep -c "raw/" || true)"
echo "  files under $DATA still holding its transcript or summary text:"
left=$(holders "${BOTA_TEXT[@]}")
echo "${left:-    none}"
[[ -z "$left" ]] || { echo "the deletion left content behind" >&2; exit 1; }
echo "  a late redelivery of its transcript is accepted, processed to a content-free tombstone:"
send "transcription.completed (after the deletion)" bota "$DATA/transcription.completed.json"
echo "  $("$BIN" drain 2>>"$DATA/server.log")"
left=$(holders "${BOTA_TEXT[@]}")
echo "  files still holding its text: ${left:-none}"
[[ -z "$left" ]] || { echo "the late delivery brought content back" >&2; exit 1; }
echo

echo "== Erasure on request: scribehook purge --provider daily --subject $JOB"
# The access-link job above fetched the same output files into its own record.
export HOLDERS_EXCLUDE=1dae15c5-8a5b-4a5e-9b38-2b6e3f4c7d10
echo "  before: $(holders "${DAILY_TEXT[@]}" | wc -l) files hold text of its SOAP note, summary or transcript"
"$BIN" purge --provider daily --subject "$JOB" --yes 2>>"$DATA/server.log" >"$DATA/purge.json"
"$PY" - "$DATA/purge.json" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"  removed: {r['records_erased']} record(s) erased, {r['events_rewritten']} event(s) rewritten without content,"
      f" {len(r['archived_deleted'])} archived deliveries deleted:")
for location in r["archived_deleted"]:
    print("    ", "/".join(location.rsplit("/", 3)[-3:]))
PYEOF
left=$(holders "${DAILY_TEXT[@]}" || true)
echo "  after: ${left:-no file holds any of it}"
[[ -z "$left" ]] || { echo "the purge left content behind" >&2; exit 1; }
"$BIN" records --store "file://$DATA" --provider daily | grep -A3 "$JOB" | sed 's/^/  /' || true
again=$("$BIN" purge --provider daily --subject "$JOB" --yes 2>>"$DATA/server.log")
echo "  run again (idempotent): $again"
echo

# ---------------------------------------------------------------- record notifications
# What a consumer of the EventBridge bus would have received, in order (NOTIFY=file://DIR
# writes the same events as JSON lines): one Record Updated per change, Record Completed
# once per record, codes only for what needs attention, and no content.
echo "== Record notifications: what a consumer would have received (NOTIFY=file://$DATA/notifications)"
"$BIN" records --store "file://$DATA" --json >"$DATA/records.jsonl"
"$PY" - "$DATA/notifications" "$DATA/records.jsonl" <<'PYEOF'
import json, pathlib, sys
lines = []
for path in sorted(pathlib.Path(sys.argv[1]).glob("notifications-*.jsonl")):
    lines += [json.loads(l) for l in path.read_text().splitlines() if l.strip()]
counts = {}
for e in lines:
    d, t = e["detail"], e["detail-type"]
    counts[t] = counts.get(t, 0) + 1
    if "revision" in d:
        what = f"{d['provider']}/{d['subject_id']} r{d['revision']}"
        extra = ("complete" if d["complete"] else "not complete") + \
            (", " + " ".join(d["reasons"]) if d.get("reasons") else "")
    else:
        what, extra = f"{d['provider']}/{d['event_id']}", " ".join(d["reasons"])
    print(f"  {t:<24} {what[:64]:<64} {extra}")
print("  " + ", ".join(f"{n} {t}" for t, n in sorted(counts.items())))
records = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
last = {}
for e in lines:
    d = e["detail"]
    if "revision" in d:
        key = (d["provider"], d["subject_id"])
        last[key] = max(last.get(key, 0), d["revision"])
behind = [f"{r['provider']}/{r['subject_id']}" for r in records
          if last.get((r["provider"], r["subject_id"])) != r.get("revision")]
print(f"  {len(records)} records, every last revision told: {'yes' if not behind else 'no: ' + ', '.join(behind)}")
text = "\n".join(json.dumps(e) for e in lines)
told = [p for p in ("coming back today", "ragweed allergies", "right knee pain", "patellofemoral") if p in text]
print(f"  content in the notifications: {', '.join(told) if told else 'none'}")
sys.exit(1 if behind or told else 0)
PYEOF
echo
echo "Raw deliveries: $DATA/raw   Records: $DATA/records   Notifications: $DATA/notifications   Server log: $DATA/server.log"
echo "To read these records again:  $BIN records --store file://${DATA#"$PWD"/}"
