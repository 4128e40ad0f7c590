/* dos.c - DoS attacks inferred from backscatter: attack vectors per (victim, protocol), their
 * peak rate over 60 s windows sliding by 10 s, and the RS-DoS thresholds. */
#include "incident/dos.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"

#define BUCKET_NS (10ull * 1000000000ull) /* the window slides by 10 s */
#define WINDOW_BUCKETS 6                  /* a window is 60 s */
#define KEEP 30                           /* buckets held open for late records (5 minutes) */
#define RING 64                           /* > KEEP + WINDOW_BUCKETS */
#define PORTS 16                          /* victim ports tracked per vector */

_Static_assert(RING > KEEP + WINDOW_BUCKETS, "the ring holds every bucket a window may need");

struct ds_dos_vec {
    struct ds_addr victim;
    uint8_t proto;
    uint64_t first_ns, last_ns, packets, bytes, late;
    uint64_t fb;     /* the vector's first bucket */
    uint64_t cur;    /* the newest bucket in the ring */
    uint64_t next_e; /* the next window (by its last bucket) whose peak is not taken yet */
    uint32_t peak;
    uint32_t ring[RING]; /* counts of buckets max(fb, next_e - 5) .. cur, by bucket % RING */
    struct ds_dos_port ports[PORTS];
    size_t n_ports;
    struct ds_hll vports, addrs, aports;
};

void ds_dos_defaults(struct ds_dos_config *cfg)
{
    *cfg = (struct ds_dos_config){.min_packets = DS_DOS_DEFAULT_MIN_PACKETS,
                                  .min_duration_s = DS_DOS_DEFAULT_MIN_DURATION,
                                  .min_ppm = DS_DOS_DEFAULT_MIN_PPM,
                                  .expiry_s = DS_DOS_DEFAULT_EXPIRY};
}

const char *ds_dos_proto_name(uint8_t proto)
{
    switch (proto) {
    case 6:
        return "tcp";
    case 17:
        return "udp";
    case 1:
        return "icmp";
    case 58:
        return "icmp6";
    default:
        return "other";
    }
}

void ds_dos_rec_from(struct ds_dos_rec *r, const struct ds_pkt *p)
{
    bool quoted = (p->proto == 1 || p->proto == 58) && (p->flags & DS_PKT_QUOTE);
    *r = (struct ds_dos_rec){.ts_ns = p->ts_ns,
                             .victim = quoted ? p->quote.dst : p->src,
                             .dst = p->dst,
                             .wirelen = p->wirelen,
                             .proto = p->proto};
    if (quoted && (p->quote.proto == 6 || p->quote.proto == 17)) {
        r->victim_port = p->quote.dport;
        r->attacker_port = p->quote.sport;
        r->has_ports = true;
    } else if ((p->flags & DS_PKT_L4) && (p->proto == 6 || p->proto == 17)) {
        r->victim_port = p->sport;
        r->attacker_port = p->dport;
        r->has_ports = true;
    }
}

int ds_dos_init(struct ds_dos *d, const struct ds_dos_config *cfg, ds_dos_emit_fn emit, void *ctx)
{
    memset(d, 0, sizeof *d);
    if (cfg)
        d->cfg = *cfg;
    else
        ds_dos_defaults(&d->cfg);
    if (!d->cfg.expiry_s)
        d->cfg.expiry_s = DS_DOS_DEFAULT_EXPIRY;
    d->emit = emit;
    d->ctx = ctx;
    d->mask = 255;
    d->tab = calloc(d->mask + 1, sizeof *d->tab);
    return d->tab ? 0 : -ENOMEM;
}

static void vec_free(struct ds_dos_vec *v)
{
    ds_hll_free(&v->vports);
    ds_hll_free(&v->addrs);
    ds_hll_free(&v->aports);
    free(v);
}

