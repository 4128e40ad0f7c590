/* truth.c - the ground truth of a generated capture: counters, attacks, campaigns and the
 * JSON writer (streamed with stdio: host lists can hold hundreds of thousands of entries). */
#include "gen/truth.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int ds_truth_init(struct ds_truth *t, size_t npops)
{
    memset(t, 0, sizeof *t);
    t->port_packets = calloc(2, sizeof *t->port_packets);
    t->port_sources = calloc(2, sizeof *t->port_sources);
    t->pops = calloc(npops ? npops : 1, sizeof *t->pops);
    t->npops = npops;
    if (!t->port_packets || !t->port_sources || !t->pops || ds_pairset_init(&t->pairs) < 0) {
        ds_truth_free(t);
        return -ENOMEM;
    }
    return 0;
}

void ds_truth_free(struct ds_truth *t)
{
    free(t->port_packets);
    free(t->port_sources);
    ds_pairset_free(&t->pairs);
    for (size_t i = 0; i < t->nattacks; i++)
        free(t->attacks[i].vec);
    free(t->attacks);
    free(t->campaigns);
    free(t->pops);
    memset(t, 0, sizeof *t);
}

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    void *nv = realloc(*v, nc * size);
    if (!nv)
        return -ENOMEM;
    *v = nv;
    *cap = nc;
    return 0;
}

int ds_truth_add_attack(struct ds_truth *t)
{
    if (grow((void **)&t->attacks, &t->capattacks, t->nattacks, sizeof *t->attacks) < 0)
        return -ENOMEM;
    memset(&t->attacks[t->nattacks], 0, sizeof *t->attacks);
    t->attacks[t->nattacks].router = UINT32_MAX;
    return (int)t->nattacks++;
}

int ds_truth_add_campaign(struct ds_truth *t)
{
    if (grow((void **)&t->campaigns, &t->capcampaigns, t->ncampaigns, sizeof *t->campaigns) < 0)
        return -ENOMEM;
    struct ds_truth_campaign *c = &t->campaigns[t->ncampaigns];
    memset(c, 0, sizeof *c);
    for (unsigned i = 0; i < DS_TRUTH_CAMPAIGN_MAX_SRC; i++)
        c->src[i] = UINT32_MAX;
    return (int)t->ncampaigns++;
}

#define BUCKET_NS (10ull * 1000000000ull)

void ds_peak_add(struct ds_peak *p, uint64_t t_ns)
{
    uint64_t b = t_ns / BUCKET_NS;
    if (!p->any) {
        memset(p->win, 0, sizeof p->win);
        p->bucket = b;
        p->any = true;
    } else if (b > p->bucket) {
        uint64_t steps = b - p->bucket;
        if (steps > 6)
            steps = 6;
        for (uint64_t k = 1; k <= steps; k++)
            p->win[(p->bucket + k) % 6] = 0;
        p->bucket = b;
    }
    p->win[b % 6]++;
    uint32_t sum = 0;
    for (int i = 0; i < 6; i++)
        sum += p->win[i];
    if (sum > p->peak)
        p->peak = sum;
}

int ds_truth_attack_packet(struct ds_truth_attack *a, uint64_t t)
{
    if (!a->packets)
        a->first_ns = t;
    a->packets++;
    a->last_ns = t;
    ds_peak_add(&a->peak, t);
    struct ds_truth_vector *v = a->nvec ? &a->vec[a->nvec - 1] : NULL;
    if (!v || t - v->last_ns > DS_TRUTH_QUIET_NS) {
        if (grow((void **)&a->vec, &a->capvec, a->nvec, sizeof *a->vec) < 0)
            return -ENOMEM;
        v = &a->vec[a->nvec++];
        memset(v, 0, sizeof *v);
        v->first_ns = t;
    }
    v->packets++;
    v->last_ns = t;
    ds_peak_add(&v->peak, t);
    return 0;
}

