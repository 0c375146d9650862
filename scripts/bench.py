#!/usr/bin/env python3
"""`make bench`: every row of issue 9's performance table, measured against its floor in one
run on this machine, printed one line per row, and docs/performance.md written from the same
run (method, machine, table; "what holds back" comes verbatim from docs/performance-notes.md).

Absolute times on a shared 2-core machine are noise; ratios of medians of interleaved runs
are not. Every function is started cold, as the Lambda service starts one, against a
stand-in of the Lambda Runtime API on loopback (this script):

- init = exec -> its first `GET /2018-06-01/runtime/invocation/next`;
- invoke = the stand-in starts writing the event -> it has read the function's whole
  response (`POST .../invocation/<id>/response`);
- peak RSS = its `VmHWM` (/proc/<pid>/status) once it has answered and polls again: the
  peak since its exec. (`os.wait4`'s `ru_maxrss` would include this script's own peak,
  which Linux carries into a child across exec; it is shown, not used.)

Rows (floor in brackets): ingest init, file:// and deployed (S3 archive + queue) [a bare
lambda_runtime function answering a constant, bench/src/bin/bare_constant.rs], ingest invoke
of a 5.3 MB signed Bota transcript, inline, ARCHIVE and STORE file:// on tmpfs [the same
constant floor], the same event through a Python receiver (bench/peer), Nabla Connect's reply
time (informative), release binary size [constant floor], processor peak RSS on a 50 MB
Deepgram transcript fetched from S3 (moto) [object size], in-process verify + parse +
normalize [HMAC-SHA256 + serde_json::Value, bench/src/bin/throughput.rs], ingest peak RSS
[bare echo's]. Plus informative lines (the former echo floor, a warm second invoke, the
peer's init, the processor's time), a profile of the inline path (bench/src/bin/profile.rs)
and what a million deliveries cost (the deployed path on moto, its requests recorded).

usage: bench.py [--runs N] [--processor-runs N] [--target-dir DIR] [--doc PATH]
Run by `make bench` with .venv's Python (moto, boto3) after the release build.
"""
import argparse
import base64
import copy
import datetime
import hashlib
import hmac
import math
import http.server
import json
import os
import pathlib
import platform
import random
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
BOTA_SECRET = "whsec_scribehook_demo_bota"
NABLA_CONNECT_SECRET = "scribehook-demo-nabla-connect"
DAILY_SECRET = "c2NyaWJlaG9vay1kZW1vLWRhaWx5LXNlY3JldA=="
SEED = 9  # issue 9
BOTA_BODY_BYTES = 5_300_000
DEEPGRAM_BYTES = 50_000_000
MB = 1_000_000
SIZE_TARGET_BYTES = 8 * MB
OUTPUT_BUCKET = "scribehook-bench-outputs"
OUTPUT_REGION = "us-west-2"  # the region the Daily sample names
ARCHIVE_BUCKET = "scribehook-bench-archive"
# The cost table (Report.cost_lines): us-east-1 list prices, remembered, not fetched live.
PRICE_DATE = "as of 2025"
PRICES_LABELLED = [
    ("lambda_gb_s", 0.0000133334, ("Lambda arm64 compute", "$0.0000133334 a GB-second")),
    ("lambda_request", 0.20 / 1e6, ("Lambda requests", "each ($0.20 a million)")),
    ("apigw", 1.00 / 1e6, ("API Gateway HTTP API", "a request per 512 KB ($1.00 a million)")),
    ("s3_put", 0.005 / 1000, ("S3 Standard PUT", "each ($0.005 a thousand)")),
    ("s3_get", 0.0004 / 1000, ("S3 Standard GET/HEAD", "each ($0.0004 a thousand)")),
    ("sqs", 0.40 / 1e6, ("SQS standard", "a request per 64 KB ($0.40 a million)")),
    ("ddb_write", 0.625 / 1e6, ("DynamoDB on-demand", "a write unit ($0.625 a million)")),
    ("ddb_read", 0.125 / 1e6, ("DynamoDB on-demand", "a read unit ($0.125 a million)")),
    ("eventbridge", 1.00 / 1e6, ("EventBridge custom events", "per 64 KB event ($1.00 a million)")),
    ("logs_gb", 0.50, ("CloudWatch Logs ingestion", "$0.50 a GB")),
    ("xray", 5.00 / 1e6, ("X-Ray traces recorded", "each ($5.00 a million)")),
]
PRICES = [(k, v, u) for k, v, u in PRICES_LABELLED]
VCPU_MB = 1769          # Lambda: one full vCPU at 1,769 MB
INGEST_MB, PROCESSOR_MB = 256, 1024   # template.yaml's IngestMemorySize, ProcessorMemorySize
COLD_SHARE = 0.01       # deliveries that start an environment (assumed)
MIX_SMALL = 0.8         # the mix: 80% small lifecycle deliveries, 20% large transcripts
SQS_ESM_REQUESTS = 2    # the event source mapping's receive and delete, one message a batch
# The cost table's small delivery: Bota's sample transcription.completed as it is.
SMALL_BODY = (pathlib.Path(__file__).resolve().parent.parent
              / "events/payloads/bota/transcription.completed.json").read_bytes()
PEER_DIR = ROOT / "bench" / "peer"
PEER_VENV = ROOT / "bench" / ".venv"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:bench"


# ---------------------------------------------------------------------------------------
# Deterministic, realistic clinical dialogue for the generated transcripts.

SYMPTOMS = ["knee pain", "headache", "cough", "back pain", "shortness of breath", "rash",
            "dizziness", "chest tightness", "fatigue", "sore throat", "heartburn", "insomnia"]
PARTS = ["knee", "lower back", "shoulder", "chest", "left ankle", "right wrist", "neck", "hip"]
ACTIVITIES = ["climb stairs", "walk the dog", "sit at my desk", "lie down", "go running",
              "lift the kids", "eat a big meal", "work in the garden"]
MEDICATIONS = ["ibuprofen", "naproxen", "amoxicillin", "omeprazole", "cetirizine",
               "lisinopril", "metformin", "prednisone"]
TESTS = ["blood pressure", "blood count", "thyroid levels", "blood sugar", "cholesterol",
         "kidney function"]
CONDITIONS = ["diabetes", "high blood pressure", "asthma", "heart disease", "arthritis",
              "migraines"]
RELATIVES = ["mother", "father", "sister", "brother", "grandmother", "uncle"]
FEELINGS = ["tired", "anxious", "short of breath", "stiff", "thirsty", "lightheaded"]
TIMES = ["morning", "evening", "night", "afternoon"]
UNITS = ["days", "weeks", "months"]
NUMBERS = ["two", "three", "four", "five", "six", "ten"]

CLINICIAN = [
    "Good morning, what brings you in today?",
    "How long have you had the {symptom}?",
    "Does the {symptom} get worse when you {activity}?",
    "On a scale of one to ten, how bad is it right now?",
    "Are you taking anything for it at the moment?",
    "Any allergies to medications that you know of?",
    "Let me take a look at your {part}.",
    "I'd like to start you on {medication}, twice a day with food.",
    "We'll check your {test} and see you again in {number} weeks.",
    "Have you noticed any {symptom2} along with it?",
    "Is there any family history of {condition}?",
    "Okay, that helps. Anything else you wanted to mention today?",
    "Any swelling, or did you injure it?",
    "Let's examine it, and I'd like to start you on physiotherapy.",
]
PATIENT = [
    "My {part} has been hurting for about {number} {unit}.",
    "It's worse in the {time}, especially after I {activity}.",
    "I tried {medication} but it only helped a little.",
    "Maybe a {score} out of ten, it comes and goes.",
    "No allergies that I know of.",
    "My {relative} had {condition}, I think.",
    "I've also been feeling more {feeling} than usual.",
    "Not really, just the {symptom} mostly.",
    "A little swelling in the evenings. No fall that I remember.",
    "Okay, thank you, that sounds good.",
]


def sentence(rng, templates):
    return rng.choice(templates).format(
        symptom=rng.choice(SYMPTOMS), symptom2=rng.choice(SYMPTOMS), part=rng.choice(PARTS),
        activity=rng.choice(ACTIVITIES), medication=rng.choice(MEDICATIONS),
        test=rng.choice(TESTS), condition=rng.choice(CONDITIONS), relative=rng.choice(RELATIVES),
        feeling=rng.choice(FEELINGS), time=rng.choice(TIMES), unit=rng.choice(UNITS),
        number=rng.choice(NUMBERS), score=rng.choice(NUMBERS[:4]))


def dialogue(rng):
    """Endless (speaker index, text, start s, end s) turns; 0 is the clinician."""
    t = rng.uniform(0.2, 0.6)
    speaker = 0
    while True:
        text = " ".join(sentence(rng, PATIENT if speaker else CLINICIAN)
                        for _ in range(rng.choice((1, 1, 1, 2, 2, 3))))
        duration = len(text.split()) * rng.uniform(0.28, 0.42)
        yield speaker, text, round(t, 2), round(t + duration, 2)
        t += duration + rng.uniform(0.15, 0.9)
        speaker = 1 - speaker if rng.random() < 0.85 else speaker


def serialize(doc):
    """As the samples are written: two-space indent and a final newline."""
    return (json.dumps(doc, indent=2) + "\n").encode()


def fitted(build, units, target):
    """The largest prefix of `units` whose document `build(prefix)` is at most `target` bytes."""
    probe = min(len(units), 200)
    per_unit = len(serialize(build(units[:probe]))) / probe
    n = min(len(units), int(target / per_unit))
    best = None
    for _ in range(6):
        data = serialize(build(units[:n]))
        per_unit = len(data) / n
        if len(data) <= target:
            best = data
            if target - len(data) < target // 500 or n == len(units):
                break
            n = min(len(units), n + max(1, int((target - len(data)) / per_unit)))
        else:
            n -= max(1, int((len(data) - target) / per_unit) + 1)
    if best is None:
        raise SystemExit(f"cannot fit the generated document into {target} bytes")
    return best