void ds_dos_free(struct ds_dos *d)
{
    if (!d->tab)
        return;
    for (size_t i = 0; i <= d->mask; i++)
        if (d->tab[i])
            vec_free(d->tab[i]);
    free(d->tab);
    d->tab = NULL;
}

size_t ds_dos_open(const struct ds_dos *d)
{
    return d->count;
}

/* ------------------------------------------------------------------ the table ------------ */

static uint64_t key_hash(const struct ds_addr *a, uint8_t proto)
{
    return ds_mix64(ds_hash_addr16(a->b) ^ proto);
}

static size_t find(const struct ds_dos *d, const struct ds_addr *a, uint8_t proto)
{
    size_t i = key_hash(a, proto) & d->mask;
    while (d->tab[i] && !(d->tab[i]->proto == proto && ds_addr_eq(&d->tab[i]->victim, a)))
        i = (i + 1) & d->mask;
    return i;
}

static int grow(struct ds_dos *d)
{
    size_t nmask = d->mask * 2 + 1;
    struct ds_dos_vec **n = calloc(nmask + 1, sizeof *n);
    if (!n)
        return -ENOMEM;
    for (size_t i = 0; i <= d->mask; i++) {
        struct ds_dos_vec *v = d->tab[i];
        if (!v)
            continue;
        size_t j = key_hash(&v->victim, v->proto) & nmask;
        while (n[j])
            j = (j + 1) & nmask;
        n[j] = v;
    }
    free(d->tab);
    d->tab = n;
    d->mask = nmask;
    return 0;
}

/* Removes slot i (linear probing: later entries of the cluster move back). */
static void unlink_slot(struct ds_dos *d, size_t i)
{
    d->tab[i] = NULL;
    d->count--;
    for (size_t j = (i + 1) & d->mask; d->tab[j]; j = (j + 1) & d->mask) {
        struct ds_dos_vec *v = d->tab[j];
        size_t home = key_hash(&v->victim, v->proto) & d->mask;
        /* v may stay at j unless its home lies cyclically in (i, j] */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            d->tab[i] = v;
            d->tab[j] = NULL;
            i = j;
        }
    }
}

/* ------------------------------------------------------------------ one vector ----------- */

/* Takes the peak of the window ending at bucket e (every bucket of it is in the ring). */
static void take_window(struct ds_dos_vec *v, uint64_t e)
{
    uint64_t lo = e >= v->fb + WINDOW_BUCKETS - 1 ? e - (WINDOW_BUCKETS - 1) : v->fb;
    uint32_t sum = 0;
    for (uint64_t x = lo; x <= e; x++)
        sum += v->ring[x % RING];
    if (sum > v->peak)
        v->peak = sum;
}

/* Moves the newest bucket forward to b, taking the peaks of windows that can no longer
 * change (older than KEEP) before their buckets' ring slots are reused. */
static void advance_to(struct ds_dos_vec *v, uint64_t b)
{
    for (uint64_t x = v->cur + 1; x <= b; x++) {
        for (; v->next_e + KEEP <= x; v->next_e++)
            take_window(v, v->next_e);
        v->ring[x % RING] = 0;
        v->cur = x;
    }
}

static void add_port(struct ds_dos_vec *v, uint16_t port)
{
    for (size_t i = 0; i < v->n_ports; i++)
        if (v->ports[i].port == port) {
            v->ports[i].packets++;
            return;
        }
    if (v->n_ports < PORTS) {
        v->ports[v->n_ports++] = (struct ds_dos_port){.port = port, .packets = 1};
        return;
    }
    /* full: the least busy gives way, the newcomer counts from 1 (counts never overstate) */
    size_t lo = 0;
    for (size_t i = 1; i < v->n_ports; i++)
        if (v->ports[i].packets < v->ports[lo].packets)
            lo = i;
    v->ports[lo] = (struct ds_dos_port){.port = port, .packets = 1};
}

