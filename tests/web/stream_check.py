#!/usr/bin/env python3
# stream_check.py - helpers of tests/e2e/web_stream.sh for the live stream (/api/v1/stream):
#   delay IN OUT SECONDS     copies a classic pcap (Ethernet), putting a copy of its first IPv4
#                            packet, addressed to 192.0.2.1 (outside every darknet), SECONDS
#                            before the rest: a 1x replay then waits that long before the first
#                            darknet packet, so a client can connect before the stream starts
#   parse FILE               a recorded event stream (curl -N) as one JSON line per event:
#                            {"event": name, "data": parsed data}
#   expect PCAP DARKNETS     prints what the stream must carry for the capture: every
#                            darknet packet in order (the stream's fields it can know: t, s, d,
#                            sp, dp, p, ttl, len) as JSON lines
import ipaddress
import json
import struct
import sys


def pcap_records(path):
    with open(path, 'rb') as f:
        data = f.read()
    magic = struct.unpack('<I', data[:4])[0]
    if magic != 0xa1b2c3d4:
        raise SystemExit(f'{path}: not a little-endian microsecond pcap (magic {magic:#x})')
    link = struct.unpack('<I', data[20:24])[0]
    if link != 1:
        raise SystemExit(f'{path}: link type {link}, expected Ethernet (1)')
    off = 24
    while off + 16 <= len(data):
        sec, usec, incl, orig = struct.unpack('<IIII', data[off:off + 16])
        yield sec, usec, data[off + 16:off + 16 + incl], orig
        off += 16 + incl


def ip_checksum(hdr):
    s = 0
    for i in range(0, len(hdr), 2):
        s += (hdr[i] << 8) | hdr[i + 1]
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def delay(src, dst, seconds):
    with open(src, 'rb') as f:
        head = f.read(24)
    recs = list(pcap_records(src))
    lead = None
    for sec, usec, frame, orig in recs:
        if len(frame) >= 34 and frame[12:14] == b'\x08\x00':
            ip = bytearray(frame[14:14 + (frame[14] & 15) * 4])
            ip[16:20] = bytes([192, 0, 2, 1])
            ip[10:12] = b'\0\0'
            ip[10:12] = struct.pack('>H', ip_checksum(bytes(ip)))
            lead = (frame[:14] + bytes(ip) + frame[14 + len(ip):], orig)
            break
    if lead is None:
        raise SystemExit(f'{src}: no IPv4 packet')
    sec0, usec0 = recs[0][0], recs[0][1]
    with open(dst, 'wb') as f:
        f.write(head)
        f.write(struct.pack('<IIII', sec0 - int(seconds), usec0, len(lead[0]), lead[1]) + lead[0])
        for sec, usec, frame, orig in recs:
            f.write(struct.pack('<IIII', sec, usec, len(frame), orig) + frame)


def parse(path):
    name, data = 'message', []
    with open(path) as f:
        for line in f.read().split('\n'):
            if line == '':
                if data:
                    print(json.dumps({'event': name, 'data': json.loads('\n'.join(data))}))
                name, data = 'message', []
            elif line.startswith('event: '):
                name = line[7:]
            elif line.startswith('data: '):
                data.append(line[6:])


def expect(pcap, darknets):
    nets = [ipaddress.ip_network(n) for n in darknets.split(',')]
    for sec, usec, frame, orig in pcap_records(pcap):
        et = frame[12:14]
        if et == b'\x08\x00':
            ip = frame[14:]
            hl = (ip[0] & 15) * 4
            proto, ttl, length = ip[9], ip[8], struct.unpack('>H', ip[2:4])[0]
            s, d = ipaddress.ip_address(ip[12:16]), ipaddress.ip_address(ip[16:20])
            l4 = ip[hl:]
        elif et == b'\x86\xdd':
            ip = frame[14:]
            proto, ttl, length = ip[6], ip[7], 40 + struct.unpack('>H', ip[4:6])[0]
            s, d = ipaddress.ip_address(ip[8:24]), ipaddress.ip_address(ip[24:40])
            l4 = ip[40:]
        else:
            continue
        if not any(d in n for n in nets):
            continue
        if proto in (6, 17):
            sp, dp = struct.unpack('>HH', l4[:4])
        elif proto in (1, 58):
            sp, dp = l4[0], l4[1]  # type and code
        else:
            sp = dp = 0
        t = (sec * 1000000 + usec) // 1000
        print(json.dumps({'t': t, 's': str(s), 'd': str(d), 'sp': sp, 'dp': dp, 'p': proto,
                          'ttl': ttl, 'len': length}))


if __name__ == '__main__':
    cmd, args = sys.argv[1], sys.argv[2:]
    {'delay': delay, 'parse': parse, 'expect': expect}[cmd](*args)
