#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/ from the committed
samples (events/apigw-v2, events/apigw-v1, events/payloads, events/outputs). Run from the
repository root: python3 fuzz/make_seeds.py. The seeds are committed; rerun after the samples
change. The framing of the verify and normalize seeds is described in fuzz/src/lib.rs."""

import base64
import json
import os
import pathlib
import shutil

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
PROVIDERS = ["daily", "bota", "nabla", "prosa"]

# Headers that carry a signature or an identity, as each provider writes them.
SIGNATURE_HEADERS = {
    "daily": ["X-Webhook-Signature", "X-Webhook-Timestamp"],
    "bota": ["X-Bota-Signature", "X-Bota-Timestamp", "X-Bota-Event-Id"],
    "nabla": ["x-nabla-webhook-signature", "x-nabla-webhook-timestamp"],
    "prosa": ["X-Prosa-Signature", "X-Prosa-Event", "X-Prosa-Event-UUID"],
}

# Placeholder seeds (see fuzz/src/lib.rs): a correct signature the fuzzer mutates around.
PLACEHOLDERS = {
    "daily": [[("X-Webhook-Signature", "@sig"), ("X-Webhook-Timestamp", "@now")]],
    "bota": [[("X-Bota-Signature", "v1=@sig"), ("X-Bota-Timestamp", "@now")]],
    "nabla": [
        [("x-nabla-webhook-signature", "@sig"), ("x-nabla-webhook-timestamp", "@iso")],
        [("x-nabla-webhook-signature", "v1=0000, sha256=@sig"), ("x-nabla-webhook-timestamp", "@now")],
    ],
    "prosa": [
        [("X-Prosa-Signature", "t=@now,v1=@sig"), ("X-Prosa-Event", "stt.jobs.completed"), ("X-Prosa-Event-UUID", "u-1")],
        [("X-Prosa-Signature", "sha256=@hmac"), ("X-Prosa-Event", "stt.jobs.completed"), ("X-Prosa-Event-UUID", "u-1")],
    ],
}

# Bodies with patient text in a wrongly typed field: a parse error must not quote it.
PHI_BODIES = {
    "daily": b'{"version":"1.0.0","type":"meeting.started","id":"e1","payload":{},"event_ts":"ZZPHI patient text"}',
    "bota": b'{"id":"e1","type":"transcription.completed","created_at":"2025-01-15T10:07:00Z","data":{"id":"t","recording_id":"r","duration_seconds":"ZZPHI patient text"}}',
    "nabla": b'{"id":"e1","type":"transcribe_async.succeeded","data":{"id":"a","status":"succeeded","payload":{"transcript":{"items":[{"text":"x","start_offset_ms":"ZZPHI patient text"}]}}}}',
    "prosa": b'{"job_id":"j","status":"complete","result":{"data":[{"transcript":"x","time_start":"ZZPHI patient text"}]}}',
}


# Issue 17: correctly signed bytes around a JSON value (a length extension of Prosa's v1,
# Nabla's timestamp re-split into the body), which must never verify; a Prosa header and
# envelope type marked ZZPHI, which no refusal may quote; ids a purge must reach.
AMBIGUOUS_TAILS = {
    "nabla": b"\x80\x00\x00junk",
    "prosa": b'\x80\x00\x00\x00\x01\xd8,{"job_id":"forged","status":"complete"}',
}
PROSA_MARKED = [
    ("X-Prosa-Signature", "t=@now,v1=@sig"),
    ("X-Prosa-Event", "stt.jobs.failed ZZPHI header text"),
    ("X-Prosa-Event-UUID", "u-1"),
]
PROSA_MARKED_ENVELOPE = b'{"id":"e1","event_type":"ZZPHI envelope type","created_at":"2025-01-15T10:07:00Z","data":{"job_id":"j","status":"complete"}}'
PURGE_IDS = [
    b".evt_hidden\nrec_1",
    b"evt.tmp-2\n.rec_dot",
    b"..\n.",
    b"evt/../x\nrec\x1b[2J",
    b"\n ",
    b"e" * 300 + b"\n" + b"." * 300,
]
VTT_ARROW_IN_TEXT = b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nFine.\n\nZZPHI patient --> positive\n"
SRT_ARROW_IN_TEXT = b"1\n00:00:01,000 --> 00:00:02,000\nFine.\n\n2\nZZPHI patient --> positive\n"


def framed(headers, body):
    head = "".join(f"{name}: {value}\n" for name, value in headers)
    return head.encode() + b"\n" + body


def event_body(event):
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode()


def write(target, name, data):
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)


def main():
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    for provider in PROVIDERS:
        v2 = sorted((ROOT / "events" / "apigw-v2" / provider).glob("*.json"))
        v1 = sorted((ROOT / "events" / "apigw-v1" / provider).glob("*.json"))
        for path in v2:
            event = json.loads(path.read_text())
            body = event_body(event)
            lower = {k.lower(): v for k, v in event["headers"].items()}
            headers = [(h, lower[h.lower()]) for h in SIGNATURE_HEADERS[provider] if h.lower() in lower]
            write(f"verify_{provider}", path.stem, framed(headers, body))
            write(f"normalize_{provider}", path.stem, framed(headers, body))
        for index, headers in enumerate(PLACEHOLDERS[provider]):
            body = (ROOT / "events" / "payloads" / provider / (v2[0].stem + ".json")).read_bytes()
            write(f"verify_{provider}", f"placeholder-{index}", framed(headers, body))
        write(f"normalize_{provider}", "phi-in-number-field", framed(PLACEHOLDERS[provider][0][1:], PHI_BODIES[provider]))
        if provider in AMBIGUOUS_TAILS:
            body = (ROOT / "events" / "payloads" / provider / (v2[0].stem + ".json")).read_bytes()
            write(f"verify_{provider}", "placeholder-trailing-bytes", framed(PLACEHOLDERS[provider][0], body + AMBIGUOUS_TAILS[provider]))
        # Two events per provider and payload version are enough for the decoding targets.
        for path in v2[:2]:
            write("apigw_v2", f"{provider}-{path.stem}", path.read_bytes())
        for path in v1[:2]:
            write("apigw_v1", f"{provider}-{path.stem}", path.read_bytes())
    write("normalize_prosa", "marked-header", framed(PROSA_MARKED[1:], PHI_BODIES["prosa"].replace(b'"ZZPHI patient text"', b"0")))
    write("normalize_prosa", "marked-envelope", framed(PROSA_MARKED[1:], PROSA_MARKED_ENVELOPE))
    for index, ids in enumerate(PURGE_IDS):
        write("purge_file", f"ids-{index}", ids)
    outputs = ROOT / "events" / "outputs"
    write("transcript_deepgram", "transcript.json", (outputs / "transcript.json").read_bytes())
    write("transcript_webvtt", "transcript.vtt", (outputs / "transcript.vtt").read_bytes())
    write("transcript_webvtt", "arrow-in-text.vtt", VTT_ARROW_IN_TEXT)
    write("transcript_srt", "transcript.srt", (outputs / "transcript.srt").read_bytes())
    write("transcript_srt", "arrow-in-text.srt", SRT_ARROW_IN_TEXT)
    write("transcript_txt", "transcript.txt", (outputs / "transcript.txt").read_bytes())
    write("soap", "soap.json", (outputs / "soap.json").read_bytes())
    write("soap", "sections.json", b'{"sections":[{"title":"Chief complaint","text":"knee"},{"key":"hpi","content":["a","b"]}]}')
    for target in sorted(os.listdir(CORPUS)):
        files = list((CORPUS / target).iterdir())
        print(f"{target}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main()