static void count(struct ds_dos_vec *v, const struct ds_dos_rec *r)
{
    uint64_t b = r->ts_ns / BUCKET_NS;
    if (b < v->fb && v->next_e == v->fb && v->cur - b < KEEP) {
        /* earlier than the vector's first record so far, and no window is taken yet: the
         * vector starts at b (the ring's slots of b .. fb - 1 were never written: zero) */
        v->fb = v->next_e = b;
        v->ring[b % RING]++;
    } else if (b < v->next_e) { /* more than KEEP late: in the counts, not in the peak */
        v->late++;
    } else {
        if (b > v->cur)
            advance_to(v, b);
        v->ring[b % RING]++;
    }
    if (r->ts_ns < v->first_ns)
        v->first_ns = r->ts_ns;
    if (r->ts_ns > v->last_ns)
        v->last_ns = r->ts_ns;
    v->packets++;
    v->bytes += r->wirelen;
    if (r->has_ports) {
        add_port(v, r->victim_port);
        (void)ds_hll_add(&v->vports, ds_mix64(r->victim_port));
        (void)ds_hll_add(&v->aports, ds_mix64(r->attacker_port));
    }
    (void)ds_hll_add(&v->addrs, ds_hash_addr16(r->dst.b));
}

static int cmp_ports(const void *a, const void *b)
{
    const struct ds_dos_port *x = a, *y = b;
    if (x->packets != y->packets)
        return x->packets > y->packets ? -1 : 1;
    return x->port < y->port ? -1 : x->port > y->port;
}

/* The vector ends: an attack if it passes the thresholds. */
static int end_vector(struct ds_dos *d, struct ds_dos_vec *v, struct ds_err *err)
{
    for (; v->next_e <= v->cur; v->next_e++)
        take_window(v, v->next_e);
    uint64_t dur_ns = v->last_ns - v->first_ns;
    bool attack = v->packets >= d->cfg.min_packets &&
                  dur_ns >= d->cfg.min_duration_s * 1000000000ull && v->peak >= d->cfg.min_ppm;
    if (!attack) {
        d->below++;
        return 0;
    }
    d->attacks++;
    if (!d->emit || d->failed)
        return d->failed;
    struct ds_dos_attack a = {.victim = v->victim,
                              .proto = v->proto,
                              .first_ns = v->first_ns,
                              .last_ns = v->last_ns,
                              .packets = v->packets,
                              .bytes = v->bytes,
                              .peak_ppm = v->peak,
                              .victim_ports = ds_hll_estimate(&v->vports),
                              .darknet_addrs = ds_hll_estimate(&v->addrs),
                              .attacker_ports = ds_hll_estimate(&v->aports),
                              .late = v->late};
    /* estimates past the exact range never claim more than there were packets */
    uint64_t *est[3] = {&a.victim_ports, &a.darknet_addrs, &a.attacker_ports};
    for (int i = 0; i < 3; i++)
        if (*est[i] > v->packets)
            *est[i] = v->packets;
    struct ds_dos_port sorted[PORTS];
    memcpy(sorted, v->ports, v->n_ports * sizeof *sorted);
    qsort(sorted, v->n_ports, sizeof *sorted, cmp_ports);
    a.n_ports = v->n_ports < DS_DOS_TOP_PORTS ? v->n_ports : DS_DOS_TOP_PORTS;
    memcpy(a.ports, sorted, a.n_ports * sizeof *a.ports);
    if (ds_addr_is_v4(&v->victim) && d->cfg.monitored_v4 && dur_ns)
        a.est_rate_pps = (double)v->packets / ((double)dur_ns / 1e9) *
                         (4294967296.0 / (double)d->cfg.monitored_v4);
    if (d->cfg.geo) {
        struct ds_geo_info gi;
        ds_geo_lookup_uncached(d->cfg.geo, &v->victim, &gi, NULL);
        memcpy(a.country, gi.country, sizeof a.country);
        a.asn = gi.asn;
    }
    int rc = d->emit(d->ctx, &a, err);
    if (rc < 0)
        d->failed = rc;
    return rc;
}