bool ds_truth_rsdos(uint64_t packets, uint64_t first_ns, uint64_t last_ns, uint32_t peak)
{
    return packets >= 25 && last_ns - first_ns >= 60ull * 1000000000ull && peak >= 30;
}

/* ---- JSON writing ---- */

static void jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void jtime(FILE *f, uint64_t ns, uint64_t res_ns)
{
    time_t sec = (time_t)(ns / 1000000000u);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char buf[64];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    if (res_ns >= 1000)
        fprintf(f, "\"%s.%06" PRIu64 "Z\"", buf, (ns % 1000000000u) / 1000u);
    else
        fprintf(f, "\"%s.%09" PRIu64 "Z\"", buf, ns % 1000000000u);
}

static void jaddr(FILE *f, const struct ds_addr *a)
{
    char buf[DS_ADDR_STRLEN];
    jstr(f, ds_addr_format(a, buf));
}

static const char *const skip_names[DS_TSKIP_COUNT] = {
    [DS_TSKIP_NOT_DARKNET] = "not_darknet", [DS_TSKIP_TRUNCATED] = "truncated",
    [DS_TSKIP_MALFORMED] = "malformed",     [DS_TSKIP_UNSUPPORTED_LINK] = "unsupported_link",
    [DS_TSKIP_NON_IP] = "non_ip",
};

struct port_row {
    unsigned proto;
    uint16_t port;
    uint64_t packets, sources;
};

static int cmp_row(const void *a, const void *b)
{
    const struct port_row *x = a, *y = b;
    if (x->packets != y->packets)
        return x->packets > y->packets ? -1 : 1;
    if (x->proto != y->proto)
        return x->proto < y->proto ? -1 : 1;
    return x->port < y->port ? -1 : x->port > y->port;
}

static int write_ports(const struct ds_truth *t, unsigned top, FILE *f)
{
    size_t n = 0;
    for (unsigned u = 0; u < 2; u++)
        for (unsigned p = 0; p < 65536; p++)
            n += t->port_packets[u][p] != 0;
    struct port_row *rows = malloc((n ? n : 1) * sizeof *rows);
    if (!rows)
        return -ENOMEM;
    n = 0;
    for (unsigned u = 0; u < 2; u++)
        for (unsigned p = 0; p < 65536; p++)
            if (t->port_packets[u][p])
                rows[n++] = (struct port_row){.proto = u,
                                              .port = (uint16_t)p,
                                              .packets = t->port_packets[u][p],
                                              .sources = t->port_sources[u][p]};
    qsort(rows, n, sizeof *rows, cmp_row);
    if (n > top)
        n = top;
    fprintf(f, "  \"ports\": [");
    for (size_t i = 0; i < n; i++)
        fprintf(f,
                "%s\n    {\"proto\": \"%s\", \"port\": %u, \"packets\": %" PRIu64
                ", \"sources\": %" PRIu64 "}",
                i ? "," : "", rows[i].proto ? "udp" : "tcp", rows[i].port, rows[i].packets,
                rows[i].sources);
    fprintf(f, "%s],\n", n ? "\n  " : "");
    free(rows);
    return 0;
}

static void write_bits(FILE *f, uint32_t bits, bool fps)
{
    fputc('[', f);
    bool first = true;
    unsigned n = fps ? DS_FP_COUNT : DS_CLASS_COUNT;
    for (unsigned i = 0; i < n; i++) {
        if (!(bits & (1u << i)))
            continue;
        fprintf(f, "%s", first ? "" : ", ");
        jstr(f, fps ? ds_fingerprints[i]->name : ds_class_table[i].name);
        first = false;
    }
    fputc(']', f);
}

#define HOST_PORTS_MAX 64
#define SUMMARY_HOSTS_PER_POP 1000

