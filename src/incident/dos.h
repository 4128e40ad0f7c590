/* dos.h - DoS attacks inferred from backscatter (Moore et al.; CAIDA Corsaro's RS-DoS rules):
 * backscatter packets grouped into attack vectors per (victim, protocol), kept as attacks
 * when they reach the packet, duration and peak-rate thresholds. */
#ifndef DS_DOS_H
#define DS_DOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyze/hll.h"
#include "core/addr.h"
#include "core/err.h"
#include "decode/pkt.h"
#include "enrich/geo.h"

/* The RS-DoS thresholds (DOMAIN.md section 3). */
struct ds_dos_config {
    uint64_t min_packets;     /* an attack has at least this many packets (25) */
    uint64_t min_duration_s;  /* from first to last packet (60) */
    uint32_t min_ppm;         /* peak packets in a 60 s window sliding by 10 s (30) */
    uint64_t expiry_s;        /* a vector ends after this long without a packet (300) */
    uint64_t monitored_v4;    /* monitored IPv4 addresses: the attack rate's scale factor */
    const struct ds_geo *geo; /* the victim's country and ASN, or NULL */
};

#define DS_DOS_DEFAULT_MIN_PACKETS 25
#define DS_DOS_DEFAULT_MIN_DURATION 60
#define DS_DOS_DEFAULT_MIN_PPM 30
#define DS_DOS_DEFAULT_EXPIRY 300

/* One backscatter packet as the tracker needs it (the shards copy these out). */
struct ds_dos_rec {
    uint64_t ts_ns;
    struct ds_addr victim;  /* the outer source, or the quoted destination of an ICMP error */
    struct ds_addr dst;     /* the darknet address it reached */
    uint16_t victim_port;   /* TCP source port, or the quoted destination port; 0 if none */
    uint16_t attacker_port; /* TCP destination port, or the quoted source port; 0 if none */
    uint32_t wirelen;
    uint8_t proto; /* outer protocol: 6, 17, 1, 58 */
    bool has_ports;
};

/* Fills r from a packet with the backscatter class. */
void ds_dos_rec_from(struct ds_dos_rec *r, const struct ds_pkt *p);

#define DS_DOS_TOP_PORTS 8
struct ds_dos_port {
    uint16_t port;
    uint64_t packets;
};

/* One finished vector that passed the thresholds: an attack. */
struct ds_dos_attack {
    struct ds_addr victim;
    uint8_t proto;
    uint64_t first_ns, last_ns;
    uint64_t packets, bytes;
    uint32_t peak_ppm;
    struct ds_dos_port ports[DS_DOS_TOP_PORTS]; /* victim ports, busiest first (lower bounds) */
    size_t n_ports;
    uint64_t victim_ports;   /* distinct victim ports (exact up to 512, then estimated) */
    uint64_t darknet_addrs;  /* distinct darknet addresses hit (likewise) */
    uint64_t attacker_ports; /* distinct attacker (spoofed source) ports (likewise) */
    double est_rate_pps;     /* observed rate x 2^32 / monitored IPv4 addresses; 0 for IPv6 */
    char country[3];         /* the victim's, "" when unknown */
    uint32_t asn;            /* 0 when unknown */
    uint64_t late;           /* packets that came 29 or more 10-s buckets (290-300 s) behind
                              * the newest (in the counts, not in the peak) */
};

/* Where attacks go; called with the tracker's caller's lock held. Returns 0 or a negative
 * code with err set (the tracker stops feeding it). */
typedef int (*ds_dos_emit_fn)(void *ctx, const struct ds_dos_attack *a, struct ds_err *err);

struct ds_dos_vec; /* dos.c */

/*
 * Not thread-safe: one owner at a time (the collector calls it with its lock held). Records
 * may come a little out of time order (several shards): the peak is exact for records less
 * than 29 buckets of 10 s (at least 280 s) behind the newest one. Memory: one vector per (victim,
 * protocol) seen in the last expiry_s, each about 200 bytes plus its distinct-count sketches (up to
 * 3 x 4 KiB).
 */
struct ds_dos {
    struct ds_dos_config cfg;
    ds_dos_emit_fn emit;
    void *ctx;
    struct ds_dos_vec **tab; /* open addressing on (victim, proto) */
    size_t mask, count;
    uint64_t now_ns;        /* the watermark: vectors idle past it by expiry_s end */
    uint64_t next_sweep_ns; /* packet time of the next expiry sweep */
    /* counters */
    uint64_t records, vectors, attacks, below; /* below: vectors that were not attacks */
    int failed;
};

int ds_dos_init(struct ds_dos *d, const struct ds_dos_config *cfg, ds_dos_emit_fn emit, void *ctx);
void ds_dos_free(struct ds_dos *d);
/* Fills cfg with the defaults. */
void ds_dos_defaults(struct ds_dos_config *cfg);

/* Adds records (any order within 5 minutes; ends nothing by time: see ds_dos_advance). 0 or
 * the emitter's error. */
int ds_dos_add(struct ds_dos *d, const struct ds_dos_rec *r, size_t n, struct ds_err *err);
/* Packet time has reached now_ns everywhere: vectors quiet for expiry_s end. */
int ds_dos_advance(struct ds_dos *d, uint64_t now_ns, struct ds_err *err);
/* End of input: every open vector ends. */
int ds_dos_finish(struct ds_dos *d, struct ds_err *err);
/* Open vectors (for tests and metrics). */
size_t ds_dos_open(const struct ds_dos *d);

const char *ds_dos_proto_name(uint8_t proto);

#endif
