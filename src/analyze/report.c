/* report.c - `darkscope analyze` output: the versioned JSON contract, CSV and a table.
 * The JSON keys are documented in docs/analyze-json.md; adding keys is compatible, renaming
 * or removing one needs a new "version". */
#include "analyze/report.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <time.h>

static int cmp_row(const void *a, const void *b)
{
    const struct ds_port_row *x = a, *y = b;
    if (x->packets != y->packets)
        return x->packets > y->packets ? -1 : 1;
    if (x->udp != y->udp)
        return x->udp - y->udp;
    return (int)x->port - (int)y->port;
}

size_t ds_report_top_ports(const struct ds_summary *s, struct ds_port_row *rows, size_t max)
{
    size_t n = 0;
    for (int u = 0; u < 2; u++)
        for (int p = 0; p < 65536; p++)
            if (s->ports[u][p].packets)
                n++;
    struct ds_port_row *all = malloc((n ? n : 1) * sizeof *all);
    if (!all)
        return 0;
    size_t k = 0;
    for (int u = 0; u < 2; u++)
        for (int p = 0; p < 65536; p++)
            if (s->ports[u][p].packets)
                all[k++] = (struct ds_port_row){.udp = u,
                                                .port = (uint16_t)p,
                                                .packets = s->ports[u][p].packets,
                                                .sources = s->ports[u][p].sources};
    qsort(all, n, sizeof *all, cmp_row);
    if (n > max)
        n = max;
    memcpy(rows, all, n * sizeof *rows);
    free(all);
    return n;
}

static void iso_time(uint64_t ns, char *buf, size_t len)
{
    if (!ns) {
        snprintf(buf, len, "-");
        return;
    }
    time_t t = (time_t)(ns / 1000000000ULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t w = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + w, len - w, ".%06uZ", (unsigned)((ns / 1000) % 1000000));
}

static json_t *jint(uint64_t v)
{
    return json_integer((json_int_t)v);
}

