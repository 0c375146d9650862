"""The Python peer of `make bench`: what a typical Python webhook receiver for Bota on AWS
Lambda looks like, run with the AWS runtime interface client as
`python -m awslambdaric handler.handler` (from this directory).

It does the part of scribehook's ingest that any receiver must do and no more: verify
Bota's signature on the raw body (HMAC-SHA256 of `timestamp "." body` with the whole
`whsec_...` secret, compared in constant time, the timestamp held to 300 s both ways),
parse the JSON and normalize a transcript into a record shaped like scribehook's (provider,
event id, type, subject id, segments with speaker, start, end and text). It stores
nothing: no archive, no queue, no record. boto3's S3 and SQS clients are created at import,
as a receiver that would store and enqueue creates them, so its cold start pays for them.
"""

import base64
import hashlib
import hmac
import json
import os
import time

import boto3

SECRETS = [s.strip().encode() for s in os.environ.get("BOTA_WEBHOOK_SECRETS", "").split(",") if s.strip()]
TOLERANCE_SECONDS = int(os.environ.get("SIGNATURE_TOLERANCE_SECONDS", "300"))

s3 = boto3.client("s3")
sqs = boto3.client("sqs")

STATUS = {
    "recording.created": ("recording", "created"),
    "recording.uploaded": ("recording", "uploaded"),
    "recording.deleted": ("recording", "deleted"),
    "transcription.started": ("transcript", "processing"),
    "transcription.completed": ("transcript", "completed"),
    "transcription.failed": ("transcript", "failed"),
    "summary.started": ("summary", "processing"),
    "summary.completed": ("summary", "completed"),
    "summary.failed": ("summary", "failed"),
    "device.low_battery": ("device", "info"),
    "device.offline": ("device", "info"),
}


def answer(status, payload):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(payload),
    }


def refuse(status, code, message):
    return answer(status, {"error": {"code": code, "message": message}})


def verify(headers, body):
    """None when the delivery is Bota's, else the refusal."""
    timestamp = headers.get("x-bota-timestamp", "")
    signature = headers.get("x-bota-signature", "")
    if not timestamp or not signature or "," in signature:
        return refuse(401, "missing_signature", "X-Bota-Signature and X-Bota-Timestamp are required")
    try:
        ts = int(timestamp)
    except ValueError:
        return refuse(401, "missing_signature", "X-Bota-Timestamp is not unix seconds")
    if abs(time.time() - ts) > TOLERANCE_SECONDS:
        return refuse(401, "stale_timestamp", "X-Bota-Timestamp is outside the tolerance window")
    if not signature.startswith("v1="):
        return refuse(401, "invalid_signature", "X-Bota-Signature is not v1=<hex>")
    given = signature[3:].encode()
    signed = timestamp.encode() + b"." + body
    for secret in SECRETS:
        expected = hmac.new(secret, signed, hashlib.sha256).hexdigest().encode()
        if hmac.compare_digest(expected, given):
            return None
    return refuse(401, "invalid_signature", "the signature matches no configured secret")


def normalize(event):
    category, status = STATUS.get(event["type"], ("other", "info"))
    data = event.get("data") or {}
    record = {
        "schema_version": "1",
        "provider": "bota",
        "event_id": event["id"],
        "event_type": event["type"],
        "category": category,
        "status": status,
        "occurred_at": event.get("created_at"),
        "subject_id": data.get("recording_id") or data.get("id") or event["id"],
        "related": {k: data[k] for k in ("recording_id",) if data.get(k)},
    }
    if category == "transcript":
        if data.get("id"):
            record["related"]["transcription_id"] = data["id"]
        segments = [
            {
                "start_ms": round(s.get("start", 0.0) * 1000),
                "end_ms": round(s.get("end", 0.0) * 1000),
                "speaker": s.get("speaker"),
                "role": "unknown",
                "text": s.get("text", ""),
                "confidence": s.get("confidence"),
            }
            for s in data.get("segments") or []
        ]
        duration = data.get("duration_seconds")
        record["transcript"] = {
            "language": data.get("language"),
            "duration_ms": round(duration * 1000) if duration is not None else None,
            "text": data.get("text"),
            "segments": segments,
        }
    return record


def handler(event, context):
    # Reported in the answer, so that `make bench` can also compare the work both sides do
    # (verify, parse, normalize) without the runtime, the event decoding and our storage.
    started = time.perf_counter()
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    body = event.get("body") or ""
    body = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    refusal = verify(headers, body)
    if refusal is not None:
        return refusal
    try:
        parsed = json.loads(body)
        claimed = headers.get("x-bota-event-id")
        if claimed is not None and claimed != parsed.get("id"):
            return refuse(401, "invalid_signature", "X-Bota-Event-Id does not equal the signed body's id")
        record = normalize(parsed)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        return refuse(400, "malformed_event", f"not a Bota event: {type(e).__name__}")
    handler_ms = (time.perf_counter() - started) * 1000
    return answer(200, {"status": "accepted", "event_id": record["event_id"], "handler_ms": handler_ms})
