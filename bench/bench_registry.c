/* bench_registry.c - what alerting costs the packet path: a 10,000-organisation registry
 * (100,000 livenet ranges, IPv4 /16-/28 and IPv6 /32-/64) built with ds_registry_add_org,
 * then the same capture through the host shard with and without the matcher.
 *
 * Usage:
 *   bench_registry build DB ADDRS [--orgs N] [--ranges N] [--file PATH | --webhook URL]
 *       A fresh store DB holding N organisations (10000) of N livenet ranges each (10). The
 *       addresses in ADDRS (one per line, e.g. sources from a capture's truth file) are each
 *       covered by one range of their own organisation (/24-/28, or /48-/64 for IPv6), so
 *       matching finds them; one in three of those organisations also registers a darknet
 *       /24 inside 198.18.0.0/16 (the bench capture's darknet: some matches are "internal").
 *       Every organisation gets one contact (default: a file contact /dev/shm/...).
 *   bench_registry time PCAP DB MODE
 *       MODE shard:  decode, classify, host shard (as bench_stages 3; no alerting)
 *       MODE lookup: the same plus the matcher's longest-prefix lookup per packet, alone
 *       MODE match:  the shard with the registry matcher and a counting no-op sink
 *       MODE engine: the same with the real alert engine (its thread, its store connection:
 *                    a scratch copy of DB) fed by the matcher, drained (digests flushed) at
 *                    the end; no delivery workers (outbox rows are only written)
 *       Prints "MODE SECONDS PACKETS MATCHED EVENTS USER SYS" (SECONDS: wall time of the
 *       packet loop, plus the final flush and drain; USER, SYS: the reading thread's user and
 *       system CPU seconds over the same span) and, on standard error, the registry's size
 *       and load time.
 *
 * The darknet filter is left out (every packet counts), as in bench_stages. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "alert/alerts.h"
#include "alert/match.h"
#include "alert/registry.h"
#include "analyze/shard.h"
#include "capture/capture.h"
#include "classify/classify.h"
#include "core/lpm.h"
#include "decode/decode.h"
#include "store/store.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* User CPU seconds of this thread: on a shared virtual machine it moves much less than the
 * wall clock, as neither waiting for the core nor the kernel's zeroing of freshly touched
 * pages (system time; the host table's first touch, which varies by a factor of three from
 * run to run here) counts. */
static double cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6;
}

static double sys_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* ------------------------------------------------------------------ building ------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void) /* splitmix64: the same registry every time */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Prefix lengths as registries see them: mostly /22-/24 and small /26-/28 assignments, a
 * few large /16-/20 holders (weights per thousand; about 2.5 % of the IPv4 space in all). */
static int v4_len(void)
{
    static const struct {
        int len, weight;
    } t[] = {{16, 3},   {17, 5},   {18, 10}, {19, 20}, {20, 40}, {21, 50}, {22, 100},
             {23, 110}, {24, 300}, {25, 60}, {26, 80}, {27, 90}, {28, 132}};
    int r = (int)(rnd() % 1000);
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if ((r -= t[i].weight) < 0)
            return t[i].len;
    return 24;
}

static int v6_len(void)
{
    static const int t[] = {32, 40, 44, 48, 48, 48, 48, 48, 56, 64};
    return t[rnd() % 10];
}

static bool reserved16(uint32_t b16) /* b16 = the top 16 bits */
{
    uint32_t a = b16 >> 8;
    return a == 0 || a == 10 || a == 127 || a >= 224 || (b16 >= 0x6440 && b16 < 0x6480) ||
           b16 == 0xa9fe || (b16 >= 0xac10 && b16 < 0xac20) || b16 == 0xc0a8 || b16 == 0xc612 ||
           b16 == 0xc613; /* 198.18.0.0/15: the bench darknet */
}

struct covered {
    struct ds_addr *a;
    size_t n;
};

static int read_addrs(const char *path, struct covered *c)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    char line[128];
    size_t cap = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, " \t\r\n")] = 0;
        if (!line[0] || line[0] == '#')
            continue;
        if (c->n == cap) {
            cap = cap ? cap * 2 : 256;
            c->a = realloc(c->a, cap * sizeof *c->a);
            if (!c->a)
                abort();
        }
        struct ds_err e = {0};
        if (ds_addr_parse(&c->a[c->n], line, &e) < 0) {
            fprintf(stderr, "%s: %s\n", path, e.msg);
            fclose(f);
            return -1;
        }
        c->n++;
    }
    fclose(f);
    return 0;
}

