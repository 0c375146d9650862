#!/usr/bin/env python3
"""Regenerates events/: every sample payload as API Gateway would hand it to the ingest
function (HTTP API v2 and REST v1), signed with `scribehook sign` and the test secrets
of `scribehook providers` (also in events/README.md), plus SQS events for the processor and env.json for
`sam local invoke --env-vars`.

Signatures carry a timestamp, so samples go stale after SIGNATURE_TOLERANCE_SECONDS. The
committed copies are signed at the instant in events/manifest.json, which the tests pin their
clock to; `make events` rewrites them. For `cargo lambda invoke` / `sam local invoke`, sign
fresh copies into an ignored directory instead (`make signed-events`: --out data/events).

usage: make_events.py SCRIBEHOOK_BINARY [UNIX_SECONDS] [--out DIR]
"""
import argparse
import base64
import hashlib
import json
import pathlib
import subprocess
import time
import uuid

ROOT = pathlib.Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
# Verified test deliveries that are answered and never stored: no SQS message names them.
NOT_STORED = {("prosa", "webhook.ping")}


def providers(binary):
    """The provider list, as the code declares it (`scribehook providers`)."""
    out = subprocess.run([binary, "providers"], capture_output=True, check=True, text=True).stdout
    return {p["name"]: p for p in map(json.loads, out.splitlines())}


def scheme_of(provider, name):
    """A sample named `<type>.<scheme>.json` is signed with that published scheme of its
    provider (Prosa's `sha256=` header, Nabla's ISO 8601 timestamp without a zone); the
    others with the default."""
    last = name.rsplit(".", 1)[-1]
    return last if last in provider["schemes"][1:] else None


def sign(binary, provider, body, timestamp, event_type=None, event_id=None, scheme=None):
    args = [binary, "sign", "--provider", provider["name"], "--secret", provider["sample_secret"], "--timestamp", str(timestamp)]
    if scheme:
        args += ["--scheme", scheme]
    if event_type:
        args += ["--event-type", event_type]
    if event_id:
        args += ["--event-id", event_id]
    out = subprocess.run(args, input=body, capture_output=True, check=True).stdout.decode()
    return [tuple(part.strip() for part in line.split(":", 1)) for line in out.splitlines() if line]


def event_id(binary, provider, body, headers):
    """The id the ingest files the delivery under: what `scribehook normalize` reads from it
    with the headers it was signed with (Prosa's is the body's digest)."""
    args = [binary, "normalize", "--provider", provider["name"]]
    for name, value in headers:
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run(args, input=body, capture_output=True, check=True).stdout
    return json.loads(out)["event_id"]


def prosa_ids(name):
    """Prosa puts the event type and a delivery UUID in headers; derive both from the
    sample's name. (scribehook identifies Prosa events by the body's digest, docs/behaviour.md#what-unsigned-headers-may-decide.)"""
    event_type = name.removesuffix(".sha256").removesuffix(".envelope")
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"scribehook:prosa:{name}"))
    return event_type, event_id


def v2(path, headers, body, timestamp):
    return {
        "version": "2.0",
        "routeKey": f"ANY {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", **{k.lower(): v for k, v in headers}},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "scribehook",
            "domainName": "scribehook.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "scribehook",
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.10", "userAgent": "provider-webhooks"},
            "requestId": hashlib.sha256(body).hexdigest()[:16],
            "routeKey": f"ANY {path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(timestamp)),
            "timeEpoch": timestamp * 1000,
        },
        "body": body.decode(),
        "isBase64Encoded": False,
    }


def v1(path, headers, body, timestamp):
    hdrs = {"Content-Type": "application/json", **dict(headers)}
    return {
        "resource": "/webhooks/{provider}",
        "path": path,
        "httpMethod": "POST",
        "headers": hdrs,
        "multiValueHeaders": {k: [v] for k, v in hdrs.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"provider": path.rsplit("/", 1)[-1]},
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "resourceId": "webhooks",
            "stage": "prod",
            "requestId": hashlib.sha256(body).hexdigest()[:16],
            "identity": {"sourceIp": "192.0.2.10", "userAgent": "provider-webhooks"},
            "resourcePath": "/webhooks/{provider}",
            "httpMethod": "POST",
            "apiId": "scribehook",
            "path": f"/prod{path}",
            "requestTimeEpoch": timestamp * 1000,
        },
        # REST APIs with binary media types deliver bodies base64-encoded.
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }


