#!/usr/bin/env bash
# real_captures.sh - `darkscope analyze` over the five real captures in shared/data/pcaps/real,
# every count checked against a number measured with tshark/tcpdump/capinfos (never with
# darkscope); the same files through gzip, zstd, stdin and pipes; several files at once; BPF
# filters; bad input; and a robustness pass over tcpdump's 830 regression captures.
#
# Usage: real_captures.sh DARKSCOPE_BIN SHARED_DIR SCRATCH_DIR
#
# Each assertion reads  a JQ_PATH EXPECTED 'MEASUREMENT'  where MEASUREMENT is the exact shell
# command (using the helpers in the "measurements" section below) that produced EXPECTED. The
# normal run only compares darkscope's JSON with EXPECTED and needs no tshark. With
# DS_REMEASURE=1 the script also runs every MEASUREMENT and fails if it does not print
# EXPECTED, so the numbers can be re-derived after a change in the captures or the rules
# (needs tshark >= 4.0, tcpdump, capinfos and python3).
set -euo pipefail
bin=$1 shared=$2 tmp=$3
real=$shared/data/pcaps/real
robust=$shared/data/pcaps/robustness/tcpdump-tests
remeasure=${DS_REMEASURE:-0}
fail() { echo "FAIL: real_captures: $*" >&2; exit 1; }

# ------------------------------------------------------------------ prerequisites ----------
for tool in jq gzip zstd timeout xargs head cmp; do
  command -v "$tool" >/dev/null || fail "'$tool' is not installed (scripts/install-deps.sh installs it)"
done
if [ "$remeasure" = 1 ]; then
  for tool in tshark tcpdump capinfos python3; do
    command -v "$tool" >/dev/null || fail "DS_REMEASURE=1 needs '$tool'"
  done
fi
[ -x "$bin" ] || fail "darkscope binary '$bin' is missing or not executable"
for f in nmap-synscan.pcapng nmap-portscan-small.pcap msblaster.pcap synflood-spoofed.pcap \
         snmp-reflection-src161.pcapng; do
  [ -r "$real/$f" ] || fail "capture '$real/$f' is missing (shared/ not next to the repository?)"
done
[ -d "$robust" ] || fail "robustness captures '$robust' are missing"
rm -rf "$tmp" && mkdir -p "$tmp"
checks=0

# ------------------------------------------------------------------ running darkscope ------
# No run may leave a sanitizer report, whatever its exit status.
no_sanitizer_report() {
  if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' "$1"; then
    cat "$1" >&2
    fail "sanitizer report in $1 ($2)"
  fi
}
# run NAME ARGS...: `darkscope analyze ARGS --format json` into $tmp/NAME.json; it must exit 0
# and print nothing on stderr. Sets J (the JSON being checked) for `a`.
run() {
  local name=$1 rc=0; shift
  "$bin" analyze "$@" --format json >"$tmp/$name.json" 2>"$tmp/$name.err" || rc=$?
  no_sanitizer_report "$tmp/$name.err" "analyze $*"
  [ "$rc" = 0 ] || fail "analyze $* exited $rc: $(cat "$tmp/$name.err")"
  [ ! -s "$tmp/$name.err" ] || fail "analyze $* wrote to stderr: $(cat "$tmp/$name.err")"
  J=$tmp/$name.json
}
# expect_exit STATUS 'stderr text' NAME ARGS...: like run, but for bad input.
expect_exit() {
  local want=$1 msg=$2 name=$3 rc=0; shift 3
  "$bin" analyze "$@" --format json >"$tmp/$name.json" 2>"$tmp/$name.err" || rc=$?
  no_sanitizer_report "$tmp/$name.err" "analyze $*"
  [ "$rc" = "$want" ] || fail "analyze $* exited $rc, expected $want; stderr: $(cat "$tmp/$name.err")"
  grep -qF -- "$msg" "$tmp/$name.err" || fail "analyze $*: stderr lacks '$msg': $(cat "$tmp/$name.err")"
  J=$tmp/$name.json
  checks=$((checks + 1))
}
# a JQ_PATH EXPECTED 'MEASUREMENT': the value at JQ_PATH in $J is EXPECTED.
a() {
  local got
  got=$(jq -r -c "$1" "$J") || fail "$J is not JSON"
  [ "$got" = "$2" ] || fail "$(basename "$J" .json): $1 is $got, expected $2 (measured by: $3)"
  if [ "$remeasure" = 1 ]; then
    local m
    m=$(eval "$3") || fail "measurement failed: $3"
    [ "$m" = "$2" ] || fail "measurement '$3' now gives '$m', the script says '$2'"
  fi
  checks=$((checks + 1))
}
# same_json A B WHAT: two runs printed identical reports.
same_json() {
  cmp -s "$1" "$2" || fail "$3: the report differs: $(diff "$1" "$2" | head -20)"
  checks=$((checks + 1))
}