static void prefix_text(const struct ds_addr *a, int len, char *out)
{
    struct ds_prefix p = {.addr = *a, .len = (uint8_t)len};
    for (int bit = len; bit < 128; bit++) /* clear the host bits */
        p.addr.b[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
    ds_prefix_format(&p, out);
}

static int build(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    const char *db = argv[2], *addrs = argv[3];
    long n_orgs = 10000, n_ranges = 10;
    const char *file = "/dev/shm/darkscope-bench-alerts.jsonl", *webhook = NULL;
    for (int i = 4; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--orgs"))
            n_orgs = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--ranges"))
            n_ranges = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--file"))
            file = argv[i + 1];
        else if (!strcmp(argv[i], "--webhook"))
            webhook = argv[i + 1], file = NULL;
        else
            return 2;
    }
    struct covered cov = {0};
    if (read_addrs(addrs, &cov) < 0)
        return 1;
    if ((long)cov.n > n_orgs) {
        fprintf(stderr, "bench_registry: more addresses (%zu) than organisations\n", cov.n);
        return 1;
    }
    /* the /16s free for random ranges: neither reserved nor holding a covered address */
    static uint8_t used16[65536];
    for (size_t i = 0; i < cov.n; i++)
        if (ds_addr_is_v4(&cov.a[i]))
            used16[ds_addr_v4(&cov.a[i]) >> 16] = 1;
    uint32_t *pool = malloc(65536 * sizeof *pool);
    size_t n_pool = 0;
    for (uint32_t b = 0; b < 65536; b++)
        if (!reserved16(b) && !used16[b])
            pool[n_pool++] = b;
    for (size_t i = n_pool - 1; i > 0; i--) { /* shuffle */
        size_t j = rnd() % (i + 1);
        uint32_t t = pool[i];
        pool[i] = pool[j];
        pool[j] = t;
    }
    /* short prefixes (/16-/19) take a /16 each from the front of the pool; longer ones a
     * /20 slot of a /16 from the rest, spread so no /16 holds more than a few */
    size_t n_short_pool = n_pool / 5, next_short = 0, next_long = 0;
    size_t n_long_pool = n_pool - n_short_pool;

    unlink(db);
    char side[4096];
    snprintf(side, sizeof side, "%s-wal", db);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", db);
    unlink(side);
    struct ds_store *st;
    struct ds_err err = {0};
    if (ds_store_open(&st, db, false, &err) < 0) {
        fprintf(stderr, "bench_registry: %s\n", err.msg);
        return 1;
    }
    double t0 = now();
    size_t total = 0, v6 = 0, dark = 0, covering = 0;
    double v4_space = 0; /* IPv4 addresses registered */
    size_t cov_next = 0;
    char(*text)[DS_PREFIX_STRLEN] = calloc((size_t)n_ranges + 1, DS_PREFIX_STRLEN);
    const char **live = calloc((size_t)n_ranges + 1, sizeof *live);
    for (long o = 0; o < n_orgs; o++) {
        long k = 0;
        long covers = -1; /* index into cov of the address this organisation covers */
        /* organisations spread over the list own the covered addresses, one range each */
        if (cov_next < cov.n && (size_t)o == cov_next * (size_t)n_orgs / cov.n) {
            covers = (long)cov_next;
            const struct ds_addr *a = &cov.a[cov_next++];
            int len = ds_addr_is_v4(a) ? 96 + 24 + (int)(rnd() % 5) : 48 + 8 * (int)(rnd() % 3);
            if (len > 96)
                v4_space += (double)(1u << (128 - len));
            prefix_text(a, len, text[k]);
            k++;
            covering++;
        }
        for (; k < n_ranges; k++) {
            struct ds_addr a;
            int len;
            if (rnd() % 100 < 15) { /* IPv6: a distinct /32 in 2400::/5, then random bits */
                uint32_t top = 0x24000000u + (uint32_t)((v6 * 2654435761u) & 0x7ffffff);
                uint64_t hi = ((uint64_t)top << 32) | (rnd() & 0xffffffffu), lo = rnd();
                for (int i = 0; i < 8; i++) {
                    a.b[i] = (uint8_t)(hi >> (56 - 8 * i));
                    a.b[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
                }
                len = v6_len();
                v6++;
            } else {
                len = v4_len();
                uint32_t b16, v;
                if (len < 20) {
                    b16 = pool[next_short++ % n_short_pool];
                    v = (b16 << 16) | ((uint32_t)rnd() & 0xffffu);
                } else {
                    size_t r = next_long++;
                    b16 = pool[n_short_pool + r % n_long_pool];
                    uint32_t slot = (uint32_t)(r / n_long_pool) & 15;
                    v = (b16 << 16) | (slot << 12) | ((uint32_t)rnd() & 0xfffu);
                }
                ds_addr_set_v4(&a, v);
                v4_space += (double)(1u << (32 - len));
                len += 96;
            }
            prefix_text(&a, len, text[k]);
        }
        for (long i = 0; i < n_ranges; i++)
            live[i] = text[i];
        char name[64], dtext[DS_PREFIX_STRLEN];
        snprintf(name, sizeof name, "org-%05ld", o);
        const char *darknet[1] = {dtext};
        struct ds_org_spec spec = {
            .name = name,
            .livenet = live,
            .n_livenet = (size_t)n_ranges,
            .allow_overlap = true, /* the ranges are disjoint by construction; the check
                                    * reloads the registry per range (see docs/benchmark.md) */
        };
        if (covers >= 0 && covers % 3 == 0) {
            snprintf(dtext, sizeof dtext, "198.18.%u.0/24", (unsigned)(covers % 256));
            spec.darknet = darknet;
            spec.n_darknet = 1;
            dark++;
        }
        const char *contact[1];
        if (webhook) {
            contact[0] = webhook;
            spec.webhooks = contact;
            spec.n_webhooks = 1;
        } else {
            contact[0] = file;
            spec.files = contact;
            spec.n_files = 1;
        }
        int64_t id;
        if (ds_registry_add_org(st, &spec, "bench", &id, &err) < 0) {
            fprintf(stderr, "bench_registry: %s: %s\n", name, err.msg);
            return 1;
        }
        total += (size_t)n_ranges + spec.n_darknet;
    }
    double t1 = now();
    ds_store_close(st);
    fprintf(stderr,
            "bench_registry: %ld organisations, %zu ranges (%zu IPv6, %zu darknet), %zu covering "
            "listed addresses, %.2f %% of the IPv4 space; built in %.2f s\n",
            n_orgs, total, v6, dark, covering, 100.0 * v4_space / 4294967296.0, t1 - t0);
    free(text);
    free(live);
    free(pool);
    free(cov.a);
    return 0;
}

/* ------------------------------------------------------------------ timing -------------- */

struct counting {
    uint64_t events, first;
};

static void count_post(void *ctx, const struct ds_alert_event *ev)
{
    struct counting *c = ctx;
    c->events++;
    c->first += ev->first;
}

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    if (!in || !out) {
        perror(in ? to : from);
        if (in)
            fclose(in);
        return -1;
    }
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) {
            fclose(in);
            fclose(out);
            return -1;
        }
    fclose(in);
    return fclose(out) == 0 ? 0 : -1;
}