static void write_hosts(const struct ds_truth *t, const struct ds_srctab *srcs,
                        const struct ds_truth_meta *m, bool all, FILE *f)
{
    uint64_t *listed = calloc(t->npops ? t->npops : 1, sizeof *listed);
    size_t pi = 0; /* cursor in the sorted pairs */
    bool first = true;
    fprintf(f, "  \"hosts\": [");
    for (size_t id = 0; id < srcs->n; id++) {
        const struct ds_gen_src *s = &srcs->v[id];
        while (pi < t->pairs.n && ds_pair_src(t->pairs.slots[pi].key) < id)
            pi++;
        if (!(s->flags & DS_SRC_DARKNET))
            continue;
        if (!all) {
            if (!listed || listed[s->pop] >= SUMMARY_HOSTS_PER_POP)
                continue;
        }
        if (listed)
            listed[s->pop]++;
        fprintf(f, "%s\n    {\"address\": ", first ? "" : ",");
        first = false;
        jaddr(f, &s->addr);
        fprintf(f, ", \"population\": ");
        jstr(f, m->pop_names[s->pop]);
        fprintf(f, ", \"research\": %s", (s->flags & DS_SRC_RESEARCH) ? "true" : "false");
        if (s->org) {
            fprintf(f, ", \"org\": ");
            jstr(f, m->org_names[s->org - 1]);
        }
        fprintf(f, ", \"packets\": %" PRIu64 ", \"first\": ", s->packets);
        jtime(f, s->first_ns, m->seconds_resolution_ns);
        fprintf(f, ", \"last\": ");
        jtime(f, s->last_ns, m->seconds_resolution_ns);
        fprintf(f, ", \"fingerprints\": ");
        write_bits(f, s->fps, true);
        fprintf(f, ", \"classes\": ");
        write_bits(f, s->classes, false);
        size_t pe = pi;
        while (pe < t->pairs.n && ds_pair_src(t->pairs.slots[pe].key) == id)
            pe++;
        fprintf(f, ", \"nports\": %zu, \"ports\": [", pe - pi);
        for (size_t k = pi; k < pe && k - pi < HOST_PORTS_MAX; k++) {
            uint64_t key = t->pairs.slots[k].key;
            fprintf(f, "%s{\"proto\": \"%s\", \"port\": %u, \"packets\": %" PRIu64 "}",
                    k > pi ? ", " : "", ds_pair_proto(key) ? "udp" : "tcp", ds_pair_port(key),
                    t->pairs.slots[k].packets);
        }
        fprintf(f, "]}");
    }
    fprintf(f, "%s],\n", first ? "" : "\n  ");
    free(listed);
}

static void write_vectors(const struct ds_truth_attack *a, const struct ds_truth_meta *m, FILE *f)
{
    fprintf(f, "[");
    for (size_t i = 0; i < a->nvec; i++) {
        const struct ds_truth_vector *v = &a->vec[i];
        fprintf(f, "%s{\"first\": ", i ? ", " : "");
        jtime(f, v->first_ns, m->seconds_resolution_ns);
        fprintf(f, ", \"last\": ");
        jtime(f, v->last_ns, m->seconds_resolution_ns);
        fprintf(f, ", \"packets\": %" PRIu64 ", \"peak_ppm\": %u, \"rsdos\": %s}", v->packets,
                v->peak.peak,
                ds_truth_rsdos(v->packets, v->first_ns, v->last_ns, v->peak.peak) ? "true"
                                                                                  : "false");
    }
    fprintf(f, "]");
}