# ------------------------------------------------------------------ measurements -----------
# Only run with DS_REMEASURE=1. Wireshark 4.0 display filters; "#1" picks the outer header:
# IP reassembly is off, so a first fragment shows its own transport header, as darkscope
# reads it. tshark also dissects the IP/TCP/UDP header quoted inside an ICMP error (and `tcp` or
# `ip.src` then match the quote), while darkscope's classes are about the outer header only
# (docs/classification.md). Each filter is darkscope's documented rule, written for tshark.
SYN='ip.proto#1==6 && tcp.flags.syn==1 && tcp.flags.ack==0'
BACKSCATTER='(ip.proto#1==6 && ((tcp.flags.syn==1 && tcp.flags.ack==1) || tcp.flags.reset==1)) || (ip.proto#1==1 && icmp.type#1 in {0,3,4,5,11,12,14,16,18})'
ICMPREQ='ip.proto#1==1 && icmp.type#1 in {8,13,15,17}'
UDP='ip.proto#1==17'
AMPPORT='ip.proto#1==17 && udp.dstport#1 in {53,123,161,1900,19,17,389,11211,137,69,111,5353,520,27960,27015}'
FRAG='ip.flags.mf#1==1 || ip.frag_offset#1>0'
# 0xff, not ff: a bare "ff" is the Foundation Fieldbus protocol in a display filter
SPOOFED="!(ip.proto#1 in {1,6,17}) || (ip.proto#1==6 && (!(tcp.flags & 0x3f) || (tcp.flags.syn==1 && (tcp.flags.fin==1 || tcp.flags.reset==1)) || (tcp.flags.ack==0 && (tcp.flags.fin==1 || tcp.flags.push==1 || tcp.flags.urg==1)))) || (ip.ttl#1>=200 && !($SYN && tcp.hdr_len==20 && tcp.window_size_value==1024)) || $FRAG || ip#1[15:1]==0x00 || ip#1[15:1]==0xff || ip.src#1==ip.dst#1 || (ip.proto#1==6 && (tcp.srcport==0 || tcp.dstport==0)) || (ip.proto#1==17 && (udp.srcport#1==0 || udp.dstport#1==0 || udp.dstport#1==80))"
NONROUTABLE='ip.src#1==0.0.0.0/8 || ip.src#1==10.0.0.0/8 || ip.src#1==127.0.0.0/8 || ip.src#1==169.254.0.0/16 || ip.src#1==172.16.0.0/12 || ip.src#1==192.0.0.0/24 || ip.src#1==192.0.2.0/24 || ip.src#1==192.88.99.0/24 || ip.src#1==192.168.0.0/16 || ip.src#1==198.18.0.0/15 || ip.src#1==198.51.100.0/24 || ip.src#1==203.0.113.0/24 || ip.src#1>=224.0.0.0'
NMAP="$SYN && tcp.window_size_value==1024 && count(tcp.option_kind)==1 && tcp.option_kind==2 && tcp.options.mss_val>0 && ip.ttl#1>=7 && ip.ttl#1<=59"
ZMAP="$SYN && ip.id#1==54321 && tcp.window_size_value==65535"
MIRAI="$SYN && tcp[4:4] == ip#1[16:4]"
# n FILTER: frames of $F matching a display filter (fails on a filter tshark rejects)
n() {
  local o
  o=$(tshark -r "$F" -o ip.defragment:FALSE -o ipv6.defragment:FALSE -Y "$1" -T fields -e frame.number 2>"$tmp/tshark.err") ||
    fail "tshark -Y '$1': $(cat "$tmp/tshark.err")"
  if [ -z "$o" ]; then echo 0; else printf '%s\n' "$o" | wc -l; fi
}
# srcs: distinct outer source addresses of the darknet frames ($D) of the files $F
srcs() {
  local f
  for f in $F; do tshark -r "$f" -o ip.defragment:FALSE -Y "$D" -T fields -E occurrence=f -e ip.src 2>/dev/null; done |
    sort -u | wc -l
}
# bytes: wire bytes of the darknet frames
bytes() { tshark -r "$F" -Y "$D" -T fields -e frame.len 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
# ports N: "proto/port packets sources" of the N busiest destination ports of darknet TCP/UDP
# frames in darkscope's order (packets descending, tcp before udp, port ascending); N=0: count
ports() {
  local f
  for f in $F; do
    tshark -r "$f" -o ip.defragment:FALSE -Y "$D && ip.proto#1 in {6,17}" -T fields \
      -E occurrence=f -e ip.proto -e tcp.dstport -e udp.dstport -e ip.src 2>/dev/null
  done | awk -F'\t' '$2 $3 == "" {next}  # a non-first fragment: no transport header
                     {k = ($1 == 6 ? "tcp" : "udp") "\t" ($1 == 6 ? $2 : $3); p[k]++
                      if (!((k, $4) in seen)) { seen[k, $4] = 1; s[k]++ } }
                     END {for (k in p) print p[k] "\t" k "\t" s[k]}' |
    sort -t"$(printf '\t')" -k1,1nr -k2,2 -k3,3n |
    awk -F'\t' -v n="$1" 'n == 0 {c++; next} NR <= n {printf "%s%s/%s %s %s", (NR > 1 ? "," : ""), $2, $3, $1, $4}
                          END {if (n == 0) print c + 0; else print ""}'
}
# masscan: darknet SYNs whose IP ID equals (dst ^ dport ^ seq) & 0xffff
masscan() {
  tshark -r "$F" -Y "$D && $SYN" -T fields -E occurrence=f -e ip.id -e ip.dst -e tcp.dstport \
    -e tcp.seq_raw 2>/dev/null | python3 -c '
import sys, ipaddress
print(sum(1 for l in sys.stdin for i, d, p, s in [l.split()]
          if int(i, 16) == (int(ipaddress.IPv4Address(d)) ^ int(p) ^ int(s)) & 0xffff))'
}
# unicorn: darknet SYNs counted by the per-source unicornscan session rule of
# docs/classification.md (an independent implementation, over tshark's fields)
unicorn() {
  tshark -r "$F" -Y "$D && $SYN" -T fields -E occurrence=f -e ip.src -e ip.dst -e tcp.srcport \
    -e tcp.dstport -e tcp.seq_raw 2>/dev/null | python3 -c '
import sys, ipaddress
state, n = {}, 0
for line in sys.stdin:
    s, d, sp, dp, seq = line.split()
    d, sp, dp, seq = int(ipaddress.IPv4Address(d)), int(sp), int(dp), int(seq)
    if seq == d:
        continue  # mirai packets are left out
    key, target = seq ^ d ^ (((dp << 16) + sp) & 0xffffffff), (d, dp)
    h = state.get(s)
    if h and h[0] == key:
        if h[1] != target:
            n += 1 if h[2] else 2
            state[s] = (key, target, True)
    else:
        state[s] = (key, target, False)
print(n)'
}
# tcpdump's packet count of a file (libpcap's reader; for files tshark cannot open)
tcpdump_count() { { tcpdump -n -r "$1" -w /dev/null --count 2>/dev/null || true; } | awk '{print $1}'; }

# ------------------------------------------------------------------ the five captures ------
# Common assertions for a file F analysed into J with the darknet D (a display filter).
classes_and_fps() {
  a .skipped.truncated 0 'n "frame.cap_len < frame.len"'  # no frame is cut at all
  a .skipped.unsupported_link 0 'n "!eth"'                # capinfos -E: Ethernet
  a .classes.tcp_syn "$1" 'n "$D && $SYN"'
  a .classes.backscatter "$2" 'n "$D && ($BACKSCATTER)"'
  a .classes.icmp_request "$3" 'n "$D && $ICMPREQ"'
  a .classes.udp "$4" 'n "$D && $UDP"'
  # amp_probe needs an amplifier destination port first; none of these files has one
  a .classes.amp_probe 0 'n "$D && $AMPPORT"'
  a .classes.spoofed_hint "$5" 'n "$D && ($SPOOFED)"'
  a .classes.nonroutable_src "$6" 'n "$D && ($NONROUTABLE)"'
  a .classes.fragment 0 'n "$D && ($FRAG)"'
  a .fingerprints.nmap "$7" 'n "$D && $NMAP"'
  a .fingerprints.zmap 0 'n "$D && $ZMAP"'
  a .fingerprints.mirai 0 'n "$D && $MIRAI"'
  a .fingerprints.masscan 0 'masscan'
  a .fingerprints.unicornscan 0 'unicorn'
  a .ipv6_packets 0 'n "$D && ipv6"'
}
top5='[.ports[:5][] | "\(.proto)/\(.port) \(.packets) \(.sources)"] | join(",")'

# nmap SYN scan of one host: the scanner's 1,994 SYNs to 64.13.134.52 (a /32 darknet) plus 17
# replies back to the scanner. Real nmap varies the window over 1024/2048/3072/4096; only the
# 1024 ones fit darkscope's nmap rule (window 1024, MSS only, TTL 7..59).
F=$real/nmap-synscan.pcapng D='(ip.dst#1==64.13.134.52)'
run nmap32 -r "$F" --darknet 64.13.134.52/32 --top 5000
a .packets 2011 'n ""'
a .darknet_packets 1994 'n "$D"'
a .monitored_addresses 1 'echo 1'
a .skipped.not_darknet 17 'n "!$D"'
a .skipped.malformed 0 'n "_ws.malformed"'
a .skipped.non_ip 0 'n "!ip && !ipv6"'
#               tcp_syn backsc icmpreq udp spoofed nonroutable nmap
classes_and_fps 1994    0      0       0   0       1994        424
a .sources 1 'srcs'
a .darknet_bytes 115652 'bytes'
a '.ports | length' 1000 'ports 0'
a "$top5" "tcp/1 2 1,tcp/3 2 1,tcp/4 2 1,tcp/6 2 1,tcp/7 2 1" 'ports 5'

# the same file without --darknet: every destination counts, so the SYN-ACK and RST replies
# to the scanner (source 172.16.0.8 -> nonroutable, port 36050) are backscatter
D='(ip)'
run nmapall -r "$F"
a .packets 2011 'n ""'
a .darknet_packets 2011 'n "$D"'
a .monitored_addresses 4294967296 'echo $((1 << 32))'
a .skipped.not_darknet 0 'n "!$D"'
a .skipped.malformed 0 'n "_ws.malformed"'
a .skipped.non_ip 0 'n "!ip && !ipv6"'
classes_and_fps 1994 17 0 0 0 1994 424
a .sources 2 'srcs'
a .darknet_bytes 116672 'bytes'
a "$top5" "tcp/36050 16 1,tcp/1 2 1,tcp/3 2 1,tcp/4 2 1,tcp/6 2 1" 'ports 5'

# 29 SYNs (window 8, no options: not nmap's raw probe) from 10.100.25.14 to 29 ports of
# 10.100.18.12; darknet = its /24
F=$real/nmap-portscan-small.pcap D='(ip.dst#1==10.100.18.0/24)'
run portscan -r "$F" --darknet 10.100.18.0/24
a .packets 29 'n ""'
a .darknet_packets 29 'n "$D"'
a .monitored_addresses 256 'echo 256'
a .skipped.not_darknet 0 'n "!$D"'
a .skipped.malformed 0 'n "_ws.malformed"'
a .skipped.non_ip 0 'n "!ip && !ipv6"'
classes_and_fps 29 0 0 0 0 29 0
a .sources 1 'srcs'
a .darknet_bytes 1740 'bytes'
a '.ports | length' 29 'ports 0'
a "$top5" "tcp/21 1 1,tcp/22 1 1,tcp/23 1 1,tcp/25 1 1,tcp/53 1 1" 'ports 5'

# MSBlaster: the worm's remote shell on tcp/4444 (both directions, each twice), ending in RSTs
F=$real/msblaster.pcap D='(ip)'
run blaster -r "$F"
a .packets 18 'n ""'
a .darknet_packets 18 'n "$D"'
a .skipped.not_darknet 0 'n "!$D"'
a .skipped.malformed 0 'n "_ws.malformed"'
a .skipped.non_ip 0 'n "!ip && !ipv6"'
classes_and_fps 0 2 0 0 0 18 0
a .sources 2 'srcs'
a .darknet_bytes 1168 'bytes'
a "$top5" "tcp/4444 12 1,tcp/1793 6 1" 'ports 5'

# spoofed SYN flood on 10.10.10.10:25565: TTL 242/244 with window 0 is spoofed_hint for every
# packet (the TTL >= 200 exemption needs window 1024)
F=$real/synflood-spoofed.pcap D='(ip.dst#1==10.10.10.10)'
run synflood -r "$F" --darknet 10.10.10.10
a .packets 37841 'n ""'
a .darknet_packets 37841 'n "$D"'
a .monitored_addresses 1 'echo 1'
a .skipped.not_darknet 0 'n "!$D"'
a .skipped.malformed 0 'n "_ws.malformed"'
a .skipped.non_ip 0 'n "!ip && !ipv6"'
classes_and_fps 37841 0 0 0 37841 0 0
a .sources 37623 'srcs'
a .darknet_bytes 2270460 'bytes'
a "$top5" "tcp/25565 37841 37623" 'ports 5'

# SNMP reflection seen from the victim 10.10.10.10 (darknet = its /24): 4,079 replies from
# udp/161 and 294 ICMP errors (types 3, 5, 11: backscatter). tshark's plain `tcp`/`udp`/`ip.src`
# would also match the headers those errors quote (153 quote UDP, 139 TCP); darkscope, and the
# "#1" filters here, look at the outer header. Its 2 "malformed" frames are malformed SNMP,
# above the layers darkscope decodes.
F=$real/snmp-reflection-src161.pcapng D='(ip.dst#1==10.10.10.0/24)'
run snmp -r "$F" --darknet 10.10.10.0/24
a .packets 4373 'n ""'
a .darknet_packets 4373 'n "$D"'
a .monitored_addresses 256 'echo 256'
a .skipped.not_darknet 0 'n "!$D"'
a .skipped.malformed 0 'n "_ws.malformed && !snmp"'
a .skipped.non_ip 0 'n "!ip && !ipv6"'
classes_and_fps 0 294 0 4079 1458 0 0
a .sources 4276 'srcs'
a .darknet_bytes 1055847 'bytes'
a "$top5" "udp/54609 1397 1397,udp/12294 1383 1349,udp/3299 1299 1299" 'ports 5'

# ------------------------------------------------------------------ three more -------------
# The five captures have no fragment, ICMP request, IPv6 or non-IP frame; three of tcpdump's
# test captures (Ethernet) have them.
# AFS over UDP with 200 IPv4 fragments (fragment and spoofed_hint) and 25 ICMP errors
F=$robust/afs.pcap D='(ip)'
run afs -r "$F"
a .packets 601 'n ""'
a .darknet_packets 601 'n "$D"'
a .skipped.not_darknet 0 'n "!$D"'
a .skipped.malformed 0 'n "ip.hdr_len#1 < 20 || ip.len#1 < ip.hdr_len#1"'
a .skipped.non_ip 0 'n "!ip && !ipv6"'
a .skipped.truncated 0 'n "frame.cap_len < frame.len"'
a .skipped.unsupported_link 0 'n "!eth"'
a .classes.tcp_syn 0 'n "$D && $SYN"'
a .classes.backscatter 25 'n "$D && ($BACKSCATTER)"'
a .classes.icmp_request 0 'n "$D && $ICMPREQ"'
a .classes.udp 576 'n "$D && $UDP"'
a .classes.spoofed_hint 415 'n "$D && ($SPOOFED)"'
a .classes.nonroutable_src 0 'n "$D && ($NONROUTABLE)"'
a .classes.fragment 200 'n "$D && ($FRAG)"'
a .ipv6_packets 0 'n "$D && ipv6"'
a .sources 6 'srcs'
a .darknet_bytes 512276 'bytes'
a '.ports | length' 10 'ports 0'
a "$top5" "udp/1799 149 3,udp/7021 78 1,udp/7001 74 4,udp/7000 64 2,udp/7002 30 1" 'ports 5'
# DHCP (RFC 4388 leasequery) with 12 ARP frames (non_ip) and 3 ICMP echo requests/replies
F=$robust/dhcp-rfc4388.pcap D='(ip)'
run dhcp -r "$F"
a .packets 54 'n ""'
a .darknet_packets 42 'n "$D"'
a .skipped.non_ip 12 'n "!ip && !ipv6"'
a .skipped.not_darknet 0 'n "(ip || ipv6) && !$D"'
a .classes.icmp_request 3 'n "$D && $ICMPREQ"'
a .classes.backscatter 3 'n "$D && ($BACKSCATTER)"'
a .classes.udp 36 'n "$D && $UDP"'
a .classes.spoofed_hint 0 'n "$D && ($SPOOFED)"'
a .classes.nonroutable_src 42 'n "$D && ($NONROUTABLE)"'
a .sources 4 'srcs'
a "$top5" "udp/67 36 3" 'ports 5'
# PIM over IPv4 and IPv6: protocol 103 is none of TCP/UDP/ICMP/ICMPv6, so every packet is
# spoofed_hint; the IPv6 sources (10::1, 10::2, 1::b) are routable, the IPv4 ones are 10/8
F=$robust/pim-packet-assortment.pcap D='(ip || ipv6)'
run pim -r "$F"
a .packets 245 'n ""'
a .darknet_packets 245 'n "$D"'
a .ipv6_packets 117 'n "ipv6 && !ip"'
a .classes.spoofed_hint 245 'n "ip.proto#1==103 || ipv6.nxt#1==103"'
a .classes.nonroutable_src 128 'n "ip && ($NONROUTABLE)"'
# (PIM register messages carry whole packets: "#1" keeps to the outer header again)
a .classes.tcp_syn 0 'n "ip.proto#1==6 || ipv6.nxt#1==6"'
a .classes.udp 0 'n "ip.proto#1==17 || ipv6.nxt#1==17"'
a .classes.backscatter 0 'n "ip.proto#1==1 || ipv6.nxt#1==58"'
a .sources 8 'tshark -r "$F" -T fields -E occurrence=f -e ip.src -e ipv6.src 2>/dev/null | sort -u | wc -l'
a '.ports | length' 0 'n "ip.proto#1 in {6,17} || ipv6.nxt#1 in {6,17}"'

# ------------------------------------------------------------------ same bytes, other ways ---
# gzip and zstd files, standard input (a file and a pipe, plain and compressed): the report is
# byte for byte the one of the plain file.
for f in nmap-synscan.pcapng nmap-portscan-small.pcap msblaster.pcap synflood-spoofed.pcap \
         snmp-reflection-src161.pcapng; do
  base=${f%%.*}
  run "$base-plain" -r "$real/$f"
  gzip -c "$real/$f" >"$tmp/$f.gz"
  zstd -q -c "$real/$f" >"$tmp/$f.zst"
  run "$base-gz" -r "$tmp/$f.gz"
  same_json "$tmp/$base-plain.json" "$tmp/$base-gz.json" "$f through gzip"
  run "$base-zst" -r "$tmp/$f.zst"
  same_json "$tmp/$base-plain.json" "$tmp/$base-zst.json" "$f through zstd"
  run "$base-stdin" -r - <"$real/$f"
  same_json "$tmp/$base-plain.json" "$tmp/$base-stdin.json" "$f as -r - < file"
  cat "$real/$f" | run "$base-pipe" -r -
  same_json "$tmp/$base-plain.json" "$tmp/$base-pipe.json" "$f through a pipe"
  gzip -c "$real/$f" | run "$base-gzpipe" -r -
  same_json "$tmp/$base-plain.json" "$tmp/$base-gzpipe.json" "$f gzip-compressed through a pipe"
  zstd -q -c "$real/$f" | run "$base-zstpipe" -r -
  same_json "$tmp/$base-plain.json" "$tmp/$base-zstpipe.json" "$f zstd-compressed through a pipe"
done

# ------------------------------------------------------------------ several files ----------
# the flood and the reflection both hit 10.10.10.10: counts add up, sources are the union
F="$real/synflood-spoofed.pcap $real/snmp-reflection-src161.pcapng" D='(ip.dst#1==10.10.10.0/24)'
run two -r "$real/synflood-spoofed.pcap" -r "$real/snmp-reflection-src161.pcapng" --darknet 10.10.10.0/24
a .packets 42214 'echo $((37841 + 4373))'
a .darknet_packets 42214 'echo $((37841 + 4373))'
a .classes.tcp_syn 37841 'echo $((37841 + 0))'
a .classes.udp 4079 'echo $((0 + 4079))'
a .classes.backscatter 294 'echo $((0 + 294))'
a .classes.spoofed_hint 39299 'echo $((37841 + 1458))'
a .sources 41899 'srcs'
a "$top5" "tcp/25565 37841 37623,udp/54609 1397 1397,udp/12294 1383 1349,udp/3299 1299 1299" 'ports 5'
a .capture.inputs_ok 2 'echo 2'
# a directory stands for its files: all five captures
run dir -r "$real"
a .packets 44272 'echo $((2011 + 29 + 18 + 37841 + 4373))'
a .capture.inputs_ok 5 'ls "$real" | wc -l'
# -c stops after that many packets
run count100 -r "$real/synflood-spoofed.pcap" -c 100
a .packets 100 'echo 100'

# ------------------------------------------------------------------ BPF filters ------------
# BPF `tcp`/`udp` test the outer header (IPv4 protocol or IPv6 next header), as the "#1"
# display filters do; tshark's plain `tcp` would also count the 139 ICMP errors quoting TCP.
F="$real/synflood-spoofed.pcap" D='(ip.dst#1==10.10.10.0/24)'
run bpf-tcp -r "$real/synflood-spoofed.pcap" -r "$real/snmp-reflection-src161.pcapng" \
  --darknet 10.10.10.0/24 -f tcp
a .packets 37841 'echo $(( $(n "ip.proto#1==6") + $(F=$real/snmp-reflection-src161.pcapng n "ip.proto#1==6") ))'
a .capture.filtered_out 4373 'echo $(( $(n "!(ip.proto#1==6)") + $(F=$real/snmp-reflection-src161.pcapng n "!(ip.proto#1==6)") ))'
a .classes.tcp_syn 37841 'n "$D && $SYN"'
a .classes.backscatter 0 'F=$real/snmp-reflection-src161.pcapng n "ip.proto#1==6 && ($BACKSCATTER)"'
F="$real/snmp-reflection-src161.pcapng"
run bpf-udp -r "$real/synflood-spoofed.pcap" -r "$real/snmp-reflection-src161.pcapng" \
  --darknet 10.10.10.0/24 udp
a .packets 4079 'n "ip.proto#1==17"'
a .capture.filtered_out 38135 'echo $(( $(n "!(ip.proto#1==17)") + $(F=$real/synflood-spoofed.pcap n "!(ip.proto#1==17)") ))'
a .classes.udp 4079 'n "$D && $UDP"'
a .classes.backscatter 0 'n "$UDP && ($BACKSCATTER)"'
a .classes.spoofed_hint 1397 'n "$D && $UDP && ($SPOOFED)"'
a .sources 4028 'F="$real/snmp-reflection-src161.pcapng" D="($D && $UDP)" srcs'
a "$top5" "udp/54609 1397 1397,udp/12294 1383 1349,udp/3299 1299 1299" 'ports 5'
# trailing arguments form one expression, as with tcpdump
F=$real/nmap-synscan.pcapng D='(ip)'
run bpf-args -r "$F" tcp and port 80
a .packets 5 'n "tcp.port==80"'
a .classes.tcp_syn 1 'n "tcp.port==80 && $SYN"'
a .classes.backscatter 4 'n "tcp.port==80 && ($BACKSCATTER)"'

# ------------------------------------------------------------------ bad input --------------
# Exit statuses (src/cli/cli.h): 1 = counts printed but some input rejected or cut short,
# 3 = nothing readable. The message names the file.
expect_exit 3 "$tmp/nonexistent.pcap: No such file or directory" missing -r "$tmp/nonexistent.pcap"
[ ! -s "$tmp/missing.json" ] || fail "a report was printed although nothing was readable"
printf 'this is a text file, not a capture\n' >"$tmp/text.pcap"
expect_exit 3 "$tmp/text.pcap: not a pcap or pcapng file" text -r "$tmp/text.pcap"
: >"$tmp/empty.pcap"
expect_exit 3 "$tmp/empty.pcap: empty file" empty -r "$tmp/empty.pcap"
head -c 10 "$real/synflood-spoofed.pcap" >"$tmp/header10.pcap"
expect_exit 3 "$tmp/header10.pcap" header10 -r "$tmp/header10.pcap"
# cut inside a record: the frames before the cut are counted, exit 1, the offset is named
head -c 100000 "$real/synflood-spoofed.pcap" >"$tmp/cut.pcap"
F=$tmp/cut.pcap
expect_exit 1 "$tmp/cut.pcap: truncated record" cut -r "$tmp/cut.pcap"
a .packets 1315 'tcpdump_count "$F"'  # tcpdump: "truncated dump file" after 1315 packets
a .capture.inputs_cut 1 'echo 1'
head -c 50000 "$real/nmap-synscan.pcapng" >"$tmp/cut.pcapng"
F=$tmp/cut.pcapng
expect_exit 1 "$tmp/cut.pcapng: truncated block" cutng -r "$tmp/cut.pcapng"
a .packets 542 'tcpdump_count "$F"'  # tcpdump: "truncated pcapng dump file" after 542 packets
head -c 300 "$tmp/msblaster.pcap.gz" >"$tmp/cut.pcap.gz"  # made above
expect_exit 1 "$tmp/cut.pcap.gz: gzip data truncated" cutgz -r "$tmp/cut.pcap.gz"
head -c 100000 "$tmp/synflood-spoofed.pcap.zst" >"$tmp/cut.pcap.zst"
expect_exit 1 "$tmp/cut.pcap.zst: zstd data truncated" cutzst -r "$tmp/cut.pcap.zst"
# one bad file among good ones: skipped with a warning, the rest counted, exit 1
F=$real/msblaster.pcap
expect_exit 1 "$tmp/text.pcap: not a pcap or pcapng file" mixed -r "$tmp/text.pcap" -r "$F"
a .packets 18 'n ""'
a .capture.inputs_rejected 1 'echo 1'
a .capture.inputs_ok 1 'echo 1'

# ------------------------------------------------------------------ robustness -------------
# Every file in tcpdump's test directory (830 captures, the LICENSE beside them, fuzzer and
# CVE reproducers among them) is read or cleanly rejected: exit 0 read, 1 cut short, 3
# rejected; a signal, a timeout (10 s) or a sanitizer report fails. packets must equal
# darknet_packets plus the skipped counts in every report.
cat >"$tmp/one.sh" <<'EOF'
bin=$1 out=$2 f=$3
name=$(basename "$f")
rc=0
timeout -k 5 10 "$bin" analyze -r "$f" --format json >"$out/$name.json" 2>"$out/$name.err" </dev/null || rc=$?
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' "$out/$name.err"; then
  rc=sanitizer
fi
packets=-
if [ "$rc" = 0 ] || [ "$rc" = 1 ]; then
  packets=$(jq -e 'if .packets == .darknet_packets + ([.skipped[]] | add) then .packets
                   else error("packets != darknet_packets + skipped") end' "$out/$name.json" 2>/dev/null) ||
    packets=badjson
fi
echo "$rc $packets $name"
EOF
mkdir -p "$tmp/robust"
find "$robust" -maxdepth 1 -type f -print0 | sort -z |
  xargs -0 -P2 -n1 bash "$tmp/one.sh" "$bin" "$tmp/robust" >"$tmp/robust.txt" ||
  fail "the robustness pass itself failed"
files=$(wc -l <"$tmp/robust.txt")
read_ok=$(awk '$1 == "0"' "$tmp/robust.txt" | wc -l)
cut_short=$(awk '$1 == "1"' "$tmp/robust.txt" | wc -l)
rejected=$(awk '$1 == "3"' "$tmp/robust.txt" | wc -l)
packets=$(awk '$1 == "0" || $1 == "1" {s += $2} END {print s + 0}' "$tmp/robust.txt")
echo "robustness: $files files: $read_ok read, $cut_short cut short, $rejected rejected; $packets packets"
bad=$(awk '$1 != "0" && $1 != "1" && $1 != "3" || $2 == "badjson"' "$tmp/robust.txt")
if [ -n "$bad" ]; then
  printf '%s\n' "$bad" | head -20 >&2
  first=$(printf '%s\n' "$bad" | head -1 | awk '{print $3}')
  head -30 "$tmp/robust/$first.err" >&2
  fail "robustness: $(printf '%s\n' "$bad" | wc -l) files crashed, hung, hit a sanitizer or broke the" \
       "packets invariant (status 124/137 = timeout, 128+N = signal N; stderr in $tmp/robust)"
fi
# find "$robust" -maxdepth 1 -type f | wc -l
[ "$files" = 831 ] || fail "robustness: $files files, expected 831"
# every *.pcap/*.pcapng opens in tcpdump (814 with capinfos too; 14 link types it cannot open,
# whose counts tcpdump gives), so all 830 are read; the LICENSE is rejected
[ "$read_ok" = 830 ] || fail "robustness: $read_ok files read, expected 830"
[ "$cut_short" = 0 ] || fail "robustness: $cut_short files cut short, expected 0"
[ "$rejected" = 1 ] || fail "robustness: $rejected files rejected, expected 1 (LICENSE)"
grep -q '^3 - LICENSE$' "$tmp/robust.txt" || fail "robustness: LICENSE was not the rejected file"
# for f in "$robust"/*.pcap "$robust"/*.pcapng; do tcpdump -n -r "$f" -w /dev/null --count; done |
#   awk '{s += $1} END {print s}'
[ "$packets" = 10183 ] || fail "robustness: $packets packets read, expected 10183"
if [ "$remeasure" = 1 ]; then
  m=$(for f in "$robust"/*.pcap "$robust"/*.pcapng; do tcpdump_count "$f"; done | awk '{s += $1} END {print s}')
  [ "$m" = 10183 ] || fail "tcpdump now counts $m packets in the robustness captures"
fi
checks=$((checks + 6))

echo "real_captures: $checks checks passed"
