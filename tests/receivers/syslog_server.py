#!/usr/bin/python3
# syslog_server.py - a syslog receiver for the delivery tests: UDP datagrams and TCP with
# RFC 6587 octet-counting framing, every message recorded.
#
# Usage: syslog_server.py --port-file F --log L [--udp-port N] [--tcp-port N]
# Listens on 127.0.0.1 (port 0: the kernel picks one) for UDP and TCP, and once listening
# writes "udp PORT" and "tcp PORT" lines to F (atomically). Each message is appended to L as
# one JSON line: {"transport", "msg", "len", "peer"}; a TCP stream that breaks the framing
# ("LEN SP MSG", LEN a decimal without leading zero) gets {"transport": "tcp", "error"} and
# is closed. SIGTERM or SIGINT: exits 0.
import argparse
import asyncio
import json
import os
import signal
import sys


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


class Recorder:
    def __init__(self, path):
        self.path = path

    def record(self, rec):
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")

    def message(self, transport, data, peer):
        self.record({"transport": transport, "msg": data.decode("utf-8", errors="replace"),
                     "len": len(data), "peer": peer[1]})


class Udp(asyncio.DatagramProtocol):
    def __init__(self, rec):
        self.rec = rec

    def datagram_received(self, data, addr):
        self.rec.message("udp", data, addr)


class Tcp(asyncio.Protocol):
    def __init__(self, rec):
        self.rec = rec
        self.buf = b""

    def connection_made(self, transport):
        self.transport = transport
        self.peer = transport.get_extra_info("peername")

    def fail(self, why):
        self.rec.record({"transport": "tcp", "error": why, "peer": self.peer[1]})
        self.transport.close()
        self.buf = b""

    def data_received(self, data):
        self.buf += data
        while self.buf:
            sp = self.buf.find(b" ")
            if sp < 0:
                if len(self.buf) > 10 or not self.buf.isdigit():
                    self.fail("no octet count: %r" % self.buf[:20])
                return
            head = self.buf[:sp]
            if not head.isdigit() or head.startswith(b"0"):
                self.fail("bad octet count: %r" % head[:20])
                return
            n = int(head)
            if len(self.buf) < sp + 1 + n:
                return
            self.rec.message("tcp", self.buf[sp + 1:sp + 1 + n], self.peer)
            self.buf = self.buf[sp + 1 + n:]

    def connection_lost(self, exc):
        if self.buf:
            self.rec.record({"transport": "tcp", "error": "connection closed mid-frame",
                             "peer": self.peer[1]})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--udp-port", type=int, default=0)
    ap.add_argument("--tcp-port", type=int, default=0)
    args = ap.parse_args()
    rec = Recorder(args.log)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    udp, _ = loop.run_until_complete(loop.create_datagram_endpoint(
        lambda: Udp(rec), local_addr=("127.0.0.1", args.udp_port)))
    tcp = loop.run_until_complete(loop.create_server(
        lambda: Tcp(rec), host="127.0.0.1", port=args.tcp_port))
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, loop.stop)
    write_atomic(args.port_file, b"udp %d\ntcp %d\n" % (
        udp.get_extra_info("sockname")[1], tcp.sockets[0].getsockname()[1]))
    try:
        loop.run_forever()
    finally:
        udp.close()
        tcp.close()
        tasks = asyncio.all_tasks(loop)
        for t in tasks:
            t.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