static void write_attacks(const struct ds_truth *t, const struct ds_srctab *srcs,
                          const struct ds_truth_meta *m, FILE *f)
{
    double scale = m->monitored_v4 ? 4294967296.0 / (double)m->monitored_v4 : 0;
    fprintf(f, "  \"attacks\": [");
    for (size_t i = 0; i < t->nattacks; i++) {
        const struct ds_truth_attack *a = &t->attacks[i];
        fprintf(f, "%s\n    {\"victim\": ", i ? "," : "");
        jaddr(f, &a->victim);
        fprintf(f, ", \"type\": \"%s\", \"protocol\": \"%s\", \"port\": %u, \"router\": ", a->type,
                a->protocol, a->port);
        if (a->router != UINT32_MAX)
            jaddr(f, &srcs->v[a->router].addr);
        else
            fprintf(f, "null");
        fprintf(f, ", \"start\": ");
        jtime(f, a->start_ns, m->seconds_resolution_ns);
        fprintf(f, ", \"end\": ");
        jtime(f, a->end_ns, m->seconds_resolution_ns);
        fprintf(f, ", \"rate_pps\": %.3f, \"packets\": %" PRIu64, a->rate_pps, a->packets);
        if (a->packets) {
            double dur = (double)(a->last_ns - a->first_ns) / 1e9;
            fprintf(f, ", \"first\": ");
            jtime(f, a->first_ns, m->seconds_resolution_ns);
            fprintf(f, ", \"last\": ");
            jtime(f, a->last_ns, m->seconds_resolution_ns);
            fprintf(f, ", \"duration_s\": %.6f, \"peak_ppm\": %u, \"estimated_rate_pps\": %.3f",
                    dur, a->peak.peak, dur > 0 ? (double)a->packets / dur * scale : 0.0);
        }
        fprintf(f, ", \"rsdos\": %s, \"vectors\": ",
                a->packets && ds_truth_rsdos(a->packets, a->first_ns, a->last_ns, a->peak.peak)
                    ? "true"
                    : "false");
        write_vectors(a, m, f);
        fprintf(f, "}");
    }
    fprintf(f, "%s],\n", t->nattacks ? "\n  " : "");
}

static void write_campaigns(const struct ds_truth *t, const struct ds_srctab *srcs,
                            const struct ds_truth_meta *m, FILE *f)
{
    fprintf(f, "  \"campaigns\": [");
    for (size_t i = 0; i < t->ncampaigns; i++) {
        const struct ds_truth_campaign *c = &t->campaigns[i];
        fprintf(f,
                "%s\n    {\"protocol\": \"%s\", \"probe\": \"%s\", \"port\": %u, "
                "\"research\": %s, \"sources\": [",
                i ? "," : "", c->protocol, c->probe, c->port, c->research ? "true" : "false");
        bool first = true;
        for (unsigned k = 0; k < c->nsrc; k++) {
            uint32_t id = c->src[k];
            if (id == UINT32_MAX || !(srcs->v[id].flags & DS_SRC_DARKNET))
                continue;
            fprintf(f, "%s", first ? "" : ", ");
            jaddr(f, &srcs->v[id].addr);
            first = false;
        }
        fprintf(f, "], \"start\": ");
        jtime(f, c->start_ns, m->seconds_resolution_ns);
        fprintf(f, ", \"end\": ");
        jtime(f, c->end_ns, m->seconds_resolution_ns);
        fprintf(f, ", \"rate_pps\": %.3f, \"packets\": %" PRIu64, c->rate_pps, c->packets);
        if (c->packets) {
            fprintf(f, ", \"first\": ");
            jtime(f, c->first_ns, m->seconds_resolution_ns);
            fprintf(f, ", \"last\": ");
            jtime(f, c->last_ns, m->seconds_resolution_ns);
        }
        fprintf(f, "}");
    }
    fprintf(f, "%s],\n", t->ncampaigns ? "\n  " : "");
}

