#!/usr/bin/env python3
"""first_ports.py - per IPv4 source of a pcap (Ethernet, classic format), the first two
distinct destination ports it used, in packet order, as "proto/port" ("tcp/23"): what the
store records per host and day. Prints "ADDR<TAB>PORT[ PORT]" lines. Standard library only,
so the feed test checks the store against the capture itself."""
import struct
import sys


def main(path):
    seen = {}
    with open(path, 'rb') as f:
        hdr = f.read(24)
        magic = struct.unpack('<I', hdr[:4])[0]
        if magic not in (0xa1b2c3d4, 0xa1b23c4d):
            sys.exit(f'{path}: not a little-endian classic pcap')
        if struct.unpack('<I', hdr[20:24])[0] != 1:
            sys.exit(f'{path}: not Ethernet')
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                break
            incl = struct.unpack('<I', rec[8:12])[0]
            pkt = f.read(incl)
            off = 14
            etype = struct.unpack('!H', pkt[12:14])[0]
            while etype == 0x8100 and len(pkt) >= off + 4:
                etype = struct.unpack('!H', pkt[off + 2:off + 4])[0]
                off += 4
            if etype != 0x0800 or len(pkt) < off + 20:
                continue
            ihl = (pkt[off] & 15) * 4
            proto = pkt[off + 9]
            frag = struct.unpack('!H', pkt[off + 6:off + 8])[0] & 0x1fff
            if proto not in (6, 17) or frag or len(pkt) < off + ihl + 4:
                continue
            src = '.'.join(str(b) for b in pkt[off + 12:off + 16])
            dport = struct.unpack('!H', pkt[off + ihl + 2:off + ihl + 4])[0]
            p = ('tcp/' if proto == 6 else 'udp/') + str(dport)
            ports = seen.setdefault(src, [])
            if len(ports) < 2 and p not in ports:
                ports.append(p)
    for src, ports in seen.items():
        print(src + '\t' + ' '.join(ports))


if __name__ == '__main__':
    main(sys.argv[1])
