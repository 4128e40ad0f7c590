#!/usr/bin/python3
# http_receiver.py - a webhook receiver for the delivery tests: verifies darkscope's
# signature and records every request.
#
# Usage: http_receiver.py --port-file F --log L [--port N] [--secret S] [--tolerance SEC]
#                         [--mode ok|500|slow]
# Listens on 127.0.0.1 (port 0: the kernel picks one), HTTP/1.1 with keep-alive, and once
# listening writes "http PORT" to F (atomically). Each POST is appended to L as one JSON line
# (method, path, headers, body, client port, status, verified) before it is answered. With a
# secret, a request must carry "X-Darkscope-Signature: t=T,v1=HEX" with HEX the hex
# HMAC-SHA256 of "T.BODY" under the secret and T within SEC (300) seconds of now, or it gets
# 401. Modes: ok answers 200 (204 for an empty body); 500 always answers 500; slow answers 200
# after 5 s. SIGTERM or SIGINT: exits 0.
import argparse
import hashlib
import hmac
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def verify(secret, header, body, tolerance):
    """The receiver's side of the scheme: None if valid, else why not."""
    if not header:
        return "no X-Darkscope-Signature header"
    fields = {}
    sigs = []
    for item in header.split(","):
        k, _, v = item.strip().partition("=")
        if k == "v1":
            sigs.append(v)
        else:
            fields[k] = v
    try:
        t = int(fields["t"])
    except (KeyError, ValueError):
        return "no timestamp"
    if abs(time.time() - t) > tolerance:
        return "timestamp %d outside the tolerance" % t
    want = hmac.new(secret.encode(), b"%d." % t + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(want, s) for s in sigs):
        return "signature mismatch"
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    lock = threading.Lock()
    args = None

    def log_message(self, fmt, *a):
        pass

    def answer(self, status, text):
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        a = self.args
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        status, text, verified = 200, "ok", None
        if a.secret:
            why = verify(a.secret, self.headers.get("X-Darkscope-Signature"), body, a.tolerance)
            verified = why is None
            if why:
                status, text = 401, "bad signature: " + why
        if status == 200 and a.mode == "500":
            status, text = 500, "internal error (test mode)"
        rec = {
            "method": "POST",
            "path": self.path,
            "headers": dict(self.headers.items()),
            "body": body.decode("utf-8", errors="replace"),
            "body_len": len(body),
            "client_port": self.client_address[1],
            "status": status,
            "verified": verified,
        }
        with self.lock:
            with open(a.log, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        if a.mode == "slow":
            time.sleep(5)
        self.answer(status, text)

    def do_GET(self):
        self.answer(405, "POST only")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--secret")
    ap.add_argument("--tolerance", type=int, default=300)
    ap.add_argument("--mode", choices=["ok", "500", "slow"], default="ok")
    Handler.args = ap.parse_args()

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server = ThreadingHTTPServer(("127.0.0.1", Handler.args.port), Handler)
    server.daemon_threads = True
    write_atomic(Handler.args.port_file, b"http %d\n" % server.server_address[1])
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