/* (Re)starts v as a new vector at record x; v is zeroed (calloc) or a vector that ended. */
static void vec_start(struct ds_dos_vec *v, const struct ds_dos_rec *x)
{
    ds_hll_free(&v->vports);
    ds_hll_free(&v->addrs);
    ds_hll_free(&v->aports);
    uint64_t b = x->ts_ns / BUCKET_NS;
    memset(v, 0, sizeof *v);
    v->victim = x->victim;
    v->proto = x->proto;
    v->first_ns = v->last_ns = x->ts_ns;
    v->fb = v->cur = v->next_e = b;
    ds_hll_init(&v->vports);
    ds_hll_init(&v->addrs);
    ds_hll_init(&v->aports);
}

/* ------------------------------------------------------------------ the tracker ---------- */

static int sweep(struct ds_dos *d, struct ds_err *err)
{
    uint64_t quiet = d->cfg.expiry_s * 1000000000ull;
    int rc = 0;
    for (size_t i = 0; i <= d->mask;) {
        struct ds_dos_vec *v = d->tab[i];
        if (v && d->now_ns > v->last_ns && d->now_ns - v->last_ns > quiet) {
            int r = end_vector(d, v, err);
            if (r < 0 && !rc)
                rc = r;
            unlink_slot(d, i);
            vec_free(v);
            continue; /* slot i now holds a moved entry (or nothing) */
        }
        i++;
    }
    d->next_sweep_ns = d->now_ns + BUCKET_NS;
    return rc ? rc : d->failed; /* an earlier emitter error stays the answer */
}

int ds_dos_advance(struct ds_dos *d, uint64_t now_ns, struct ds_err *err)
{
    if (now_ns > d->now_ns)
        d->now_ns = now_ns;
    if (d->now_ns < d->next_sweep_ns)
        return d->failed;
    return sweep(d, err);
}

int ds_dos_add(struct ds_dos *d, const struct ds_dos_rec *r, size_t n, struct ds_err *err)
{
    uint64_t quiet = d->cfg.expiry_s * 1000000000ull;
    for (size_t k = 0; k < n; k++) {
        const struct ds_dos_rec *x = &r[k];
        d->records++;
        size_t i = find(d, &x->victim, x->proto);
        struct ds_dos_vec *v = d->tab[i];
        if (v && x->ts_ns > v->last_ns && x->ts_ns - v->last_ns > quiet) {
            /* quiet for longer than the expiry: that vector ended, this one begins in its
             * place (same key, same slot) */
            int rc = end_vector(d, v, err);
            if (rc < 0)
                return rc;
            vec_start(v, x);
            d->vectors++;
        } else if (!v) {
            if ((d->count + 1) * 4 > (d->mask + 1) * 3) {
                if (grow(d) < 0)
                    return ds_err_set(err, -ENOMEM, "out of memory tracking DoS vectors");
                i = find(d, &x->victim, x->proto);
            }
            v = calloc(1, sizeof *v);
            if (!v)
                return ds_err_set(err, -ENOMEM, "out of memory tracking DoS vectors");
            vec_start(v, x);
            d->tab[i] = v;
            d->count++;
            d->vectors++;
        }
        count(v, x);
    }
    return d->failed; /* expiry waits for ds_dos_advance: other feeders may lag behind */
}

int ds_dos_finish(struct ds_dos *d, struct ds_err *err)
{
    int rc = 0;
    for (size_t i = 0; i <= d->mask; i++) {
        struct ds_dos_vec *v = d->tab[i];
        if (!v)
            continue;
        int r = end_vector(d, v, err);
        if (r < 0 && !rc)
            rc = r;
        vec_free(v);
        d->tab[i] = NULL;
    }
    d->count = 0;
    return rc ? rc : d->failed;
}