def bota_body(target=BOTA_BODY_BYTES):
    """Bota's transcription.completed sample, its shape kept exactly, with as many
    dialogue segments (speaker, start, end, text, confidence) as fit in `target` bytes."""
    sample = json.loads((ROOT / "events/payloads/bota/transcription.completed.json").read_text())
    rng = random.Random(SEED)
    turns = dialogue(rng)
    segments = []
    for _ in range(target // 120):
        speaker, text, start, end = next(turns)
        segments.append({"start": start, "end": end, "text": text,
                         "speaker": f"SPEAKER_{speaker:02d}",
                         "confidence": round(rng.uniform(0.82, 0.99), 2)})

    def build(segs):
        doc = copy.deepcopy(sample)
        data = doc["data"]
        data["text"] = " ".join(s["text"] for s in segs)
        data["duration_seconds"] = segs[-1]["end"]
        data["segments"] = segs
        return doc

    return fitted(build, segments, target)


def nabla_connect_body(target):
    """Nabla Connect's NOTE_EXPORT sample, its shape kept, with as many transcript items of
    the generated dialogue as fit in `target` bytes, then padded with whitespace before its
    last brace to exactly `target` bytes (one JSON value, as Nabla Connect must send)."""
    sample = json.loads((ROOT / "events/payloads/nabla-connect/NOTE_EXPORT.json").read_text())
    rng = random.Random(SEED + 2)
    turns = dialogue(rng)
    items = []
    for _ in range(target // 110):
        speaker, text, start, end = next(turns)
        items.append({"text": text, "speaker_type": "PATIENT" if speaker else "PROVIDER",
                      "locale": "ENGLISH_US", "start_offset_ms": int(start * 1000),
                      "end_offset_ms": int(end * 1000)})

    def build(units):
        doc = copy.deepcopy(sample)
        doc["data"]["transcript"] = units
        return doc

    body = fitted(build, items, target)
    pad = target - len(body)
    cut = body.rindex(b"}")
    return body[:cut] + b" " * pad + body[cut:]


def nabla_connect_event(body):
    """The Nabla Connect sample's API Gateway v2 event around `body`, signed now: hex
    HMAC-SHA256 over the ISO 8601 timestamp followed by the body (no separator)."""
    event = json.loads((ROOT / "events/apigw-v2/nabla-connect/NOTE_EXPORT.json").read_text())
    ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    event["headers"]["x-nabla-connect-timestamp"] = ts
    event["headers"]["x-nabla-connect-signature"] = hmac.new(
        NABLA_CONNECT_SECRET.encode(), ts.encode() + body, hashlib.sha256).hexdigest()
    event["headers"]["content-length"] = str(len(body))
    event["requestContext"]["timeEpoch"] = int(time.time() * 1000)
    event["body"] = body.decode()
    return json.dumps(event).encode()


def deepgram_transcript(target=DEEPGRAM_BYTES):
    """events/outputs/transcript.json (Deepgram's pre-recorded response as Daily stores it)
    scaled to `target` bytes: its shape kept, words and utterances of a long dialogue."""
    sample = json.loads((ROOT / "events/outputs/transcript.json").read_text())
    word_keys = list(sample["results"]["channels"][0]["alternatives"][0]["words"][0])
    utterance_keys = list(sample["results"]["utterances"][0])
    rng = random.Random(SEED + 1)
    turns = dialogue(rng)
    utterances = []
    for index in range(target // 1500):
        speaker, text, start, end = next(turns)
        tokens = text.split()
        step = (end - start) / len(tokens)
        words = []
        for i, token in enumerate(tokens):
            values = {"word": token.strip(".,?!").lower(), "punctuated_word": token,
                      "start": round(start + i * step, 2), "end": round(start + (i + 1) * step, 2),
                      "confidence": round(rng.uniform(0.8, 0.999), 3), "speaker": speaker,
                      "speaker_confidence": round(rng.uniform(0.6, 0.99), 2)}
            words.append({k: values[k] for k in word_keys})
        confidence = round(sum(w["confidence"] for w in words) / len(words), 3)
        values = {"start": start, "end": end, "confidence": confidence, "channel": 0,
                  "transcript": text, "speaker": speaker, "id": f"u{index}"}
        utterances.append(({k: values[k] for k in utterance_keys}, words))

    def build(units):
        doc = copy.deepcopy(sample)
        doc["metadata"]["duration"] = units[-1][0]["end"]
        alternative = doc["results"]["channels"][0]["alternatives"][0]
        alternative["transcript"] = " ".join(u["transcript"] for u, _ in units)
        alternative["words"] = [w for _, words in units for w in words]
        doc["results"]["utterances"] = [u for u, _ in units]
        return doc

    return fitted(build, utterances, target)


# ---------------------------------------------------------------------------------------
# Signed API Gateway v2 events.

def bota_event(body, replace=None):
    """The Bota sample's API Gateway v2 event around `body`, signed now. `replace` maps
    byte strings to same-length ones (another event id and subject for a second event)."""
    for old, new in (replace or {}).items():
        assert len(old) == len(new)
        body = body.replace(old, new, 1)
    event = json.loads((ROOT / "events/apigw-v2/bota/transcription.completed.json").read_text())
    now = time.time()
    ts = str(int(now))
    event["headers"]["x-bota-timestamp"] = ts
    event["headers"]["x-bota-signature"] = "v1=" + hmac.new(
        BOTA_SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    event["headers"]["x-bota-event-id"] = re.search(rb'"id": "([^"]+)"', body[:200])[1].decode()
    event["headers"]["content-length"] = str(len(body))
    event["requestContext"]["timeEpoch"] = int(now * 1000)
    event["body"] = body.decode()
    return json.dumps(event).encode()


def daily_event(body):
    """The Daily job-finished sample's API Gateway v2 event around `body`, signed now."""
    event = json.loads(
        (ROOT / "events/apigw-v2/daily/batch-processor.job-finished.json").read_text())
    ts = str(int(time.time()))
    key = base64.b64decode(DAILY_SECRET)
    event["headers"]["x-webhook-timestamp"] = ts
    event["headers"]["x-webhook-signature"] = base64.b64encode(
        hmac.new(key, ts.encode() + b"." + body, hashlib.sha256).digest()).decode()
    event["body"] = body.decode()
    return json.dumps(event).encode()


# ---------------------------------------------------------------------------------------
# The Lambda Runtime API stand-in and one cold function run.

class RuntimeApi(http.server.ThreadingHTTPServer):
    """Hands `events` to one function, one per `GET .../invocation/next`, and records when."""
    daemon_threads = True

    def __init__(self, events):
        super().__init__(("127.0.0.1", 0), RuntimeApiHandler)
        self.events = events
        self.first_next = None
        self.served = []
        self.responded = []
        self.responses = []
        self.errors = []
        self.pid = None
        self.hwm_kib = None
        self.cpu = []  # (on CPU, waiting for a CPU) in ns, summed over its threads, at each poll
        self.finished = threading.Event()
        self.idle = threading.Event()
        self.closing = threading.Event()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def address(self):
        return f"127.0.0.1:{self.server_address[1]}"

    def close(self):
        self.closing.set()
        self.shutdown()
        self.server_close()


class RuntimeApiHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        now = time.perf_counter()
        api = self.server
        if api.first_next is None:
            api.first_next = now
        api.cpu.append(cpu_ns(api.pid) if api.pid is not None else None)
        if not self.path.endswith("/runtime/invocation/next") or len(api.served) >= len(api.events):
            # Every event is answered and the function waits for the next: its peak RSS is
            # final. Then it is killed while it waits.
            if api.pid is not None and api.finished.is_set():
                api.hwm_kib = vm_hwm_kib(api.pid)
                api.idle.set()
            api.closing.wait(120)
            return
        n = len(api.served)
        body = api.events[n]
        api.served.append(time.perf_counter())
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Lambda-Runtime-Aws-Request-Id", f"bench-{n}")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN)
        self.send_header("Lambda-Runtime-Trace-Id", f"Root=1-00000000-00000000000000000000000{n};Sampled=0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_POST(self):
        api = self.server
        length = int(self.headers.get("Content-Length", 0))
        payload = self.rfile.read(length)
        now = time.perf_counter()
        if self.path.endswith("/response"):
            api.responded.append(now)
            api.responses.append(payload)
        else:  # .../invocation/<id>/error or /runtime/init/error
            api.errors.append(f"{self.path}: {payload[:2000].decode(errors='replace')}")
        if api.errors or len(api.responses) == len(api.events):
            api.finished.set()  # before the 202, which the function's next poll follows
        try:
            self.send_response(202)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
        except (BrokenPipeError, ConnectionResetError):
            pass


class RunFailed(Exception):
    pass


def lambda_env(api_address, extra):
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "AWS_LAMBDA_RUNTIME_API": api_address,
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",   # as the template deploys them
        "AWS_LAMBDA_LOG_LEVEL": "INFO",
        "POWERTOOLS_SERVICE_NAME": "bench",
        "POWERTOOLS_METRICS_NAMESPACE": "scribehook",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        **extra,
    }


def cpu_ns(pid):
    """(time on a CPU, time waiting in a run queue) of all the process's threads so far, in
    ns (/proc/<pid>/task/*/schedstat); None where the kernel does not say."""
    on_cpu = waiting = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
                fields = stat.read().split()
            on_cpu += int(fields[0])
            waiting += int(fields[1])
        except (OSError, IndexError, ValueError):
            pass  # a thread gone meanwhile
    return on_cpu, waiting


def vm_hwm_kib(pid):
    """The process's peak resident set since its exec (`VmHWM`), in KiB."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def run_function(cmd, extra_env, events, log_path, cwd=None, timeout=120):
    """Starts `cmd` cold against a fresh stand-in, hands it `events`, and once it has
    answered them all and polls for the next, reads its peak RSS and kills it; returns init,
    each invoke (ms), the responses, the peak RSS (VmHWM) and wait4's ru_maxrss."""
    api = RuntimeApi(events)
    try:
        env = lambda_env(api.address, extra_env)
        with open(log_path, "wb") as log:
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT)
        api.pid = proc.pid
        deadline = time.monotonic() + timeout
        exited = None
        while not api.finished.wait(0.02):
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                exited = status
                break
            if time.monotonic() > deadline:
                break
        if exited is None and api.finished.is_set():
            api.idle.wait(5)  # its next poll, where the stand-in reads VmHWM
        if exited is None:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = status  # reaped here, with its rusage
    finally:
        api.close()
    tail = pathlib.Path(log_path).read_bytes()[-3000:].decode(errors="replace")
    if api.errors:
        raise RunFailed(f"{cmd[0]} reported an error: {api.errors[0]}\n--- its output:\n{tail}")
    if len(api.responses) < len(events):
        why = f"exited with status {exited}" if exited is not None else f"no answer in {timeout} s"
        raise RunFailed(f"{cmd[0]} answered {len(api.responses)} of {len(events)} events ({why})"
                        f"\n--- its output:\n{tail}")
    if api.hwm_kib is None:
        raise RunFailed(f"{cmd[0]} answered but never polled again: its peak RSS was not read"
                        f"\n--- its output:\n{tail}")
    return {
        "init_ms": (api.first_next - start) * 1000,
        "invoke_ms": [(r - s) * 1000 for s, r in zip(api.served, api.responded)],
        "responses": api.responses,
        "rss_kib": api.hwm_kib,
        "ru_maxrss_kib": usage.ru_maxrss,
        # CPU time (ms, all threads) to the first poll, and of each invocation (from the poll
        # that received the event to the next); and the time spent waiting for a CPU in init.
        "init_cpu_ms": cpu_ms(api.cpu, 0, 0),
        "init_wait_ms": cpu_ms(api.cpu, 0, 1),
        "invoke_cpu_ms": [cpu_delta_ms(api.cpu, i) for i in range(len(events))],
        # What the function wrote to stdout/stderr (its JSON log lines and EMF metrics).
        "log_bytes": pathlib.Path(log_path).stat().st_size,
    }


def cpu_ms(readings, index, field):
    if len(readings) <= index or readings[index] is None:
        return None
    return readings[index][field] / 1e6


def cpu_delta_ms(readings, i):
    if len(readings) <= i + 1 or readings[i] is None or readings[i + 1] is None:
        return None
    return (readings[i + 1][0] - readings[i][0]) / 1e6


def http_answer(response):
    """(status, body JSON) of an API Gateway proxy answer."""
    answer = json.loads(response)
    return answer.get("statusCode"), json.loads(answer.get("body") or "null")


def expect_accepted(name, response):
    status, body = http_answer(response)
    if status != 200 or not isinstance(body, dict) or body.get("status") != "accepted":
        raise RunFailed(f"{name} did not accept the signed delivery: HTTP {status} {body}")
    return status, body


# ---------------------------------------------------------------------------------------
# moto (S3 and SQS for the processor row and the deployed configuration).

MOTO_SERVER = ROOT / "scripts" / "moto_server.py"


class Moto:
    def __init__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.proc = subprocess.Popen([sys.executable, str(MOTO_SERVER), str(port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if self.proc.stdout.readline().strip() != b"ready":
            raise SystemExit("moto_server did not start: run `make setup` (moto goes into .venv)")
        self.endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"moto_server never listened on {self.endpoint}")
                time.sleep(0.05)

    def client(self, service, region="us-east-1"):
        import boto3
        return boto3.client(service, endpoint_url=self.endpoint, region_name=region,
                            aws_access_key_id="bench", aws_secret_access_key="bench")

    def env(self):
        return {"AWS_ENDPOINT_URL": self.endpoint}

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ---------------------------------------------------------------------------------------
# Small statistics and formatting.

def median(values):
    return statistics.median(values)


def quartiles(values):
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def ms(value):
    return f"{value:.2f} ms"


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def mbytes(n):
    return f"{n / MB:.2f} MB"


def spread(values, fmt):
    lo, hi = quartiles(values)
    return f"{fmt(median(values))} ({fmt(lo)} to {fmt(hi)})"


# ---------------------------------------------------------------------------------------
# The machine.

def cpu_jiffies():
    """(busy, total) CPU time of the whole machine so far, in clock ticks (/proc/stat)."""
    try:
        fields = [int(v) for v in pathlib.Path("/proc/stat").read_text().split("\n")[0].split()[1:8]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def own_cpu_seconds():
    """CPU time of this script and of every child it has collected (the functions, moto)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def other_work(start, end, own_start, own_end):
    """The fraction of the machine's CPU time used by others between two readings: all busy
    time less this script's and its children's."""
    if start is None or end is None or end[1] == start[1]:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    busy = (end[0] - start[0]) / tick - (own_end - own_start)
    return min(1.0, max(0.0, busy / ((end[1] - start[1]) / tick)))


def cpu_busy(seconds=1.0):
    """The fraction of the machine's CPU time others use over `seconds`, this script idle."""
    start, own = cpu_jiffies(), own_cpu_seconds()
    time.sleep(seconds)
    return other_work(start, cpu_jiffies(), own, own_cpu_seconds())


def machine():
    def first(path, key):
        try:
            for line in pathlib.Path(path).read_text().splitlines():
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "unknown"

    def command(*args):
        try:
            return subprocess.run(args, capture_output=True, text=True, check=True,
                                  cwd=ROOT).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unknown"

    mem_kib = first("/proc/meminfo", "MemTotal").split()[0]
    commit = command("git", "rev-parse", "--short", "HEAD")
    if command("git", "status", "--porcelain", "--untracked-files=no", "--", ".",
               ":!docs/performance.md"):
        commit += " (with uncommitted changes)"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": command("nproc"),
        "cpu": first("/proc/cpuinfo", "model name"),
        "memory": f"{int(mem_kib) / 1024 / 1024:.1f} GiB" if mem_kib.isdigit() else "unknown",
        "kernel": f"{platform.system()} {platform.release()} {platform.machine()}",
        "rustc": command("rustc", "--version"),
        "python": platform.python_version(),
        "commit": commit,
        "load": "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
    }


# ---------------------------------------------------------------------------------------
# The runs.

def peer_status():
    """(python of the peer's venv, None) or (None, why the peer cannot run)."""
    python = PEER_VENV / "bin" / "python"
    if (PEER_VENV / ".installed").exists() and python.exists():
        return str(python), None
    why = "bench/.venv is missing: `make bench-peer` creates it"
    failed = PEER_VENV / ".failed"
    if failed.exists():
        why = failed.read_text().strip()
        log = PEER_VENV / "pip.log"
        if log.exists():
            errors = [l.strip() for l in log.read_text(errors="replace").splitlines()
                      if l.startswith("ERROR") or "error:" in l.lower()]
            if errors:
                why += ": " + " / ".join(errors[-3:])
    return None, why


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", 20)),
                        help="interleaved cold runs of each function (default 20)")
    parser.add_argument("--processor-runs", type=int,
                        default=int(os.environ.get("BENCH_PROCESSOR_RUNS", 5)))
    parser.add_argument("--throughput-iterations", type=int, default=50)
    parser.add_argument("--profile-runs", type=int,
                        default=int(os.environ.get("BENCH_PROFILE_RUNS", 10)))
    parser.add_argument("--target-dir", default=os.environ.get("CARGO_TARGET_DIR", "target"))
    parser.add_argument("--doc", default=str(ROOT / "docs/performance.md"))
    parser.add_argument("--notes", default=str(ROOT / "docs/performance-notes.md"))
    args = parser.parse_args()

    release = (ROOT / args.target_dir / "release").resolve()
    binaries = {
        "bare": release / "bare_runtime",
        "constant": release / "bare_constant",
        "profile": release / "profile",
        "ingest": release / "ingest",
        "processor": release / "processor",
        "throughput": release / "throughput",
    }
    missing = [str(p) for p in binaries.values() if not p.exists()]
    if missing:
        raise SystemExit("not built: " + ", ".join(missing) + " (make bench builds them)")

    host = machine()
    host["busy_before"] = cpu_busy()
    run_start = cpu_jiffies(), own_cpu_seconds()
    shm = pathlib.Path("/dev/shm")
    on_tmpfs = shm.is_dir() and os.access(shm, os.W_OK)
    work = pathlib.Path(tempfile.mkdtemp(prefix="scribehook-bench-",
                                         dir=str(shm) if on_tmpfs else None))
    storage_note = "tmpfs (/dev/shm)" if on_tmpfs else f"{work.parent} (no /dev/shm here: not tmpfs)"
    peer_python, peer_missing = peer_status()
    started = time.monotonic()
    moto = None
    try:
        print(f"== make bench: {args.runs} interleaved cold runs per function, "
              f"{args.processor_runs} processor runs; files on {storage_note}; "
              f"{host['nproc']} cores, load {host['load']}", flush=True)
        body = bota_body()
        body_path = work / "bota-transcription.completed.json"
        body_path.write_bytes(body)
        segments = len(json.loads(body)["data"]["segments"])
        print(f"   Bota transcription.completed body: {len(body):,} bytes, {segments:,} segments",
              flush=True)

        os.environ["MOTO_RECORDER_FILEPATH"] = str(work / "moto-recording.jsonl")
        moto = Moto()
        s3 = moto.client("s3")
        s3.create_bucket(Bucket=ARCHIVE_BUCKET)
        sqs = moto.client("sqs")
        queue_url = sqs.create_queue(QueueName="scribehook-bench-deliveries")["QueueUrl"]

        results = ingest_rounds(args, binaries, work, body, peer_python, moto, queue_url)
        processor = processor_runs(args, binaries, work, moto)
        throughput = run_throughput(args, binaries, body_path)
        profile = profile_runs(args, binaries, work, body)
        cost = cost_runs(args, binaries, work, moto, body)
    finally:
        if moto is not None:
            moto.stop()
        shutil.rmtree(work, ignore_errors=True)
    host["busy_during"] = other_work(run_start[0], cpu_jiffies(), run_start[1], own_cpu_seconds())
    host["busy_after"] = cpu_busy()
    host["load_after"] = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    host["own_maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sizes = {name: path.stat().st_size for name, path in binaries.items()}
    report = Report(args, host, storage_note, len(body), segments, results, processor,
                    throughput, profile, sizes, peer_missing, time.monotonic() - started)
    report.cost = cost
    report.print()
    report.write(pathlib.Path(args.doc), pathlib.Path(args.notes))
    print(f"== wrote {os.path.relpath(args.doc, ROOT)} from this run "
          f"({time.monotonic() - started:.0f} s)")


def ingest_rounds(args, binaries, work, body, peer_python, moto, queue_url):
    """Rows 1, 2, 3, 7 and 8 and the informative lines: every function started cold once
    per round, the order rotating from round to round; round 0 warms caches and is dropped."""
    second = {b'"evt_ghi789"': b'"evt_ghi790"', b'"rec_xyz789"': b'"rec_xyz790"'}
    secrets = {"BOTA_WEBHOOK_SECRETS": BOTA_SECRET}
    nc_body = nabla_connect_body(len(body))
    nc_id = json.loads(nc_body)["request_uuid"]

    def file_env(run_dir):
        return {**secrets, "ARCHIVE": f"file://{run_dir}", "STORE": f"file://{run_dir}"}

    def deployed_env(run_dir, n, prefix="run"):
        return {**secrets, **moto.env(), "ARCHIVE": f"s3://{ARCHIVE_BUCKET}/{prefix}-{n}",
                "STORE": "dynamodb://scribehook-bench-records", "QUEUE_URL": queue_url}

    def nc_env(run_dir, n):
        return {**deployed_env(run_dir, n, "nc"),
                "NABLA_CONNECT_WEBHOOK_SECRETS": NABLA_CONNECT_SECRET}

    def check_ingest(name):
        def check(run, run_dir, n):
            for response in run["responses"]:
                expect_accepted(name, response)
        return check

    def check_echo(run, run_dir, n):
        for event, response in zip(run["events"], run["responses"]):
            if abs(len(response) - len(event)) > len(event) // 10:
                raise RunFailed(f"the bare function echoed {len(response)} bytes "
                                f"of a {len(event)}-byte event")

    def check_constant(run, run_dir, n):
        for response in run["responses"]:
            if json.loads(response).get("statusCode") != 200:
                raise RunFailed(f"the constant floor answered {response[:200]!r}")

    def check_nabla_connect(run, run_dir, n):
        check_ingest("ingest (Nabla Connect, deployed configuration)")(run, run_dir, n)
        _, answer = http_answer(run["responses"][0])
        if answer.get("request_uuid") != nc_id:
            raise RunFailed(f"the Nabla Connect answer does not repeat request_uuid: {answer}")

    def check_stored(run, run_dir, n):
        check_ingest("ingest")(run, run_dir, n)
        record = run_dir / "records" / "bota" / "rec_xyz789" / "record.json"
        if not record.exists():
            raise RunFailed(f"the ingest answered but wrote no record at {record}")

    def check_deployed(run, run_dir, n):
        check_ingest("ingest (deployed configuration)")(run, run_dir, n)
        if n == 0:
            keys = [o["Key"] for o in moto.client("s3").list_objects_v2(
                Bucket=ARCHIVE_BUCKET, Prefix="run-0/").get("Contents", [])]
            if "run-0/raw/bota/evt_ghi789.json" not in keys:
                raise RunFailed(f"the deployed ingest archived {keys} on S3")

    variants = [
        {"name": "constant", "cmd": [str(binaries["constant"])], "env": lambda d, n: {},
         "events": 1, "check": check_constant},
        {"name": "constant_warm", "cmd": [str(binaries["constant"])], "env": lambda d, n: {},
         "events": 2, "check": check_constant},
        {"name": "bare", "cmd": [str(binaries["bare"])], "env": lambda d, n: {},
         "events": 1, "check": check_echo},
        {"name": "ingest", "cmd": [str(binaries["ingest"])], "env": lambda d, n: file_env(d),
         "events": 1, "check": check_stored},
        {"name": "bare_warm", "cmd": [str(binaries["bare"])], "env": lambda d, n: {},
         "events": 2, "check": check_echo},
        {"name": "ingest_warm", "cmd": [str(binaries["ingest"])],
         "env": lambda d, n: file_env(d), "events": 2, "check": check_ingest("ingest")},
        {"name": "deployed", "cmd": [str(binaries["ingest"])], "env": deployed_env,
         "events": 1, "check": check_deployed},
        {"name": "nc_deployed", "cmd": [str(binaries["ingest"])], "env": nc_env,
         "events": 1, "check": check_nabla_connect,
         "event": lambda: nabla_connect_event(nc_body)},
        # The cost table's small delivery: the Bota sample as it is.
        {"name": "deployed_small", "cmd": [str(binaries["ingest"])],
         "env": lambda d, n: deployed_env(d, n, "small"), "events": 1,
         "check": check_ingest("ingest (deployed configuration, small delivery)"),
         "event": lambda: bota_event(SMALL_BODY)},
    ]
    if peer_python:
        variants.append({"name": "peer", "cmd": [peer_python, "-m", "awslambdaric", "handler.handler"],
                         "cwd": str(PEER_DIR), "env": lambda d, n: secrets, "events": 1,
                         "check": check_ingest("the Python peer")})
        variants.append({"name": "peer_small",
                         "cmd": [peer_python, "-m", "awslambdaric", "handler.handler"],
                         "cwd": str(PEER_DIR), "env": lambda d, n: secrets, "events": 1,
                         "check": check_ingest("the Python peer (small delivery)"),
                         "event": lambda: bota_event(SMALL_BODY)})
    results = {v["name"]: [] for v in variants}
    answers = {}
    for round_no in range(args.runs + 1):
        shift = round_no % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            run_dir = work / f"{variant['name']}-{round_no}"
            run_dir.mkdir()
            events = [variant["event"]() if "event" in variant else bota_event(body)]
            if variant["events"] == 2:
                events.append(bota_event(body, second))
            run = run_function(variant["cmd"], variant["env"](run_dir, round_no), events,
                               work / "function.log", cwd=variant.get("cwd"))
            run["events"] = events
            variant["check"](run, run_dir, round_no)
            if round_no == 0:
                answers[variant["name"]] = run["responses"][0]
            else:
                kept = {k: run[k] for k in ("init_ms", "invoke_ms", "rss_kib", "ru_maxrss_kib",
                                            "init_cpu_ms", "init_wait_ms", "invoke_cpu_ms",
                                            "log_bytes")}
                if variant["name"] == "peer":
                    kept["handler_ms"] = http_answer(run["responses"][0])[1].get("handler_ms")
                results[variant["name"]].append(kept)
            shutil.rmtree(run_dir, ignore_errors=True)
        if round_no == 0:
            for name in ("ingest", "deployed", "nc_deployed", "peer"):
                if name in answers:
                    status, answer = http_answer(answers[name])
                    print(f"   {name} answered the signed {len(body) / MB:.1f} MB delivery: HTTP {status} "
                          f"{json.dumps(answer)}", flush=True)
        elif round_no % 5 == 0 or round_no == args.runs:
            print(f"   round {round_no}/{args.runs} done", flush=True)
    return results


def processor_runs(args, binaries, work, moto):
    """Row 5: the processor on a Daily batch job whose Deepgram transcript in S3 (moto) is
    50 MB. The job's delivery is archived by the real ingest (QUEUE_URL on moto, ARCHIVE on
    files), the SQS event is the message it queued; each run gets a fresh copy of that
    archive, STORE file:// beside it."""
    transcript = deepgram_transcript()
    payload = (ROOT / "events/payloads/daily/batch-processor.job-finished.json").read_bytes()
    payload = payload.replace(b"daily-co-batch-processor-qa-us-west-2", OUTPUT_BUCKET.encode())
    job = json.loads(payload)
    outputs = job["payload"]["output"]
    s3 = moto.client("s3", OUTPUT_REGION)
    s3.create_bucket(Bucket=OUTPUT_BUCKET,
                     CreateBucketConfiguration={"LocationConstraint": OUTPUT_REGION})
    json_key = next(t["s3Config"]["key"] for t in outputs["transcription"] if t["format"] == "json")
    s3.put_object(Bucket=OUTPUT_BUCKET, Key=json_key, Body=transcript)
    for kind, file in (("soap", "soap.json"), ("concept", "concepts.json"), ("summary", "summary.txt")):
        s3.put_object(Bucket=OUTPUT_BUCKET, Key=outputs[kind]["s3Config"]["key"],
                      Body=(ROOT / "events/outputs" / file).read_bytes())
    print(f"   Deepgram transcript in S3 (moto): {len(transcript):,} bytes at "
          f"s3://{OUTPUT_BUCKET}/{json_key}", flush=True)

    sqs = moto.client("sqs")
    queue_url = sqs.create_queue(QueueName="scribehook-bench-processor-setup")["QueueUrl"]
    archive = work / "processor-archive"
    archive.mkdir()
    setup = run_function([str(binaries["ingest"])],
                         {"DAILY_WEBHOOK_SECRETS": DAILY_SECRET, **moto.env(),
                          "ARCHIVE": f"file://{archive}", "STORE": f"file://{archive}",
                          "QUEUE_URL": queue_url},
                         [daily_event(payload)], work / "function.log")
    expect_accepted("ingest (archiving the Daily job)", setup["responses"][0])
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1).get("Messages", [])
    if not messages:
        raise RunFailed("the ingest queued no message for the Daily job")
    sample = json.loads((ROOT / "events/sqs/daily.json").read_text())["Records"][0]
    record = {**sample, "messageId": messages[0]["MessageId"], "body": messages[0]["Body"],
              "md5OfBody": messages[0].get("MD5OfBody", "")}
    sqs_event = json.dumps({"Records": [record]}).encode()
    event_id = json.loads(messages[0]["Body"])["event_id"]

    env = {**moto.env(), "ALLOWED_OUTPUT_BUCKETS": OUTPUT_BUCKET,
           "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}
    runs = []
    for n in range(args.processor_runs + 1):
        run_dir = work / f"processor-{n}"
        shutil.copytree(archive / "raw", run_dir / "raw")
        run = run_function([str(binaries["processor"])],
                           {**env, "ARCHIVE": f"file://{run_dir}", "STORE": f"file://{run_dir}"},
                           [sqs_event], work / "function.log")
        answer = json.loads(run["responses"][0])
        if answer.get("batchItemFailures"):
            raise RunFailed(f"the processor failed the message: {answer}")
        written = list((run_dir / "records" / "daily").glob(f"*/events/{event_id}.json"))
        if not written:
            raise RunFailed(f"the processor answered {answer} but wrote no event for {event_id}")
        event = json.loads(written[0].read_bytes())
        fetched = [a for a in event.get("artifacts", [])
                   if a["kind"] == "transcript" and a.get("fetched")]
        lines = len((event.get("transcript") or {}).get("segments", []))
        if not fetched or fetched[0].get("bytes") != len(transcript) or not lines:
            raise RunFailed(f"the processor did not read the {len(transcript)}-byte transcript: "
                            f"{event.get('artifacts')}")
        if n == 0:
            print(f"   processor answered {json.dumps(answer)}; its event has {lines:,} "
                  f"transcript segments from the {fetched[0]['bytes']:,}-byte "
                  f"{fetched[0]['format']} output", flush=True)
        else:
            runs.append({"rss_kib": run["rss_kib"], "ru_maxrss_kib": run["ru_maxrss_kib"],
                         "invoke_ms": run["invoke_ms"][0], "init_ms": run["init_ms"]})
        shutil.rmtree(run_dir, ignore_errors=True)
    return {"object_bytes": len(transcript), "runs": runs}


def profile_runs(args, binaries, work, body):
    """The profile of the inline path: bench/src/bin/profile.rs, the real ingest handler
    with a layer timing its stage spans, each run in a fresh process (as a cold start's first
    invoke) on a freshly signed copy of the event, ARCHIVE and STORE on files in its own
    directory. Medians per stage over the runs."""
    runs = []
    for n in range(args.profile_runs + 1):
        run_dir = work / f"profile-{n}"
        run_dir.mkdir()
        event_path = work / "profile-event.json"
        event_path.write_bytes(bota_event(body))
        env = lambda_env("127.0.0.1:9", {"BOTA_WEBHOOK_SECRETS": BOTA_SECRET,
                                          "ARCHIVE": f"file://{run_dir}",
                                          "STORE": f"file://{run_dir}"})
        out = subprocess.run([str(binaries["profile"]), str(event_path)], env=env,
                             capture_output=True, text=True)
        shutil.rmtree(run_dir, ignore_errors=True)
        if out.returncode != 0:
            raise RunFailed(f"profile failed: {out.stderr.strip()[-2000:]}")
        # Its stdout also carries the function's EMF lines; the figures are the line with
        # "stages".
        lines = [l for l in out.stdout.splitlines() if l.startswith("{") and '"stages"' in l]
        if not lines:
            raise RunFailed(f"profile printed no figures: {out.stdout[-2000:]}")
        run = json.loads(lines[-1])
        if run["status"] != 200 or '"accepted"' not in run["answer"]:
            raise RunFailed(f"profile: the ingest answered {run['status']} {run['answer']}")
        if n > 0:
            runs.append(run)
    return runs


def aws_requests(recording):
    """What the functions asked of AWS, from moto's recording (one JSON line per request):
    counts by service and operation, with DynamoDB's write and read units and EventBridge's
    and SQS's 64 KB chunks estimated from the request bodies' sizes."""
    counts = {}

    def add(key, n=1):
        counts[key] = counts.get(key, 0) + n

    for line in recording.read_text().splitlines() if recording.exists() else []:
        entry = json.loads(line)
        headers = {k.lower(): v for k, v in entry["headers"].items()}
        if "aws-sdk-rust" not in headers.get("user-agent", "") + headers.get("x-amz-user-agent", ""):
            continue  # this script's own boto3 calls
        scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", headers.get("authorization", ""))
        service = scope[1] if scope else "?"
        body = entry.get("body") or ""
        raw = base64.b64decode(body) if entry.get("body_encoded") else body.encode()
        target = headers.get("x-amz-target", "")
        op = target.split(".")[-1] if target else entry["method"]
        add(f"{service} {op}")
        if service == "dynamodb" and op in ("PutItem", "UpdateItem", "DeleteItem"):
            item = json.loads(raw).get("Item", {})
            add("dynamodb write units", max(1, -(-len(json.dumps(item)) // 1024)))
        elif service == "dynamodb" and op in ("GetItem", "Query"):
            add("dynamodb read units")
        elif service == "events" and op == "PutEvents":
            for e in json.loads(raw).get("Entries", []):
                add("events chunks", max(1, -(-len(json.dumps(e)) // 65536)))
        elif service == "sqs" and op == "SendMessage":
            add("sqs chunks", max(1, -(-len(json.loads(raw).get("MessageBody", "")) // 65536)))
    return counts


def cost_runs(args, binaries, work, moto, body):
    """The cost table's deliveries through the deployed path on moto: the ingest (ARCHIVE on
    S3, QUEUE_URL set), then the processor (1024 MB, STORE on DynamoDB, notifications on an
    EventBridge bus) on the message it queued, each cold, for the small sample and the large
    body; moto records every request the functions make."""
    recording = pathlib.Path(os.environ["MOTO_RECORDER_FILEPATH"])
    sqs, ddb, events = moto.client("sqs"), moto.client("dynamodb"), moto.client("events")
    queue_url = sqs.create_queue(QueueName="scribehook-bench-cost")["QueueUrl"]
    bus = "scribehook-bench-bus"
    events.create_event_bus(Name=bus)
    sample = json.loads((ROOT / "events/sqs/bota.json").read_text())["Records"][0]
    recorder = moto.endpoint + "/moto-api/recorder/"
    import urllib.request

    def recorder_call(action):
        urllib.request.urlopen(urllib.request.Request(recorder + action, method="POST"), b"").read()

    runs = {"small": [], "large": []}
    for kind, kind_body in (("small", SMALL_BODY), ("large", body)):
        for n in range(args.processor_runs + 1):
            prefix, table = f"cost-{kind}-{n}", f"cost-{kind}-{n}"
            ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                             AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                   {"AttributeName": "sk", "AttributeType": "S"}],
                             KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                        {"AttributeName": "sk", "KeyType": "RANGE"}])
            env = {**moto.env(), "ARCHIVE": f"s3://{ARCHIVE_BUCKET}/{prefix}",
                   "STORE": f"dynamodb://{table}"}
            recording.unlink(missing_ok=True)
            recorder_call("start-recording")
            ingest = run_function([str(binaries["ingest"])],
                                  {**env, "BOTA_WEBHOOK_SECRETS": BOTA_SECRET, "QUEUE_URL": queue_url},
                                  [bota_event(kind_body)], work / "function.log")
            recorder_call("stop-recording")
            expect_accepted(f"ingest (cost, {kind})", ingest["responses"][0])
            ingest_requests = aws_requests(recording)
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1).get("Messages", [])
            if not messages:
                raise RunFailed(f"the ingest queued no message for the {kind} delivery")
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
            record = {**sample, "messageId": messages[0]["MessageId"], "body": messages[0]["Body"],
                      "md5OfBody": messages[0].get("MD5OfBody", "")}
            recording.unlink(missing_ok=True)
            recorder_call("start-recording")
            proc = run_function([str(binaries["processor"])],
                                {**env, "NOTIFY_BUS": bus, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"},
                                [json.dumps({"Records": [record]}).encode()], work / "function.log")
            recorder_call("stop-recording")
            answer = json.loads(proc["responses"][0])
            if answer.get("batchItemFailures"):
                raise RunFailed(f"the processor failed the {kind} delivery: {answer}")
            items = ddb.scan(TableName=table, Select="COUNT")["Count"]
            if items < 2:
                raise RunFailed(f"the processor answered {answer} but wrote {items} items")
            processor_requests = aws_requests(recording)
            ddb.delete_table(TableName=table)
            if n == 0:
                print(f"   cost, {kind} delivery ({len(kind_body):,} bytes): ingest asked "
                      f"{ingest_requests}, processor asked {processor_requests}", flush=True)
                continue
            keep = ("init_ms", "invoke_ms", "init_cpu_ms", "invoke_cpu_ms", "log_bytes")
            runs[kind].append({"body_bytes": len(kind_body),
                               "ingest": {k: ingest[k] for k in keep},
                               "processor": {k: proc[k] for k in keep},
                               "requests": {"ingest": ingest_requests,
                                            "processor": processor_requests}})
    recording.unlink(missing_ok=True)
    return runs


def run_throughput(args, binaries, body_path):
    """Row 6: bench/src/bin/throughput.rs on the same bytes (its own interleaved iterations)."""
    out = subprocess.run([str(binaries["throughput"]), str(body_path),
                          str(args.throughput_iterations)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RunFailed(f"throughput example failed: {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------
# The report: the lines printed and docs/performance.md, from the same numbers.

class Report:
    def __init__(self, args, host, storage, body_bytes, segments, results, processor,
                 throughput, profile, sizes, peer_missing, elapsed):
        self.profile = profile
        self.args, self.host, self.storage = args, host, storage
        self.body_bytes, self.segments = body_bytes, segments
        self.results, self.processor, self.throughput = results, processor, throughput
        self.sizes, self.peer_missing, self.elapsed = sizes, peer_missing, elapsed
        self.rows = self.build_rows()
        self.extras = self.build_extras()

    def values(self, name, key, index=0):
        runs = self.results.get(name, [])
        if key in ("invoke_ms", "invoke_cpu_ms"):
            values = [r[key][index] for r in runs]
        else:
            values = [r[key] for r in runs]
        return [v for v in values if v is not None]

    def build_rows(self):
        rows = []

        def row(measurement, floor, ours, ratio, target, met, note=""):
            rows.append({"measurement": measurement, "floor": floor, "ours": ours,
                         "ratio": ratio, "target": target, "met": met, "note": note})

        med = lambda name, key="init_ms", index=0: median(self.values(name, key, index))
        c_init, ingest_init = med("constant"), med("ingest")
        r = ingest_init / c_init
        row("ingest cold start (exec -> first poll), file://", ms(c_init), ms(ingest_init),
            f"{r:.2f}x", "<= 1.5x", r <= 1.5)

        d_init = med("deployed")
        r = d_init / c_init
        row("ingest cold start, deployed configuration (S3 archive + queue clients at init)",
            ms(c_init), ms(d_init), f"{r:.2f}x", "<= 2x", r <= 2)

        c_inv, ingest_inv = med("constant", "invoke_ms"), med("ingest", "invoke_ms")
        r = ingest_inv / c_inv
        row(f"ingest invoke, {self.body_bytes / MB:.1f} MB Bota, file:// tmpfs, inline",
            ms(c_inv), ms(ingest_inv), f"{r:.2f}x", "<= 3x", r <= 3)

        if self.results.get("peer"):
            peer_inv = med("peer", "invoke_ms")
            r = peer_inv / ingest_inv
            row("Python receiver (awslambdaric + boto3), same event", f"peer {ms(peer_inv)}",
                ms(ingest_inv), f"{r:.2f}x", "peer/ours >= 3x", r >= 3)
        else:
            row("Python receiver (awslambdaric + boto3), same event", "not measured", ms(ingest_inv),
                "-", "peer/ours >= 3x", None, self.peer_missing or "")

        d_inv, nc_inv = med("deployed", "invoke_ms"), med("nc_deployed", "invoke_ms")
        r = nc_inv / d_inv
        row(f"Nabla Connect reply time: NOTE_EXPORT of {self.body_bytes / MB:.1f} MB, deployed "
            "configuration (archive to S3 + enqueue + 200, moto), against Bota's ingest of a "
            "body of the same size", f"Bota {ms(d_inv)}", ms(nc_inv), f"{r:.2f}x",
            "informative", "info")

        c_size, ingest_size = self.sizes["constant"], self.sizes["ingest"]
        row("release binary size", mbytes(c_size), mbytes(ingest_size),
            f"{ingest_size / c_size:.2f}x", "ingest <= 8 MB", ingest_size <= SIZE_TARGET_BYTES)

        obj = self.processor["object_bytes"]
        rss = median([r["rss_kib"] for r in self.processor["runs"]]) * 1024
        r = rss / obj
        row(f"processor peak RSS, {obj / MB:.0f} MB Deepgram transcript from S3 (moto)",
            mbytes(obj), f"{rss / MB:.1f} MB", f"{r:.2f}x", "<= 2.5x", r <= 2.5)

        t = self.throughput
        r = t["ratio"]
        row("in-process verify + parse + normalize (throughput)",
            f"{t['floor_mb_per_s']:.0f} MB/s", f"{t['ours_mb_per_s']:.0f} MB/s", f"{r:.2f}x",
            ">= 1.5x", r >= 1.5)

        bare_rss, ingest_rss = med("bare", "rss_kib"), med("ingest", "rss_kib")
        r = ingest_rss / bare_rss
        row(f"ingest peak RSS on the {self.body_bytes / MB:.1f} MB event (floor: the echo)",
            mib(bare_rss), mib(ingest_rss), f"{r:.2f}x", "<= 1.5x", r <= 1.5)
        return rows

    def build_extras(self):
        extras = []
        med = lambda name, key="init_ms", index=0: median(self.values(name, key, index))
        c_init, c_inv = med("constant"), med("constant", "invoke_ms")
        bare_inv, ingest_inv = med("bare", "invoke_ms"), med("ingest", "invoke_ms")
        extras.append(("the former floor, a bare function echoing the event back (it also "
                       "encodes and returns 5.3 MB)",
                       f"invoke {ms(bare_inv)}; ingest {ingest_inv / bare_inv:.2f}x it; the "
                       f"constant floor is {c_inv / bare_inv:.2f}x it; init {ms(med('bare'))}"))
        d_inv, nc_inv = med("deployed", "invoke_ms"), med("nc_deployed", "invoke_ms")
        extras.append(("deployed configuration: first invoke (archive to S3 + enqueue, on moto)",
                       f"Bota {ms(d_inv)} ({d_inv / c_inv:.2f}x the constant floor), Nabla "
                       f"Connect {ms(nc_inv)} ({nc_inv / c_inv:.2f}x); moto-bound"))
        extras.append(("Nabla Connect, deployed configuration: init",
                       f"{ms(med('nc_deployed'))} ({med('nc_deployed') / c_init:.2f}x the floor)"))
        def cpu_line(name, key, index=0):
            values = self.values(name, key, index)
            return median(values) if values else None

        b_cpu, i_cpu = cpu_line("constant", "init_cpu_ms"), cpu_line("ingest", "init_cpu_ms")
        b_wait, i_wait = cpu_line("constant", "init_wait_ms"), cpu_line("ingest", "init_wait_ms")
        d_cpu = cpu_line("deployed", "init_cpu_ms")
        if None not in (b_cpu, i_cpu, b_wait, i_wait):
            extras.append(("init on a CPU (all threads; not slowed by other load)",
                           f"ingest {ms(i_cpu)} vs floor {ms(b_cpu)} ({i_cpu / b_cpu:.2f}x); "
                           f"deployed configuration {ms(d_cpu)} ({d_cpu / b_cpu:.2f}x); "
                           f"waiting for a CPU during init: ingest {ms(i_wait)}, floor {ms(b_wait)}"))
        b_cpu, i_cpu = cpu_line("constant", "invoke_cpu_ms"), cpu_line("ingest", "invoke_cpu_ms")
        p_cpu = cpu_line("peer", "invoke_cpu_ms")
        if None not in (b_cpu, i_cpu):
            line = f"ingest {ms(i_cpu)} vs constant floor {ms(b_cpu)} ({i_cpu / b_cpu:.2f}x)"
            if p_cpu is not None:
                line += f"; Python peer {ms(p_cpu)} ({p_cpu / i_cpu:.2f}x ours)"
            extras.append(("first invoke on a CPU (all threads)", line))
        w_const, w_bare = med("constant_warm", "invoke_ms", 1), med("bare_warm", "invoke_ms", 1)
        w_ingest = med("ingest_warm", "invoke_ms", 1)
        extras.append(("warm (second) invoke, another event id and subject, file://",
                       f"ingest {ms(w_ingest)} vs constant floor {ms(w_const)} "
                       f"({w_ingest / w_const:.2f}x); bare echo {ms(w_bare)}"))
        if self.results.get("peer"):
            p_init = median(self.values("peer", "init_ms"))
            extras.append(("Python peer: init (imports, boto3 clients)",
                           f"{ms(p_init)} (ingest {ms(median(self.values('ingest', 'init_ms')))})"))
            extras.append(("Python peer: peak RSS on the event", mib(median(self.values("peer", "rss_kib")))))
        runs = self.processor["runs"]
        extras.append(("processor: invoke (fetch 50 MB from moto, parse, write the record)",
                       ms(median([r["invoke_ms"] for r in runs]))))
        extras.append(("processor release binary", mbytes(self.sizes["processor"])))
        extras.append(("wait4's ru_maxrss, not used (see Method)",
                       f"bare echo {mib(median(self.values('bare', 'ru_maxrss_kib')))}, ingest "
                       f"{mib(median(self.values('ingest', 'ru_maxrss_kib')))}, processor "
                       f"{mib(median([r['ru_maxrss_kib'] for r in runs]))}; this script's own "
                       f"peak {mib(self.host['own_maxrss_kib'])}"))
        t = self.throughput
        if self.results.get("peer") and all(r.get("handler_ms") for r in self.results["peer"]):
            p_handler = median(self.values("peer", "handler_ms"))
            ours = t["ours_median_ns"] / 1e6
            extras.append(("like for like, verify + parse + normalize of the 5.3 MB body",
                           f"ours {ms(ours)} in process (row 8) vs the Python peer's handler "
                           f"{ms(p_handler)}: ours {p_handler / ours:.2f}x faster"))
        extras.append(("throughput medians per iteration",
                       f"floor {t['floor_median_ns'] / 1e6:.2f} ms, ours {t['ours_median_ns'] / 1e6:.2f} ms "
                       f"({t['body_bytes']:,} bytes, {t['segments']:,} segments, {t['iterations']} iterations)"))
        return extras

    def busy(self):
        """A warning when other work kept the machine's CPUs busy around the run."""
        busy = self.host["busy_during"]
        if busy < 0.15:
            return None
        return (f"the machine was busy: other work used {busy:.0%} of its CPU time during "
                f"this run. Wall times carry the waits for a CPU, which pull the short ones "
                "(init) towards a ratio of 1; the on-CPU lines below are not slowed by other "
                "load")

    def profile_table(self):
        """(stage, median ms, share of the ingest's invoke) rows of the inline path's profile:
        each stage's own time (its total less its nested stages'), in the order they run."""
        runs = self.profile
        if not runs:
            return []
        ingest_inv = median(self.values("ingest", "invoke_ms"))
        floor = median(self.values("constant", "invoke_ms"))
        paths = []
        for run in runs:
            for stage in run["stages"]:
                if stage["path"] not in paths:
                    paths.append(stage["path"])

        def total(run, path):
            return sum(st["ms"] for st in run["stages"] if st["path"] == path)

        def own(run, path):
            depth = path.count(" > ") + 1
            nested = sum(st["ms"] for st in run["stages"]
                         if st["path"].startswith(path + " > ") and st["path"].count(" > ") == depth)
            return total(run, path) - nested

        def count(path):
            return max(st["count"] for run in runs for st in run["stages"] if st["path"] == path)

        top = [p for p in paths if " > " not in p]
        table = [("receiving and decoding the event: the constant floor's whole invoke "
                  "(runtime read, JSON decode, a constant answer)", floor)]
        table.append(("  of which the event's decode into the ingest's request type, in "
                      "process (`GatewayRequest`)", median([r["decode_ms"] for r in runs])))
        for path in paths:
            n = count(path)
            label = path.replace(" > ", " / ") + (f" (x{n})" if n > 1 else "")
            if any(p.startswith(path + " > ") for p in paths):
                label += " (the rest, outside its nested stages: waiting for the write thread, bookkeeping)"
            table.append((label, median([own(r, path) for r in runs])))
        table.append(("rest of the handler: routing, keys, answer, log line, metrics, "
                      "draft → event (`finish`)",
                      median([r["handler_ms"] - sum(total(r, p) for p in top) for r in runs])))
        return table, ingest_inv, floor

    def profile_lines(self):
        made = self.profile_table()
        if not made:
            return []
        table, ingest_inv, floor = made
        runs = self.profile
        handler = median([r["handler_ms"] for r in runs])
        lines = ["", "## Profile of the inline path", "",
                 f"The {self.body_bytes / MB:.1f} MB Bota delivery through the real ingest "
                 f"handler (`bench/src/bin/profile.rs`), one fresh process per run, "
                 f"{len(runs)} runs: each stage span's own time (nested stages "
                 "subtracted; `a / b` is stage b inside stage a), median over the runs. "
                 f"The handler took {ms(handler)} (median) in process; row 3's invoke, "
                 f"{ms(ingest_inv)}, adds the runtime's read of the event, its decode and the "
                 "answer's return, which the constant floor also pays.", "",
                 "| stage | ms | share of row 3's invoke |", "|---|---|---|"]
        for label, value in table:
            lines.append(f"| {label} | {value:.2f} | {value / ingest_inv:.0%} |")
        return lines

    def cost_table(self):
        """(line, small, large, mix, Python mix) in dollars per million deliveries, from the
        cost runs' measured CPU times and recorded AWS requests, at PRICES."""
        cost = getattr(self, "cost", None)
        if not cost or not cost.get("small") or not cost.get("large"):
            return None
        price = {key: value for key, value, _ in PRICES}

        def med(kind, fn, key):
            # Invoke figures are lists, one per event: each run had one.
            return median([r[fn][key][0] if isinstance(r[fn][key], list) else r[fn][key]
                           for r in cost[kind]])

        def req(kind, fn, key):
            return median([r["requests"][fn].get(key, 0) for r in cost[kind]])

        def gb_s(cpu_ms, memory_mb):
            # On Lambda a function gets memory/1769 of a vCPU: CPU time stretches by the
            # inverse below 1769 MB. Billed per started millisecond.
            scale = max(1.0, VCPU_MB / memory_mb)
            return math.ceil(cpu_ms * scale) / 1000 * memory_mb / 1024

        def peer_cpu(kind, key):
            name = "peer" if kind == "large" else "peer_small"
            values = self.values(name, key) if self.results.get(name) else []
            return median(values) if values else None

        def lines(kind, python=False):
            body = cost[kind][0]["body_bytes"]
            ingest_cpu, ingest_init = med(kind, "ingest", "invoke_cpu_ms"), med(kind, "ingest", "init_cpu_ms")
            if python:
                ingest_cpu, ingest_init = peer_cpu(kind, "invoke_cpu_ms"), peer_cpu(kind, "init_cpu_ms")
                if ingest_cpu is None or ingest_init is None:
                    return None
            proc_cpu, proc_init = med(kind, "processor", "invoke_cpu_ms"), med(kind, "processor", "init_cpu_ms")
            s3_put = req(kind, "ingest", "s3 PUT") + req(kind, "processor", "s3 PUT")
            s3_get = (req(kind, "ingest", "s3 GET") + req(kind, "processor", "s3 GET")
                      + req(kind, "ingest", "s3 HEAD") + req(kind, "processor", "s3 HEAD"))
            sqs = req(kind, "ingest", "sqs chunks") + SQS_ESM_REQUESTS
            log_bytes = med(kind, "ingest", "log_bytes") + med(kind, "processor", "log_bytes")
            m = 1e6
            wru, rru = req(kind, "processor", "dynamodb write units"), req(kind, "processor", "dynamodb read units")
            events = req(kind, "processor", "events chunks")
            units = math.ceil(body / (512 * 1024))
            # line -> (dollars a million deliveries, what one delivery asks)
            return {
                "API Gateway HTTP API (a request per 512 KB)": (m * units * price["apigw"], f"{units}"),
                "ingest Lambda, 256 MB: duration": (m * gb_s(ingest_cpu, INGEST_MB) * price["lambda_gb_s"],
                                                    f"{math.ceil(ingest_cpu * VCPU_MB / INGEST_MB)} ms"),
                f"ingest Lambda: init, {COLD_SHARE:.0%} of deliveries cold":
                    (m * COLD_SHARE * gb_s(ingest_init, INGEST_MB) * price["lambda_gb_s"],
                     f"{math.ceil(ingest_init * VCPU_MB / INGEST_MB)} ms"),
                "Lambda requests (ingest + processor, one message a batch)": (m * 2 * price["lambda_request"], "2"),
                "processor Lambda, 1024 MB: duration": (m * gb_s(proc_cpu, PROCESSOR_MB) * price["lambda_gb_s"],
                                                        f"{math.ceil(proc_cpu * VCPU_MB / PROCESSOR_MB)} ms"),
                f"processor Lambda: init, {COLD_SHARE:.0%} cold":
                    (m * COLD_SHARE * gb_s(proc_init, PROCESSOR_MB) * price["lambda_gb_s"],
                     f"{math.ceil(proc_init * VCPU_MB / PROCESSOR_MB)} ms"),
                "S3 PUT": (m * s3_put * price["s3_put"], f"{s3_put:g}"),
                "S3 GET/HEAD": (m * s3_get * price["s3_get"], f"{s3_get:g}"),
                "SQS (send; the mapping's receive and delete)": (m * sqs * price["sqs"], f"{sqs:g}"),
                "DynamoDB writes": (m * wru * price["ddb_write"], f"{wru:g} WRU"),
                "DynamoDB reads": (m * rru * price["ddb_read"], f"{rru:g} RRU"),
                "EventBridge events": (m * events * price["eventbridge"], f"{events:g}"),
                "CloudWatch Logs (the functions' output)": (m * log_bytes / 1e9 * price["logs_gb"],
                                                            f"{log_bytes:,.0f} B"),
                "X-Ray (Tracing Active; every invocation sampled)": (m * 2 * price["xray"], "2 traces"),
            }

        table = []
        small, large = lines("small"), lines("large")
        py_small, py_large = lines("small", True), lines("large", True)
        for label in small:
            (s, s_ask), (l, l_ask) = small[label], large[label]
            table.append([label, s, l, MIX_SMALL * s + (1 - MIX_SMALL) * l, s_ask, l_ask])
        py_mix = None
        if py_small and py_large:
            py_mix = [MIX_SMALL * py_small[label][0] + (1 - MIX_SMALL) * py_large[label][0]
                      for label in small]
        return table, py_mix

    def cost_lines(self):
        made = self.cost_table()
        if not made:
            return []
        table, py_mix = made
        cost = self.cost
        lines = ["", "## What a million deliveries cost", "",
                 f"Deliveries through the deployed path on moto (`cost_runs` in `scripts/bench.py`): "
                 f"the ingest (S3 archive, SQS queue), then the processor on the message it queued "
                 f"(DynamoDB record store, notifications on an EventBridge bus), each started cold, "
                 f"{len(cost['small'])} runs of each delivery. The **small** delivery is Bota's "
                 f"sample `transcription.completed` ({cost['small'][0]['body_bytes']:,} bytes); "
                 f"the **large** one is the {cost['large'][0]['body_bytes'] / MB:.1f} MB body above. "
                 f"**Mix**: {MIX_SMALL:.0%} small, {1 - MIX_SMALL:.0%} large (lifecycle events "
                 "around each transcript). Requests are counted from moto's recording of the "
                 "functions' own calls (DynamoDB units and 64 KB chunks from the request sizes); "
                 "durations are the functions' measured CPU time (medians), stretched to the "
                 f"template's memory sizes (a function gets memory/{VCPU_MB} of a vCPU: x"
                 f"{VCPU_MB / INGEST_MB:.2f} at {INGEST_MB} MB, x{VCPU_MB / PROCESSOR_MB:.2f} at "
                 f"{PROCESSOR_MB} MB) and billed per started ms, arm64. Time spent waiting on AWS is "
                 "not in it (moto answers on loopback), nor are the platform's own log lines "
                 "(START, REPORT): each 10 ms of such waiting adds "
                 f"${1e6 * 0.010 * INGEST_MB / 1024 * dict((k, v) for k, v, _ in PRICES)['lambda_gb_s']:.3f} "
                 f"a million at {INGEST_MB} MB and "
                 f"${1e6 * 0.010 * PROCESSOR_MB / 1024 * dict((k, v) for k, v, _ in PRICES)['lambda_gb_s']:.3f} at "
                 f"{PROCESSOR_MB} MB. The ESM's receive and delete are counted as "
                 f"{SQS_ESM_REQUESTS} SQS requests a message.", "",
                 "| line, per million deliveries (one delivery's share in brackets) | small | large | mix | Python ingest, mix |",
                 "|---|---|---|---|---|"]
        total = [0.0, 0.0, 0.0, 0.0]
        def usd(v):
            return "<$0.01" if 0 < v < 0.005 else f"${v:,.2f}"

        for i, (label, s, l, m, s_ask, l_ask) in enumerate(table):
            p = py_mix[i] if py_mix else None
            lines.append(f"| {label} | {usd(s)} ({s_ask}) | {usd(l)} ({l_ask}) | {usd(m)} | "
                         + (usd(p) if p is not None else "not measured") + " |")
            total[0] += s
            total[1] += l
            total[2] += m
            total[3] += p if p is not None else 0
        lines.append(f"| **total** | **${total[0]:,.2f}** | **${total[1]:,.2f}** | "
                     f"**${total[2]:,.2f}** | "
                     + (f"**${total[3]:,.2f}**" if py_mix else "not measured") + " |")
        top = max(table, key=lambda row: row[3])
        lines += ["", f"The dominant line of the mix: {top[0]}, ${top[3]:,.2f} of ${total[2]:,.2f} "
                  f"({top[3] / total[2]:.0%}). The Python column replaces the ingest's two "
                  "Lambda lines with the Python peer's measured CPU (its invoke and init, same "
                  "events, same 256 MB); the peer stores nothing, so that is a lower bound for a "
                  "Python ingest, and the rest of the path is priced as ours.", "",
                  "Prices (not fetched live: no network here; public us-east-1 list prices as "
                  f"remembered, {PRICE_DATE}; check them before relying on the totals): "
                  + "; ".join(f"{label} {unit}" for _, _, (label, unit) in PRICES_LABELLED)
                  + ". Not in the table: storage (S3 $0.023 a GB-month, DynamoDB $0.25), "
                  "free tiers, data transfer, Secrets Manager ($0.40 a secret-month), and "
                  "CloudWatch's custom metrics, billed per metric-month whatever the volume "
                  "($0.30 each: at most 14 metrics for each of 5 providers, $21 a month)."]
        return lines

    @staticmethod
    def verdict(met):
        return {True: "met", False: "NOT MET", None: "not measured", "info": "-"}[met]

    def print(self):
        print()
        headers = ("measurement", "floor", "ours", "ratio", "target", "")
        table = [headers] + [(r["measurement"], r["floor"], r["ours"], r["ratio"], r["target"],
                              self.verdict(r["met"])) for r in self.rows]
        widths = [max(len(str(line[i])) for line in table) for i in range(len(headers))]
        for line in table:
            print("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip())
        for r in self.rows:
            if r["note"]:
                print(f"   note ({r['measurement']}): {r['note']}")
        if self.busy():
            print(f"   note: {self.busy()}")
        print("informative:")
        for name, value in self.extras:
            print(f"   {name}: {value}")
        made = self.profile_table()
        if made:
            table, ingest_inv, _ = made
            print("profile of the inline path (own ms per stage, median):")
            for label, value in table:
                print(f"   {value:8.2f} ms  {value / ingest_inv:4.0%}  {label}")
        costs = self.cost_table()
        if costs:
            table, py_mix = costs
            print("cost per million deliveries (small, large, mix):")
            for label, small, large, mix, s_ask, l_ask in table:
                print(f"   ${small:9.2f} ${large:9.2f} ${mix:9.2f}  {label} ({s_ask}; {l_ask})")
            print(f"   total of the mix ${sum(row[3] for row in table):.2f}"
                  + (f"; with the Python ingest ${sum(py_mix):.2f}" if py_mix else ""))

    def write(self, path, notes_path):
        h, a = self.host, self.args
        lines = [
            "# Performance",
            "",
            f"Generated by `make bench` (`scripts/bench.py`) on {h['date']} from one run; do not "
            "edit it by hand (notes go in `docs/performance-notes.md`, included below). Absolute "
            "times on a shared machine are noise; the ratios are medians of interleaved runs "
            "against floors measured in the same run.",
            "",
            "| measurement | floor | ours | ratio | target | result |",
            "|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            lines.append(f"| {r['measurement']} | {r['floor']} | {r['ours']} | {r['ratio']} | "
                         f"{r['target']} | {self.verdict(r['met'])} |")
        for r in self.rows:
            if r["note"]:
                lines += ["", f"*{r['measurement']}*: {r['note']}"]
        if self.busy():
            lines += ["", f"Note: {self.busy()}."]
        lines += ["", "Informative (same run):", ""]
        lines += [f"- {name}: {value}" for name, value in self.extras]
        lines += ["", "Spread: median (interquartile range) of the runs.", "",
                  "| function | runs | init, ms | invoke, ms | peak RSS, MiB |",
                  "|---|---|---|---|---|"]
        names = {"constant": "constant-answer floor (`bare_constant`)",
                 "bare": "bare `lambda_runtime` echo", "ingest": "scribehook `ingest`, file://",
                 "deployed": "`ingest`, deployed configuration (moto)",
                 "nc_deployed": "`ingest`, Nabla Connect, deployed configuration (moto)",
                 "peer": "Python peer",
                 "deployed_small": "`ingest`, deployed configuration, small delivery (cost table)",
                 "peer_small": "Python peer, small delivery (cost table)",
                 "constant_warm": "constant floor, two events (second invoke; RSS after both)",
                 "bare_warm": "bare echo, two events (second invoke; RSS after both)",
                 "ingest_warm": "`ingest`, two events (second invoke; RSS after both)"}
        for name, label in names.items():
            if not self.results.get(name):
                continue
            index = 1 if name.endswith("_warm") else 0
            lines.append(f"| {label} | {len(self.results[name])} | "
                         f"{spread(self.values(name, 'init_ms'), lambda v: f'{v:.2f}')} | "
                         f"{spread(self.values(name, 'invoke_ms', index), lambda v: f'{v:.2f}')} | "
                         f"{spread(self.values(name, 'rss_kib'), lambda v: f'{v / 1024:.1f}')} |")
        runs = self.processor["runs"]
        lines.append(f"| `processor`, 50 MB transcript | {len(runs)} | "
                     f"{spread([r['init_ms'] for r in runs], lambda v: f'{v:.2f}')} | "
                     f"{spread([r['invoke_ms'] for r in runs], lambda v: f'{v:.0f}')} | "
                     f"{spread([r['rss_kib'] for r in runs], lambda v: f'{v / 1024:.1f}')} |")
        lines += self.profile_lines()
        lines += self.cost_lines()
        lines += [
            "",
            "## Machine",
            "",
            f"- {h['nproc']} cores: {h['cpu']}; {h['memory']} memory; {h['kernel']}",
            f"- {h['rustc']}; Python {h['python']}; scribehook at commit {h['commit']}",
            f"- other work on the machine (all CPU time less this run's own): "
            f"{h['busy_during']:.0%} during the run, {h['busy_before']:.0%} in the second "
            f"before it, {h['busy_after']:.0%} in the second after; load average {h['load']} "
            f"at the start, {h['load_after']} at the end",
            f"- files (ARCHIVE, STORE, the generated payloads) on {self.storage}",
            f"- {a.runs} interleaved rounds for the function rows (plus one dropped warm-up "
            f"round), {a.processor_runs} processor runs (plus one), {a.throughput_iterations} "
            f"throughput iterations; the whole run took {self.elapsed:.0f} s after building",
            "",
            "## Method",
            "",
            "Every function runs as the Lambda service runs one: a fresh process (a cold start) "
            "against a stand-in of the Lambda Runtime API on loopback, written in Python in "
            "`scripts/bench.py`. The stand-in records *init*, from just before `exec` to the "
            "function's first `GET /2018-06-01/runtime/invocation/next`, and *invoke*, from the "
            "moment it starts writing the event to the moment it has read the function's whole "
            "`POST .../response`. Transferring the event over loopback is in every invoke alike. "
            "When it has answered and polls for the next event, the stand-in reads *peak RSS*, "
            "the `VmHWM` of `/proc/<pid>/status` (the high-water mark of the memory the "
            "process has had since its `exec`), then kills it and collects it with `os.wait4`. "
            "`wait4`'s own `ru_maxrss` is not used: Linux carries the high-water mark of the "
            "memory a child `exec`s from, the spawning Python's, into it, so every child "
            "reports at least this script's peak (shown under Informative). Each round starts every function once, in an order "
            "rotated from round to round; the first round is dropped; the figures are medians. "
            "Functions run with the environment the SAM template gives them (JSON logs at INFO, "
            "256 MB declared memory for the ingest, 1024 MB for the processor), their output "
            "to a file.",
            "",
            f"- **The event.** `events/payloads/bota/transcription.completed.json` with its shape "
            f"and formatting (two-space indent) kept, its segments replaced by "
            f"{self.segments:,} segments of a generated clinician/patient dialogue (fixed seed: "
            f"the same bytes every run) and `data.text` their concatenation: "
            f"{self.body_bytes:,} bytes. It travels in the API Gateway v2 event of "
            f"`events/apigw-v2/bota/transcription.completed.json`, signed with Bota's scheme at "
            f"the time of each run (`whsec_scribehook_demo_bota`). Every answer is checked: the "
            f"ingest must answer HTTP 200 `accepted` and write the record, or the run stops.",
            "- **The floor** (rows 1 to 3, and the size in row 6): `bench/src/bin/bare_constant.rs`, the "
            "cheapest receiver there is: a bare `lambda_runtime` function that decodes its event "
            "into a `serde_json::Value` and answers a constant, built with the same release "
            "profile (thin LTO, one codegen unit, symbols stripped). The former floor, "
            "`bench/src/bin/bare_runtime.rs`, which echoes the event back (and so also encodes "
            "and returns 5.3 MB), is measured in the same rounds and shown as informative.",
            "- **Cold start** (rows 1 and 2): the release `ingest`, with `file://` locations "
            "(row 1) and in the deployed configuration (row 2: `ARCHIVE=s3://…`, `QUEUE_URL` "
            "set, which builds the S3 and SQS clients at init), against the floor's.",
            "- **Invoke** (row 3): the first invocation after that cold start: the ingest "
            "verifies, archives and processes the delivery inline (no `QUEUE_URL`) with "
            "`ARCHIVE` and `STORE` on `file://` tmpfs. Informative: the second invocation of "
            "the same process, with another event id and subject, against the floor's second.",
            "- **Nabla Connect reply time** (row 5): what Nabla Connect waits for, its ingest "
            "in the deployed configuration (archive to S3 + enqueue on moto, then the 200 "
            "repeating `request_uuid`), on the NOTE_EXPORT sample with its transcript replaced "
            "by the same generated dialogue and padded with whitespace to exactly the Bota "
            "body's size, signed with Nabla Connect's scheme at the time of each run "
            "(`scribehook-demo-nabla-connect`); against Bota's ingest in the same "
            "configuration on its body of the same size, in the same rounds.",
            "- **Profile** (the section above): `bench/src/bin/profile.rs` runs the real ingest "
            "handler, wired from the environment as the `ingest` binary wires it, once per "
            "fresh process on a freshly signed copy of the row-3 event, with a tracing layer "
            "timing the stage spans the library opens (`telemetry::stage`; TRACE under a "
            "target of their own, off in the functions). The event's decode is timed around "
            "`serde_json::from_slice`.",
            "- **Python peer** (row 4): `bench/peer/handler.py` under `python -m awslambdaric "
            "handler.handler`, from its own venv (`bench/.venv`, `make bench-peer`, pinned in "
            "`bench/peer/requirements.txt`): boto3 S3 and SQS clients made at import, Bota's "
            "signature checked (constant-time comparison, 300 s window, event-id header against "
            "the body), the JSON parsed and normalized into a record shaped like ours, nothing "
            "stored. The ratio is the peer's first invoke over the ingest's (which, unlike the "
            "peer, also archives and writes the record).",
            f"- **Binary size** (row 6): file sizes of the release `ingest` and `bare_constant` "
            f"(`MB` = 10^6 bytes throughout); the target is absolute, the ratio informative.",
            f"- **Processor** (row 7): `events/outputs/transcript.json` scaled to "
            f"{self.processor['object_bytes']:,} bytes (words and utterances of a generated "
            "dialogue, shape and formatting kept) in an S3 bucket on moto_server, named by "
            "`events/payloads/daily/batch-processor.job-finished.json` (bucket renamed; the "
            "SOAP note, concepts and summary from `events/outputs/` beside it). The release "
            "`ingest` archives that delivery (signed, `ARCHIVE` on files, `QUEUE_URL` on moto) "
            "and the SQS event is built from the message it queued. Each run: the release "
            "`processor`, cold, on a fresh copy of that archive with `STORE` on files; its "
            "answer must have no `batchItemFailures` and its event must hold the fetched "
            "transcript (bytes and segments checked). Floor: the object's size.",
            f"- **Throughput** (row 8): `bench/src/bin/throughput.rs` on the same body bytes in one "
            f"process: per iteration, floor = HMAC-SHA256 over `timestamp.body` with a "
            f"constant-time comparison plus `serde_json::from_slice::<Value>`; ours = "
            f"`Verified::check` then `Provider::normalize`; interleaved, order alternating, "
            f"3 warm-up rounds dropped; ratio = our throughput / the floor's.",
            "- **Ingest peak RSS** (row 9): peak RSS (`VmHWM`) of the row-3 processes, ingest "
            "vs the bare echo (the floor this target was set against), after their one "
            "invocation.",
            "- **On a CPU** (informative): at each poll the stand-in also sums the "
            "`/proc/<pid>/task/*/schedstat` of the function's threads: time on a CPU and time "
            "waiting for one. On a shared machine these stay put where wall times grow.",
            "- **Deployed configuration** (row 2, informative invokes): the same ingest with "
            "`ARCHIVE=s3://…` and `QUEUE_URL` on moto_server (`AWS_ENDPOINT_URL`) and "
            "`STORE=dynamodb://…` (not written at the ingest). Init needs no network; the "
            "invoke's time is mostly moto's.",
            "",
            "## What holds back",
            "",
        ]
        if notes_path.exists():
            lines.append(notes_path.read_text().rstrip())
        else:
            lines.append(f"(No notes: write them in `{os.path.relpath(notes_path, ROOT)}`; "
                         "this section includes that file verbatim.)")
        path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    try:
        main()
    except RunFailed as e:
        raise SystemExit(f"make bench: {e}")