int ds_truth_write(struct ds_truth *t, const struct ds_srctab *srcs, const struct ds_truth_meta *m,
                   FILE *f, struct ds_err *err)
{
    fprintf(f,
            "{\n  \"version\": 1,\n  \"packets\": %" PRIu64 ",\n  \"darknet_packets\": %" PRIu64
            ",\n  \"monitored_addresses\": %" PRIu64 ",\n  \"skipped\": {",
            t->packets, t->darknet_packets, m->monitored_v4);
    for (int i = 0; i < DS_TSKIP_COUNT; i++)
        fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", skip_names[i], t->skipped[i]);
    fprintf(f, "},\n  \"classes\": {");
    for (int i = 0; i < DS_CLASS_COUNT; i++)
        fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", ds_class_table[i].name, t->classes[i]);
    fprintf(f, "},\n  \"fingerprints\": {");
    for (int i = 0; i < DS_FP_COUNT; i++)
        fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", ds_fingerprints[i]->name, t->fps[i]);
    fprintf(f, "},\n  \"sources\": %" PRIu64 ",\n  \"ipv6_packets\": %" PRIu64 ",\n", t->sources,
            t->ipv6_packets);
    if (write_ports(t, m->top, f) < 0)
        return ds_err_set(err, -ENOMEM, "out of memory writing the truth");

    /* extras: how the capture was made */
    fprintf(f,
            "  \"truth_version\": 1,\n  \"generator\": \"darkscope gen\",\n  \"seed\": %" PRIu64
            ",\n  \"profile\": ",
            m->seed);
    jstr(f, m->profile);
    fprintf(f, ",\n  \"start\": ");
    jtime(f, m->start_ns, m->seconds_resolution_ns);
    fprintf(f, ",\n  \"end\": ");
    jtime(f, m->end_ns, m->seconds_resolution_ns);
    fprintf(f, ",\n  \"duration_s\": %.3f,\n  \"darknet\": [",
            (double)(m->end_ns - m->start_ns) / 1e9);
    for (size_t i = 0; i < m->ndarknet; i++) {
        fprintf(f, "%s", i ? ", " : "");
        jstr(f, m->darknet[i]);
    }
    fprintf(f,
            "],\n  \"format\": \"%s\",\n  \"link\": \"%s\",\n  \"timestamp_resolution\": \"%s\",\n",
            m->format, m->link, m->nanosec ? "ns" : "us");
    fprintf(f, "  \"populations\": [");
    for (size_t i = 0; i < t->npops; i++) {
        const struct ds_truth_pop *p = &t->pops[i];
        fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
        jstr(f, m->pop_names[i]);
        fprintf(f,
                ", \"actors\": %" PRIu64 ", \"silent\": %" PRIu64 ", \"sources\": %" PRIu64
                ", \"packets\": %" PRIu64 ", \"darknet_packets\": %" PRIu64 "}",
                p->actors, p->silent, p->sources, p->packets, p->darknet_packets);
    }
    fprintf(f, "\n  ],\n");
    write_attacks(t, srcs, m, f);
    write_campaigns(t, srcs, m, f);

    enum ds_truth_hosts mode = m->hosts;
    if (mode == DS_TRUTH_HOSTS_AUTO)
        mode = t->sources <= 20000 ? DS_TRUTH_HOSTS_ALL : DS_TRUTH_HOSTS_SUMMARY;
    static const char *const mode_names[] = {"auto", "none", "summary", "all"};
    fprintf(f, "  \"hosts_mode\": \"%s\",\n", mode_names[mode]);
    if (mode != DS_TRUTH_HOSTS_NONE) {
        /* the pairs kept in the source records join the others for the per-host lists */
        for (size_t id = 0; id < srcs->n; id++) {
            const struct ds_gen_src *s = &srcs->v[id];
            for (int k = 0; k < 2; k++) {
                if (!s->pair_key[k])
                    continue;
                uint32_t pk = s->pair_key[k] - 1;
                if (ds_pairset_insert(&t->pairs, ds_pair_key((uint32_t)id, pk >> 16, (uint16_t)pk),
                                      s->pair_packets[k]) < 0)
                    return ds_err_set(err, -ENOMEM, "out of memory writing the truth");
            }
        }
        ds_pairset_sort(&t->pairs);
        write_hosts(t, srcs, m, mode == DS_TRUTH_HOSTS_ALL, f);
    }
    fprintf(f, "  \"hosts_total\": %" PRIu64 "\n}\n", t->sources);
    if (ferror(f))
        return ds_err_set(err, -EIO, "cannot write the truth file");
    return 0;
}
