#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/ from the provider
list (`scribehook providers`) and the committed samples (events/apigw-v2, events/apigw-v1,
events/payloads, events/outputs). Run from the repository root after `cargo build --bin
scribehook`:

    python3 fuzz/make_seeds.py [SCRIBEHOOK_BINARY]     # default target/debug/scribehook

The seeds are committed; rerun after the samples or the provider list change. A new
provider gets seeds from its signed samples with no change here; PLACEHOLDERS and
PHI_BODIES add hand-written ones where a provider has them.

The verify and normalize targets take every provider: each seed starts with one byte, the
provider's index in the list (fuzz/src/lib.rs, pick_provider), followed by the framing
described there. Working corpora of the former per-provider targets (verify_<provider>,
normalize_<provider> under fuzz/target/corpus/, what earlier runs found) are converted the
same way into fuzz/target/corpus/verify/ and normalize/, so their coverage is not lost.
"""

import base64
import json
import os
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
WORKING = ROOT / "fuzz" / "target" / "corpus"

# Seeds with placeholders (see fuzz/src/lib.rs): a correct signature the fuzzer mutates
# around, in forms the signed samples do not show.
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
    "nabla-connect": [
        [("x-nabla-connect-signature", "@sig"), ("x-nabla-connect-timestamp", "@iso")],
        [("x-nabla-connect-signature", "0000 , @sig"), ("x-nabla-connect-timestamp", "@iso")],
    ],
}

# Bodies with patient text in a wrongly typed field: a parse error must not quote it.
PHI_BODIES = {
    "daily": b'{"version":"1.0.0","type":"meeting.started","id":"e1","payload":{},"event_ts":"ZZPHI patient text"}',
    "bota": b'{"id":"e1","type":"transcription.completed","created_at":"2025-01-15T10:07:00Z","data":{"id":"t","recording_id":"r","duration_seconds":"ZZPHI patient text"}}',
    "nabla": b'{"id":"e1","type":"transcribe_async.succeeded","data":{"id":"a","status":"succeeded","payload":{"transcript":{"items":[{"text":"x","start_offset_ms":"ZZPHI patient text"}]}}}}',
    "prosa": b'{"job_id":"j","status":"complete","result":{"data":[{"transcript":"x","time_start":"ZZPHI patient text"}]}}',
    "nabla-connect": b'{"request_uuid":"r","type":"NOTE_EXPORT","data":{"external_encounter_id":"e","note":{"sections":[]},"transcript":[{"text":"x","speaker_type":"PATIENT","start_offset_ms":"ZZPHI patient text"}]}}',
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


def providers(binary):
    """The provider list in the code's order: a provider's index is its seeds' first byte."""
    out = subprocess.run([binary, "providers"], capture_output=True, check=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def framed(index, headers, body):
    head = "".join(f"{name}: {value}\n" for name, value in headers)
    return bytes([index]) + head.encode() + b"\n" + body


def event_body(event):
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode()


def write(target, name, data):
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)


def convert_working_corpora(index, name):
    """What a former per-provider target found, prefixed with the provider's index."""
    for kind in ("verify", "normalize"):
        old = WORKING / f"{kind}_{name}"
        if not old.is_dir():
            continue
        new = WORKING / kind
        new.mkdir(parents=True, exist_ok=True)
        files = [f for f in old.iterdir() if f.is_file()]
        for f in files:
            (new / f"{name}-{f.name}").write_bytes(bytes([index]) + f.read_bytes())
        print(f"converted {len(files)} inputs of {old.relative_to(ROOT)} into {new.relative_to(ROOT)}")


def main():
    target_dir = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    binary = sys.argv[1] if len(sys.argv) > 1 else str(target_dir / "debug" / "scribehook")
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    for index, provider in enumerate(providers(binary)):
        name = provider["name"]
        v2 = sorted((ROOT / "events" / "apigw-v2" / name).glob("*.json"))
        v1 = sorted((ROOT / "events" / "apigw-v1" / name).glob("*.json"))
        for path in v2:
            event = json.loads(path.read_text())
            body = event_body(event)
            lower = {k.lower(): v for k, v in event["headers"].items()}
            # The signature and identity headers, spelled as the provider writes them (the
            # REST API event keeps the spelling `scribehook sign` printed).
            twin = ROOT / "events" / "apigw-v1" / name / path.name
            spelled = {k.lower(): k for k in json.loads(twin.read_text())["headers"]} if twin.exists() else {}
            headers = [(spelled.get(h, h), lower[h]) for h in provider["signature_headers"] if h in lower]
            write("verify", f"{name}-{path.stem}", framed(index, headers, body))
            write("normalize", f"{name}-{path.stem}", framed(index, headers, body))
        placeholders = PLACEHOLDERS.get(name, [])
        for n, headers in enumerate(placeholders):
            body = (ROOT / "events" / "payloads" / name / (v2[0].stem + ".json")).read_bytes()
            write("verify", f"{name}-placeholder-{n}", framed(index, headers, body))
        if name in PHI_BODIES:
            # The timestamp header only: normalize reads no signature.
            headers = placeholders[0][1:] if placeholders else []
            write("normalize", f"{name}-phi-in-number-field", framed(index, headers, PHI_BODIES[name]))
        if name in AMBIGUOUS_TAILS and placeholders:
            body = (ROOT / "events" / "payloads" / name / (v2[0].stem + ".json")).read_bytes()
            write("verify", f"{name}-placeholder-trailing-bytes", framed(index, placeholders[0], body + AMBIGUOUS_TAILS[name]))
        # Two events per provider and payload version are enough for the decoding targets.
        for path in v2[:2]:
            write("apigw_v2", f"{name}-{path.stem}", path.read_bytes())
        for path in v1[:2]:
            write("apigw_v1", f"{name}-{path.stem}", path.read_bytes())
        convert_working_corpora(index, name)
        if name == "prosa":
            write("normalize", "prosa-marked-header", framed(index, PROSA_MARKED[1:], PHI_BODIES["prosa"].replace(b'"ZZPHI patient text"', b"0")))
            write("normalize", "prosa-marked-envelope", framed(index, PROSA_MARKED[1:], PROSA_MARKED_ENVELOPE))
    for n, ids in enumerate(PURGE_IDS):
        write("purge_file", f"ids-{n}", ids)
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
