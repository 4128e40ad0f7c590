#!/usr/bin/python3
# api_latency.py - the load driver of bench/api.sh: per-request latency of API endpoints over
# one keep-alive HTTP/1.1 connection per server (one request at a time, as a browser tab's
# fetches mostly are). The endpoints are requested round-robin, so every endpoint sees the
# same machine load; each stops after --requests answers or --budget seconds of its own
# time, whichever comes first. Latency: from sending the request to having the whole body.
#
# Usage: api_latency.py --token TOKEN [--requests N] [--budget S] [--target-ms 50]
#                       NAME=URL ...
# Prints per endpoint: answers, status, body bytes, p50, p99, max; and RATIO p99 / target.
import argparse
import http.client
import sys
import time
import urllib.parse


class Conn:
    def __init__(self, host, port, token):
        self.host, self.port, self.token = host, port, token
        self.c = None

    def get(self, path):
        for attempt in (0, 1):
            if self.c is None:
                self.c = http.client.HTTPConnection(self.host, self.port, timeout=120)
            try:
                t0 = time.perf_counter()
                self.c.request("GET", path, headers={"Authorization": "Bearer " + self.token,
                                                     "Accept": "application/json"})
                r = self.c.getresponse()
                body = r.read()
                t1 = time.perf_counter()
                if r.getheader("Connection", "").lower() == "close":
                    self.c.close()
                    self.c = None
                return r.status, len(body), t1 - t0
            except (http.client.HTTPException, OSError):
                self.c.close()
                self.c = None
                if attempt:
                    raise
        raise RuntimeError("unreachable")


def pct(v, p):  # nearest rank
    v = sorted(v)
    k = max(0, min(len(v) - 1, -(-p * len(v) // 100) - 1))
    return v[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--token", required=True)
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--budget", type=float, default=30.0)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--target-ms", type=float, default=50.0)
    ap.add_argument("endpoints", nargs="+", metavar="NAME=URL")
    a = ap.parse_args()
    eps = []
    conns = {}
    for e in a.endpoints:
        name, url = e.split("=", 1)
        u = urllib.parse.urlsplit(url)
        key = (u.hostname, u.port)
        if key not in conns:
            conns[key] = Conn(u.hostname, u.port, a.token)
        path = u.path + ("?" + u.query if u.query else "")
        eps.append({"name": name, "conn": conns[key], "path": path, "lat": [], "spent": 0.0,
                    "status": {}, "bytes": 0})
    for ep in eps:  # warm-up: page cache, SQLite's cache, prepared statements
        for _ in range(a.warmup):
            ep["conn"].get(ep["path"])
    live = list(eps)
    while live:
        for ep in list(live):
            st, n, t = ep["conn"].get(ep["path"])
            ep["lat"].append(t)
            ep["spent"] += t
            ep["status"][st] = ep["status"].get(st, 0) + 1
            ep["bytes"] = n
            if len(ep["lat"]) >= a.requests or ep["spent"] >= a.budget:
                live.remove(ep)
    w = max(len(ep["name"]) for ep in eps)
    print("%-*s %7s %7s %9s %9s %9s %9s" % (w, "endpoint", "answers", "status", "bytes",
                                           "p50 ms", "p99 ms", "max ms"))
    for ep in eps:
        v = ep["lat"]
        status = ",".join("%d" % s if c == len(v) else "%dx%d" % (c, s)
                          for s, c in sorted(ep["status"].items()))
        print("%-*s %7d %7s %9d %9.1f %9.1f %9.1f" % (w, ep["name"], len(v), status, ep["bytes"],
                                                    pct(v, 50) * 1e3, pct(v, 99) * 1e3,
                                                    max(v) * 1e3))
    met = 0
    for ep in eps:
        r = pct(ep["lat"], 99) * 1e3 / a.target_ms
        met += r < 1
        print("RATIO %s p99 / %g ms: %.2f%s" % (ep["name"], a.target_ms, r,
                                               "" if r < 1 else "  (missed)"))
    print("api: %d of %d endpoints have p99 under %g ms" % (met, len(eps), a.target_ms))
    bad = [ep["name"] for ep in eps if any(s != 200 for s in ep["status"])]
    if bad:
        print("api: non-200 answers from: " + ", ".join(bad))
    return 0


if __name__ == "__main__":
    sys.exit(main())