static json_t *build_json(const struct ds_summary *s, const struct ds_report_meta *m,
                          const struct ds_port_row *rows, size_t nrows)
{
    json_t *o = json_object();
    json_object_set_new(o, "version", json_integer(DS_ANALYZE_JSON_VERSION));
    json_object_set_new(o, "packets", jint(s->packets));
    json_object_set_new(o, "darknet_packets", jint(s->darknet_packets));
    json_object_set_new(o, "monitored_addresses", jint(ds_darknet_v4_addresses(m->darknet)));
    json_t *sk = json_object();
    for (int i = 0; i < DS_SKIP_COUNT; i++)
        json_object_set_new(sk, ds_skip_names[i], jint(s->skipped[i]));
    json_object_set_new(o, "skipped", sk);
    json_t *cl = json_object();
    for (int i = 0; i < DS_CLASS_COUNT; i++)
        json_object_set_new(cl, ds_class_table[i].name, jint(s->classes[i]));
    json_object_set_new(o, "classes", cl);
    json_t *fp = json_object();
    for (int i = 0; i < DS_FP_COUNT; i++)
        json_object_set_new(fp, ds_fingerprints[i]->name, jint(s->fps[i]));
    json_object_set_new(o, "fingerprints", fp);
    json_object_set_new(o, "sources", jint(s->sources));
    json_object_set_new(o, "ipv6_packets", jint(s->ipv6_packets));
    json_t *ports = json_array();
    for (size_t i = 0; i < nrows; i++) {
        json_t *r = json_object();
        json_object_set_new(r, "proto", json_string(rows[i].udp ? "udp" : "tcp"));
        json_object_set_new(r, "port", json_integer(rows[i].port));
        json_object_set_new(r, "packets", jint(rows[i].packets));
        json_object_set_new(r, "sources", jint(rows[i].sources));
        json_array_append_new(ports, r);
    }
    json_object_set_new(o, "ports", ports);

    /* additions beyond the minimum contract */
    json_object_set_new(o, "darknet_bytes", jint(s->darknet_bytes));
    char t[64];
    iso_time(s->first_ts_ns, t, sizeof t);
    json_object_set_new(o, "first_seen", s->first_ts_ns ? json_string(t) : json_null());
    iso_time(s->last_ts_ns, t, sizeof t);
    json_object_set_new(o, "last_seen", s->last_ts_ns ? json_string(t) : json_null());
    json_t *dn = json_array();
    char pbuf[DS_PREFIX_STRLEN];
    for (size_t i = 0; i < m->darknet->n_v4; i++) {
        /* merged ranges, printed as ranges since merging may not leave CIDR boundaries */
        struct ds_addr lo, hi;
        char a[DS_ADDR_STRLEN], b[DS_ADDR_STRLEN], r[2 * DS_ADDR_STRLEN + 2];
        ds_addr_set_v4(&lo, m->darknet->v4[i].lo);
        ds_addr_set_v4(&hi, m->darknet->v4[i].hi);
        snprintf(r, sizeof r, "%s-%s", ds_addr_format(&lo, a), ds_addr_format(&hi, b));
        json_array_append_new(dn, json_string(r));
    }
    for (size_t i = 0; i < m->darknet->n_v6; i++)
        json_array_append_new(dn, json_string(ds_prefix_format(&m->darknet->v6[i], pbuf)));
    json_object_set_new(o, "darknet", dn);
    json_t *ul = json_object();
    for (int i = 0; i < DS_LINK_SLOTS && s->unsupported_links[i].packets; i++) {
        char k[16];
        snprintf(k, sizeof k, "%u", s->unsupported_links[i].linktype);
        json_object_set_new(ul, k, jint(s->unsupported_links[i].packets));
    }
    json_object_set_new(o, "unsupported_links", ul);
    if (m->capture) {
        const struct ds_capture_stats *c = m->capture;
        json_t *cj = json_object();
        json_object_set_new(cj, "filtered_out", jint(c->filtered_out));
        if (c->live) {
            json_object_set_new(cj, "kernel_received", jint(c->kernel_received));
            json_object_set_new(cj, "kernel_dropped", jint(c->kernel_dropped));
            json_object_set_new(cj, "interface_dropped", jint(c->if_dropped));
        } else {
            json_object_set_new(cj, "inputs_ok", jint(c->inputs_ok));
            json_object_set_new(cj, "inputs_rejected", jint(c->inputs_rejected));
            json_object_set_new(cj, "inputs_cut", jint(c->inputs_cut));
        }
        json_object_set_new(o, "capture", cj);
    }
    return o;
}

