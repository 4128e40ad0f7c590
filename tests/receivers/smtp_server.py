#!/usr/bin/python3
# smtp_server.py - a real SMTP server (aiosmtpd) for the delivery tests: saves every message
# it accepts, raw and as parsed by Python's email package.
#
# Usage: smtp_server.py --port-file F --out-dir D [--port N]
#                       [--tls-cert C --tls-key K] [--user U --password P]
# Listens on 127.0.0.1 (port 0: the kernel picks one) and, once listening, writes "smtp PORT"
# to F (atomically: written beside it and renamed). With a certificate it offers STARTTLS and
# requires it before MAIL; with a user it requires AUTH (PLAIN or LOGIN) with exactly that
# user and password. Message K (1, 2, ...) is saved as D/K.eml (the bytes received, after
# dot-unstuffing) and D/K.json: the envelope, the session (tls, authenticated user), every
# header decoded (RFC 2047) and every leaf MIME part decoded. SIGTERM or SIGINT: exits 0.
# Needs Debian's python3-aiosmtpd.
import argparse
import asyncio
import email
import email.policy
import json
import logging
import os
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def parse(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    headers = [[k, str(v)] for k, v in msg.items()]
    parts = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        parts.append({
            "content_type": part.get_content_type(),
            "charset": part.get_content_charset(),
            "transfer_encoding": part.get("Content-Transfer-Encoding"),
            "disposition": part.get_content_disposition(),
            "filename": part.get_filename(),
            "payload": payload.decode("utf-8", errors="replace"),
            "payload_len": len(payload),
        })
    return {
        "headers": headers,
        "content_type": msg.get_content_type(),
        "parts": parts,
        "defects": [type(d).__name__ for d in msg.defects],
    }


class Saver:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        raw = envelope.original_content or envelope.content
        base = os.path.join(self.out_dir, str(self.count))
        rec = parse(raw)
        rec["mail_from"] = envelope.mail_from
        rec["rcpt_tos"] = envelope.rcpt_tos
        rec["tls"] = session.ssl is not None
        auth = session.auth_data if session.authenticated else None
        rec["user"] = auth.login.decode() if isinstance(auth, LoginPassword) else None
        write_atomic(base + ".eml", raw)
        write_atomic(base + ".json", json.dumps(rec, ensure_ascii=False).encode())
        return "250 OK saved as %d" % self.count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--user")
    ap.add_argument("--password")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # aiosmtpd 1.4 warns about its own use of the deprecated Session.login_data
    logging.getLogger("mail.log").addFilter(
        lambda r: "login_data is deprecated" not in r.getMessage())

    kw = {"hostname": "receiver.test", "decode_data": False}
    if args.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        kw.update(tls_context=ctx, require_starttls=True)
    if args.user:
        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and auth_data.login == args.user.encode()
                  and auth_data.password == (args.password or "").encode())
            return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)
        kw.update(authenticator=authenticator, auth_required=True,
                  auth_require_tls=bool(args.tls_cert))

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    saver = Saver(args.out_dir)
    server = loop.run_until_complete(
        loop.create_server(lambda: SMTP(saver, loop=loop, **kw), host="127.0.0.1",
                           port=args.port))
    port = server.sockets[0].getsockname()[1]
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, loop.stop)
    write_atomic(args.port_file, b"smtp %d\n" % port)
    try:
        loop.run_forever()
    finally:
        server.close()
        tasks = asyncio.all_tasks(loop)
        for t in tasks:
            t.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(server.wait_closed())
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
