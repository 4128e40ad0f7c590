#!/usr/bin/python3
# latency_receiver.py - the webhook receiver of bench/alert_latency.sh: records the wall time
# each POST arrived (time.time(), taken once the request line and headers are read, before
# the body), then answers 200 at once.
#
# Usage: latency_receiver.py --port-file F --log L
# Listens on 127.0.0.1 (a port the kernel picks), HTTP/1.1 with keep-alive; once listening
# writes the port to F (atomically). Each POST is appended to L as one JSON line
# {"t": ARRIVAL_WALL_SECONDS, "path": PATH, "body": BODY_TEXT}. SIGTERM or SIGINT: exits 0.
import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    lock = threading.Lock()
    log = None

    def log_message(self, fmt, *a):
        pass

    def do_POST(self):
        t = time.time()
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
        line = json.dumps({"t": t, "path": self.path, "body": body.decode("utf-8", "replace")})
        with self.lock:
            self.log.write(line + "\n")
            self.log.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    Handler.log = open(a.log, "a", encoding="utf-8")
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    signal.signal(signal.SIGINT, lambda *_: threading.Thread(target=srv.shutdown).start())
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    srv.serve_forever()
    Handler.log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