def sqs(jobs):
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"scribehook:sqs:{p}:{e}")),
                "receiptHandle": "sample",
                "body": json.dumps({"provider": p, "event_id": e}),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:scribehook-deliveries",
                "awsRegion": "us-east-1",
            }
            for p, e in jobs
        ]
    }


def write(path, doc):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")


SECRETS_BEGIN = "<!-- BEGIN GENERATED test-secrets (make events, from scribehook providers) -->"
SECRETS_END = "<!-- END GENERATED test-secrets -->"


def write_secrets_table(readme, known):
    """The test secrets table of events/README.md, between its GENERATED markers, from the
    provider list (tests/docs_providers.rs checks it names every provider)."""
    rows = ["| provider | variable | test secret |", "|---|---|---|"]
    rows += [f"| {p['title']} | `{p['secrets_env']}` | `{p['sample_secret']}` |" for p in known.values()]
    text = readme.read_text()
    head, rest = text.split(SECRETS_BEGIN, 1)
    _, tail = rest.split(SECRETS_END, 1)
    readme.write_text(head + SECRETS_BEGIN + "\n" + "\n".join(rows) + "\n" + SECRETS_END + tail)


def main():
    parser = argparse.ArgumentParser(description="Sign the sample payloads into API Gateway and SQS events.")
    parser.add_argument("binary", help="the scribehook binary (its `sign` command signs)")
    parser.add_argument("timestamp", nargs="?", type=int, help="unix seconds to sign at (default: now)")
    parser.add_argument("--out", type=pathlib.Path, default=EVENTS, help="where the events go (default: events/)")
    args = parser.parse_args()
    binary, out = args.binary, args.out.resolve()
    timestamp = args.timestamp if args.timestamp is not None else int(time.time())
    known = providers(binary)
    jobs = {}
    for payload in sorted((EVENTS / "payloads").glob("*/*.json")):
        name = payload.stem
        provider = known.get(payload.parent.name)
        if provider is None:
            raise SystemExit(f"{payload}: no provider {payload.parent.name!r} (scribehook providers lists them)")
        body = payload.read_bytes()
        event_type = delivery_id = None
        if provider["name"] == "prosa":
            event_type, delivery_id = prosa_ids(name)
        headers = sign(binary, provider, body, timestamp, event_type, delivery_id, scheme_of(provider, name))
        path = provider["route"]
        write(out / "apigw-v2" / provider["name"] / f"{name}.json", v2(path, headers, body, timestamp))
        write(out / "apigw-v1" / provider["name"] / f"{name}.json", v1(path, headers, body, timestamp))
        if (provider["name"], name) in NOT_STORED:
            continue
        jobs.setdefault(provider["name"], []).append((provider["name"], event_id(binary, provider, body, headers)))
    for provider, provider_jobs in jobs.items():
        write(out / "sqs" / f"{provider}.json", sqs(provider_jobs))
    # `sam local invoke --env-vars events/env.json`: the test secrets in place of the
    # Secrets Manager ARNs, local files in place of the bucket, no queue (process inline).
    local = {"ARCHIVE": "file:///tmp/scribehook/data", "STORE": "file:///tmp/scribehook/data", "QUEUE_URL": ""}
    env = {
        f"{p['title'].replace(' ', '')}IngestFunction": {**local, p["secrets_env"]: p["sample_secret"], p["secrets_arn_env"]: ""}
        for p in known.values()
    }
    env["ProcessorFunction"] = {"ARCHIVE": local["ARCHIVE"], "STORE": local["STORE"], "ALLOWED_OUTPUT_BUCKETS": ""}
    write(out / "env.json", env)
    write(out / "manifest.json", {"signed_at": timestamp, "secrets": {p["name"]: p["sample_secret"] for p in known.values()}})
    if out == EVENTS:
        write_secrets_table(EVENTS / "README.md", known)
    shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"{shown}/ signed at {timestamp} ({time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(timestamp))})")


if __name__ == "__main__":
    main()