static int timing(int argc, char **argv)
{
    if (argc != 5)
        return 2;
    const char *pcap = argv[2], *db = argv[3], *mode = argv[4];
    bool match = !strcmp(mode, "match"), engine = !strcmp(mode, "engine");
    bool lookup = !strcmp(mode, "lookup");
    if (!match && !engine && !lookup && strcmp(mode, "shard"))
        return 2;
    struct ds_err err = {0};
    struct ds_registry *reg = NULL;
    _Atomic(const struct ds_registry *) regp = NULL;
    struct ds_alerts *alerts = NULL;
    char scratch[4096] = "";
    struct counting cnt = {0};
    struct ds_alert_sink counting_sink = {.ctx = &cnt, .post = count_post};
    struct ds_shard_config cfg = {.hscan_dsts = 25, .vscan_ports = 15};
    if (match || engine || lookup) {
        struct ds_store *st;
        if (ds_store_open(&st, db, true, &err) < 0) {
            fprintf(stderr, "bench_registry: %s\n", err.msg);
            return 1;
        }
        double t0 = now();
        if (ds_registry_load(st, &reg, &err) < 0) {
            fprintf(stderr, "bench_registry: %s\n", err.msg);
            return 1;
        }
        double t1 = now();
        ds_store_close(st);
        struct ds_lpm_stats ls;
        ds_lpm_get_stats(reg->livenet, &ls);
        fprintf(stderr,
                "bench_registry: registry of %zu organisations, %zu ranges loaded in %.3f s; "
                "livenet table %zu prefixes, %zu v4 + %zu v6 intervals, %zu KiB\n",
                reg->n_orgs, reg->n_ranges, t1 - t0, ls.prefixes, ls.v4_intervals, ls.v6_intervals,
                ls.bytes / 1024);
        atomic_store(&regp, reg);
        if (!lookup) {
            cfg.registry = &regp;
            cfg.alerts = &counting_sink;
        }
        if (engine) {
            snprintf(scratch, sizeof scratch, "%s.engine-%d", db, (int)getpid());
            if (copy_file(db, scratch) < 0)
                return 1;
            struct ds_alerts_config ac;
            ds_alerts_config_defaults(&ac);
            if (ds_alerts_open(&alerts, scratch, &regp, &ac, NULL, NULL, &err) < 0) {
                fprintf(stderr, "bench_registry: %s\n", err.msg);
                return 1;
            }
            cfg.alerts = ds_alerts_sink(alerts);
        }
    }
    const char *paths[] = {pcap};
    struct ds_capture_opts o = {.paths = paths, .n_paths = 1};
    struct ds_source *src;
    struct ds_shard shard;
    if (ds_source_open(&src, &o, &err) < 0 || ds_shard_init(&shard, 0, &cfg, NULL, &err) < 0) {
        fprintf(stderr, "bench_registry: %s\n", err.msg[0] ? err.msg : "out of memory");
        return 1;
    }
    static struct ds_frame fv[DS_SHARD_BATCH];
    static struct ds_pkt pk[DS_SHARD_BATCH];
    uint64_t hs[DS_SHARD_BATCH];
    uint64_t n = 0, hits = 0;
    double t0 = now(), c0 = cpu(), s0 = sys_cpu();
    int m;
    while ((m = ds_source_next_batch(src, fv, DS_SHARD_BATCH, &err)) > 0) {
        n += (uint64_t)m;
        int k = 0;
        for (int i = 0; i < m; i++) {
            if (ds_decode(fv[i].linktype, fv[i].data, fv[i].caplen, fv[i].wirelen, fv[i].ts_ns,
                          &pk[k]) != DS_DECODE_OK)
                continue;
            ds_classify(&pk[k]);
            hs[k] = ds_hosttab_hash(&pk[k].src);
            ds_hosttab_prefetch(&shard.hosts, &pk[k].src, hs[k]);
            k++;
        }
        ds_shard_ingest_batch(&shard, pk, hs, k);
        if (lookup) /* the matcher's lookups alone: source, or the victim behind backscatter */
            for (int i = 0; i < k; i++) {
                const struct ds_pkt *p = &pk[i];
                const struct ds_addr *a = p->classes & DS_CLASS_BIT(DS_CLASS_BACKSCATTER)
                                              ? ds_backscatter_victim(p)
                                              : &p->src;
                hits += ds_registry_livenet(reg, a) != NULL;
            }
        if (alerts && k)
            ds_alerts_tick(alerts, pk[k - 1].ts_ns);
    }
    if (shard.alerting)
        ds_matcher_flush(&shard.matcher);
    uint64_t matched = shard.alerting ? shard.matcher.matched : hits;
    if (alerts && ds_alerts_drain(alerts, true, &err) < 0)
        fprintf(stderr, "bench_registry: alert engine: %s\n", err.msg);
    double t1 = now(), c1 = cpu(), s1 = sys_cpu();
    uint64_t events = cnt.events;
    if (alerts) {
        const struct ds_alerts_stats *as = ds_alerts_stats(alerts);
        events = atomic_load(&as->events);
        fprintf(stderr,
                "bench_registry: engine: %" PRIu64 " events, %" PRIu64 " alerts, %" PRIu64
                " notices, %" PRIu64 " digests, %" PRIu64 " outbox rows\n",
                events, (uint64_t)atomic_load(&as->alerts_created),
                (uint64_t)atomic_load(&as->notices), (uint64_t)atomic_load(&as->digests),
                (uint64_t)atomic_load(&as->outbox_rows));
    } else if (match) {
        fprintf(stderr, "bench_registry: sink: %" PRIu64 " events, %" PRIu64 " first reports\n",
                cnt.events, cnt.first);
    }
    printf("%s %.6f %" PRIu64 " %" PRIu64 " %" PRIu64 " %.6f %.6f\n", mode, t1 - t0, n, matched,
           events, c1 - c0, s1 - s0);
    ds_shard_free(&shard);
    ds_source_close(src);
    if (alerts) {
        ds_alerts_close(alerts);
        unlink(scratch);
        char side[4200];
        snprintf(side, sizeof side, "%s-wal", scratch);
        unlink(side);
        snprintf(side, sizeof side, "%s-shm", scratch);
        unlink(side);
    }
    ds_registry_free(reg);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 2;
    if (argc >= 2 && !strcmp(argv[1], "build"))
        rc = build(argc, argv);
    else if (argc >= 2 && !strcmp(argv[1], "time"))
        rc = timing(argc, argv);
    if (rc == 2)
        fprintf(stderr, "usage: bench_registry build DB ADDRS [--orgs N] [--ranges N] "
                        "[--file PATH | --webhook URL]\n"
                        "       bench_registry time PCAP DB shard|lookup|match|engine\n");
    return rc;
}
