#!/usr/bin/env python3
"""A loopback stand-in for Daily's REST API, for `make demo` (docs/behaviour.md#daily-outputs).

GET /v1/batch-processor/<job id>/access-link, with `Authorization: Bearer <key>`, answers as
Daily documents it: {id, preset, status, transcription: [{format, link}], summary: {format,
link}, soap: {format, link}}. The links point back here (/files/...), carry a signature in
their query as real presigned URLs do, and must be fetched WITHOUT the key. The files are
the sample outputs in events/outputs/. Each request is logged as one JSON line (path without
query, whether a key came with it), never the key or the query itself.

    daily_api_standin.py --port P --key K --outputs events/outputs --log data/daily-api.log
"""

import argparse
import json
import pathlib
import secrets
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FILES = {
    "transcript.json": ("transcription", "json"),
    "transcript.vtt": ("transcription", "vtt"),
    "transcript.srt": ("transcription", "srt"),
    "transcript.txt": ("transcription", "txt"),
    "summary.txt": ("summary", "txt"),
    "soap.json": ("soap", "json"),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--outputs", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    outputs = pathlib.Path(args.outputs)
    log = open(args.log, "a", buffering=1)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def send(self, status, body, kind="application/json"):
            body = body if isinstance(body, bytes) else body.encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            auth = self.headers.get("Authorization")
            log.write(json.dumps({"path": path, "key_sent": auth is not None}) + "\n")
            parts = path.strip("/").split("/")
            if len(parts) == 4 and parts[:2] == ["v1", "batch-processor"] and parts[3] == "access-link":
                if auth != f"Bearer {args.key}":
                    return self.send(401, '{"error":"authentication-error"}')
                return self.send(200, json.dumps(self.answer(parts[2])))
            if len(parts) == 3 and parts[0] == "files":
                if auth is not None:
                    return self.send(400, '{"error":"a link is fetched without the key"}')
                name = parts[2]
                if name in FILES and (outputs / name).is_file():
                    return self.send(200, (outputs / name).read_bytes(), "application/octet-stream")
            return self.send(404, '{"error":"not-found"}')

        def answer(self, job):
            host = f"127.0.0.1:{args.port}"
            link = lambda name: f"http://{host}/files/{job}/{name}?X-Amz-Signature={secrets.token_hex(16)}"
            answer = {"id": job, "preset": "soap-notes", "status": "finished", "transcription": []}
            for name, (field, fmt) in FILES.items():
                entry = {"format": fmt, "link": link(name)}
                if field == "transcription":
                    answer[field].append(entry)
                else:
                    answer[field] = entry
            return answer

    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
