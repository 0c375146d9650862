#!/usr/bin/env python3
"""Start-up cost of the ingest function against a bare lambda_runtime hello world, both
measured in this run on this machine (`make bench`).

Each binary is started against a stand-in of the Lambda Runtime API on loopback, as the
Lambda service starts a function: the time from exec to its first `GET .../invocation/next`
is its init; the time from handing it one API Gateway v2 event (a signed Bota delivery, with
ARCHIVE/STORE on a temporary directory and no queue) to its response is the first
invocation. Prints medians over N runs and the ratio to the baseline.

usage: bench_init.py BASELINE_BINARY INGEST_BINARY [RUNS]
"""
import hashlib
import hmac
import http.server
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
SECRET = "whsec_scribehook_demo_bota"


def fresh_event():
    """The Bota sample as an API Gateway v2 event, signed now (Bota's scheme, with hmac)."""
    event = json.loads((ROOT / "events/apigw-v2/bota/transcription.completed.json").read_text())
    body = event["body"].encode()
    ts = str(int(time.time()))
    event["headers"]["x-bota-timestamp"] = ts
    event["headers"]["x-bota-signature"] = "v1=" + hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return json.dumps(event).encode()


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        state = self.server.state
        if state.get("first_next") is None:
            state["first_next"] = time.perf_counter()
            body = state["event"]
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-1")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            state["served"] = time.perf_counter()
        else:
            # Hold the second poll until the run is over.
            state["done"].wait(10)
            self.send_response(500)
            self.end_headers()

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.server.state["response"] = self.rfile.read(length)
        self.server.state["responded"] = time.perf_counter()
        try:
            self.send_response(202)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the function was stopped as soon as it answered


def run_once(binary, env_extra):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.state = {"event": fresh_event(), "done": threading.Event(), "first_next": None}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    data = tempfile.mkdtemp(prefix="scribehook-bench-")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "ARCHIVE": f"file://{data}",
        "STORE": f"file://{data}",
        "AWS_LAMBDA_LOG_LEVEL": "ERROR",
        **env_extra,
    }
    start = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while "responded" not in server.state and time.time() < deadline:
        time.sleep(0.0005)
    server.state["done"].set()
    proc.kill()
    proc.wait()
    server.shutdown()
    shutil.rmtree(data, ignore_errors=True)
    if "responded" not in server.state:
        raise SystemExit(f"{binary} never answered its first invocation")
    return (server.state["first_next"] - start) * 1000, (server.state["responded"] - server.state["served"]) * 1000, server.state["response"]


def main():
    baseline, ingest = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    secrets = {"BOTA_WEBHOOK_SECRETS": SECRET}
    results = {}
    for name, binary, extra in (("bare lambda_runtime", baseline, {}), ("scribehook ingest", ingest, secrets)):
        inits, firsts = [], []
        for _ in range(runs):
            init, first, response = run_once(binary, extra)
            inits.append(init)
            firsts.append(first)
        results[name] = (statistics.median(inits), statistics.median(firsts), response)
    base_init = results["bare lambda_runtime"][0]
    print(f"{'binary':<22} {'init (median ms)':>17} {'1st invoke (median ms)':>23}   runs={runs}")
    for name, (init, first, _) in results.items():
        print(f"{name:<22} {init:>17.2f} {first:>23.2f}")
    print(f"ingest init - baseline init: {results['scribehook ingest'][0] - base_init:+.2f} ms "
          f"(ratio {results['scribehook ingest'][0] / base_init:.2f}x)")
    answer = json.loads(results["scribehook ingest"][2])
    print(f"ingest's answer to the signed sample (archived and processed inline to local files): "
          f"HTTP {answer.get('statusCode')} {answer.get('body')}")


if __name__ == "__main__":
    main()