static int write_json(FILE *f, const struct ds_summary *s, const struct ds_report_meta *m,
                      const struct ds_port_row *rows, size_t nrows)
{
    json_t *o = build_json(s, m, rows, nrows);
    if (!o)
        return -ENOMEM;
    int rc = json_dumpf(o, f, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    fputc('\n', f);
    json_decref(o);
    return rc < 0 ? -EIO : 0;
}

static void write_csv(FILE *f, const struct ds_summary *s, const struct ds_report_meta *m,
                      const struct ds_port_row *rows, size_t nrows)
{
    fprintf(f, "section,name,packets,sources\n");
    fprintf(f, "total,packets,%" PRIu64 ",\n", s->packets);
    fprintf(f, "total,darknet_packets,%" PRIu64 ",%" PRIu64 "\n", s->darknet_packets, s->sources);
    fprintf(f, "total,monitored_addresses,%" PRIu64 ",\n", ds_darknet_v4_addresses(m->darknet));
    fprintf(f, "total,ipv6_packets,%" PRIu64 ",\n", s->ipv6_packets);
    for (int i = 0; i < DS_SKIP_COUNT; i++)
        fprintf(f, "skipped,%s,%" PRIu64 ",\n", ds_skip_names[i], s->skipped[i]);
    for (int i = 0; i < DS_CLASS_COUNT; i++)
        fprintf(f, "class,%s,%" PRIu64 ",\n", ds_class_table[i].name, s->classes[i]);
    for (int i = 0; i < DS_FP_COUNT; i++)
        fprintf(f, "fingerprint,%s,%" PRIu64 ",\n", ds_fingerprints[i]->name, s->fps[i]);
    for (size_t i = 0; i < nrows; i++)
        fprintf(f, "port,%s/%u,%" PRIu64 ",%" PRIu64 "\n", rows[i].udp ? "udp" : "tcp",
                rows[i].port, rows[i].packets, rows[i].sources);
}

static void write_table(FILE *f, const struct ds_summary *s, const struct ds_report_meta *m,
                        const struct ds_port_row *rows, size_t nrows)
{
    char a[64], b[64];
    iso_time(s->first_ts_ns, a, sizeof a);
    iso_time(s->last_ts_ns, b, sizeof b);
    uint64_t mon = ds_darknet_v4_addresses(m->darknet);
    fprintf(f, "packets read          %15" PRIu64 "\n", s->packets);
    fprintf(f, "darknet packets       %15" PRIu64 "   (%s .. %s)\n", s->darknet_packets, a, b);
    fprintf(f, "monitored IPv4 addrs  %15" PRIu64 "\n", mon);
    if (mon)
        fprintf(f, "packets per address   %15.2f\n", (double)s->darknet_packets / (double)mon);
    fprintf(f, "unique sources        %15" PRIu64 "\n", s->sources);
    fprintf(f, "IPv6 packets          %15" PRIu64 "\n", s->ipv6_packets);
    fprintf(f, "\nskipped\n");
    for (int i = 0; i < DS_SKIP_COUNT; i++)
        fprintf(f, "  %-20s%15" PRIu64 "\n", ds_skip_names[i], s->skipped[i]);
    fprintf(f, "\nclasses (a packet may have several)\n");
    for (int i = 0; i < DS_CLASS_COUNT; i++)
        fprintf(f, "  %-20s%15" PRIu64 "  %5.1f%%\n", ds_class_table[i].name, s->classes[i],
                s->darknet_packets ? 100.0 * (double)s->classes[i] / (double)s->darknet_packets
                                   : 0);
    fprintf(f, "\nfingerprints (TCP SYN)\n");
    for (int i = 0; i < DS_FP_COUNT; i++)
        fprintf(f, "  %-20s%15" PRIu64 "   %s\n", ds_fingerprints[i]->name, s->fps[i],
                ds_fingerprints[i]->description);
    fprintf(f, "\ntop destination ports\n  %-5s %5s %15s %7s %12s\n", "proto", "port", "packets",
            "share", "sources");
    for (size_t i = 0; i < nrows; i++)
        fprintf(f, "  %-5s %5u %15" PRIu64 " %6.2f%% %12" PRIu64 "\n", rows[i].udp ? "udp" : "tcp",
                rows[i].port, rows[i].packets,
                s->darknet_packets ? 100.0 * (double)rows[i].packets / (double)s->darknet_packets
                                   : 0,
                rows[i].sources);
}

int ds_report_write(FILE *f, enum ds_format fmt, const struct ds_summary *s,
                    const struct ds_report_meta *m)
{
    size_t top = m->top;
    struct ds_port_row *rows = malloc((top ? top : 1) * sizeof *rows);
    if (!rows)
        return -ENOMEM;
    size_t n = ds_report_top_ports(s, rows, top);
    int rc = 0;
    switch (fmt) {
    case DS_FORMAT_JSON:
        rc = write_json(f, s, m, rows, n);
        break;
    case DS_FORMAT_CSV:
        write_csv(f, s, m, rows, n);
        break;
    case DS_FORMAT_TABLE:
        write_table(f, s, m, rows, n);
        break;
    }
    free(rows);
    if (fflush(f) != 0 || ferror(f))
        rc = -EIO;
    return rc;
}
