/* test_gen_pops.c - each population of `darkscope gen`, alone: its packets decode and
 * classify as intended with the analyzer's decoder and classifier, and the ground truth
 * file agrees with what those modules count. Also determinism across runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <pcap/pcap.h>

#include "classify/amp.h"
#include "classify/classify.h"
#include "classify/fingerprint.h"
#include "core/darknet.h"
#include "core/hash.h"
#include "decode/decode.h"
#include "gen/gen.h"
#include "gen/pop.h"
#include "gen/research.h"

static char dir[] = "/tmp/test_gen_pops.XXXXXX";

static int setup(void **st)
{
    (void)st;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **st)
{
    (void)st;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- a tiny analyzer built from the project's decoder and classifier ---- */

struct host {
    struct ds_addr a;
    struct ds_fp_state fp;
    bool used;
};

struct scan {
    uint64_t packets, darknet, skipped[5], classes[DS_CLASS_COUNT], fps[DS_FP_COUNT], ipv6;
    uint64_t sources;
    struct host *hosts;
    size_t mask;
    uint64_t bad;    /* packets the population check rejected */
    const char *why; /* first rejection */
    struct ds_darknet dn;
    /* population-specific accumulators */
    uint64_t n2323, n23, fp_none, retrans;
    uint64_t seen[64]; /* small hash of SYN tuples for retransmission detection */
};

typedef const char *(*check_fn)(const struct ds_pkt *p, struct scan *s);

static struct host *host(struct scan *s, const struct ds_addr *a)
{
    size_t i = ds_hash_addr16(a->b) & s->mask;
    while (s->hosts[i].used && !ds_addr_eq(&s->hosts[i].a, a))
        i = (i + 1) & s->mask;
    if (!s->hosts[i].used) {
        s->hosts[i].used = true;
        s->hosts[i].a = *a;
        s->sources++;
        assert_true(s->sources * 2 < s->mask);
    }
    return &s->hosts[i];
}

static void scan_file(const char *path, const char *darknet, check_fn check, struct scan *s)
{
    memset(s, 0, sizeof *s);
    s->mask = (1u << 20) - 1;
    s->hosts = calloc(s->mask + 1, sizeof *s->hosts);
    assert_non_null(s->hosts);
    ds_darknet_init(&s->dn);
    assert_int_equal(ds_darknet_add_list(&s->dn, darknet, "test", NULL), 0);
    ds_darknet_finish(&s->dn);
    char eb[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, eb);
    assert_non_null(pc);
    struct pcap_pkthdr *h;
    const u_char *d;
    while (pcap_next_ex(pc, &h, &d) == 1) {
        s->packets++;
        struct ds_pkt p;
        uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec;
        enum ds_decode_rc rc = ds_decode((uint32_t)pcap_datalink(pc), d, h->caplen, h->len, ts, &p);
        if (rc == DS_DECODE_TRUNCATED || rc == DS_DECODE_MALFORMED || rc == DS_DECODE_NON_IP) {
            s->skipped[rc == DS_DECODE_TRUNCATED ? 1 : rc == DS_DECODE_MALFORMED ? 2 : 4]++;
            continue;
        }
        assert_int_equal(rc, DS_DECODE_OK);
        if (!ds_darknet_contains(&s->dn, &p.dst)) {
            s->skipped[0]++;
            continue;
        }
        s->darknet++;
        ds_classify(&p);
        struct host *hs = host(s, &p.src);
        if (p.classes & DS_CLASS_BIT(DS_CLASS_TCP_SYN)) {
            bool now;
            s->fps[DS_FP_UNICORNSCAN] +=
                ds_fingerprints[DS_FP_UNICORNSCAN]->match_state(&p, &hs->fp, &now);
        }
        for (int i = 0; i < DS_CLASS_COUNT; i++)
            s->classes[i] += (p.classes >> i) & 1;
        for (int i = 0; i < DS_FP_UNICORNSCAN; i++)
            s->fps[i] += (p.fps >> i) & 1;
        s->ipv6 += p.ipver == 6;
        const char *why = check ? check(&p, s) : NULL;
        if (why) {
            if (!s->bad)
                s->why = why;
            s->bad++;
        }
    }
    pcap_close(pc);
    free(s->hosts);
    ds_darknet_free(&s->dn);
}

static uint64_t jget(json_t *root, const char *obj, const char *key)
{
    json_t *o = obj ? json_object_get(root, obj) : root;
    assert_non_null(o);
    json_t *v = json_object_get(o, key);
    assert_non_null(v);
    return (uint64_t)json_integer_value(v);
}

/* The truth's contract counters equal what the decoder and classifier count. */
static void compare_truth(json_t *t, const struct scan *s)
{
    assert_int_equal(jget(t, NULL, "packets"), s->packets);
    assert_int_equal(jget(t, NULL, "darknet_packets"), s->darknet);
    assert_int_equal(jget(t, NULL, "sources"), s->sources);
    assert_int_equal(jget(t, NULL, "ipv6_packets"), s->ipv6);
    static const char *const skip[5] = {"not_darknet", "truncated", "malformed", "unsupported_link",
                                        "non_ip"};
    for (int i = 0; i < 5; i++)
        assert_int_equal(jget(t, "skipped", skip[i]), s->skipped[i]);
    for (int i = 0; i < DS_CLASS_COUNT; i++)
        assert_int_equal(jget(t, "classes", ds_class_table[i].name), s->classes[i]);
    for (int i = 0; i < DS_FP_COUNT; i++)
        assert_int_equal(jget(t, "fingerprints", ds_fingerprints[i]->name), s->fps[i]);
}

static int pop_index(const char *name)
{
    for (int i = 0; ds_gen_pops[i]; i++)
        if (!strcmp(ds_gen_pops[i]->name, name))
            return i;
    fail_msg("no population %s", name);
    return -1;
}

/* Runs one population alone (n actors) over a /16 and a /48 for `seconds`; returns the
 * truth. */
static json_t *run_one(const char *name, long n, double seconds, check_fn check, struct scan *s)
{
    struct ds_gen_opts o;
    ds_gen_opts_profile(&o, DS_GEN_PROFILE_TINY);
    for (int i = 0; ds_gen_pops[i]; i++)
        o.count[i] = 0;
    o.count[pop_index(name)] = n;
    const char *dn = "10.20.0.0/16,2001:db8:1::/48";
    snprintf(o.darknet, sizeof o.darknet, "%s", dn);
    o.duration_ns = (uint64_t)(seconds * 1e9);
    char pcap[256], truth[256];
    snprintf(pcap, sizeof pcap, "%s/%s.pcap", dir, name);
    snprintf(truth, sizeof truth, "%s/%s.json", dir, name);
    o.out_path = pcap;
    o.truth_path = truth;
    o.hosts = DS_TRUTH_HOSTS_ALL;
    struct ds_gen_stats st;
    struct ds_err err = {0};
    int rc = ds_gen_run(&o, &st, &err);
    if (rc < 0)
        fail_msg("%s: %s", name, err.msg);
    scan_file(pcap, dn, check, s);
    if (s->bad)
        fail_msg("%s: %llu packets not as intended, first: %s", name, (unsigned long long)s->bad,
                 s->why);
    json_error_t je;
    json_t *t = json_load_file(truth, 0, &je);
    assert_non_null(t);
    compare_truth(t, s);
    /* every listed host belongs to this population */
    json_t *hosts = json_object_get(t, "hosts"), *h;
    size_t i;
    json_array_foreach(hosts, i, h)
        assert_string_equal(json_string_value(json_object_get(h, "population")), name);
    assert_int_equal(json_array_size(hosts), s->sources);
    return t;
}

#define C(x) DS_CLASS_BIT(DS_CLASS_##x)
#define F(x) DS_FP_BIT(DS_FP_##x)

static const char *check_mirai(const struct ds_pkt *p, struct scan *s)
{
    if (p->classes != C(TCP_SYN) || p->fps != F(MIRAI))
        return "not a clean Mirai SYN";
    if (p->dport != 23 && p->dport != 2323)
        return "Mirai port";
    if (p->tcp_nopts || p->ttl > 61 || p->seq != ds_addr_v4(&p->dst))
        return "Mirai fields";
    s->n23 += p->dport == 23;
    s->n2323 += p->dport == 2323;
    return NULL;
}

static void test_mirai(void **st)
{
    (void)st;
    struct scan s;
    json_t *t = run_one("mirai", 20000, 600, check_mirai, &s);
    assert_true(s.darknet > 5000);
    double share = (double)s.n2323 / (double)(s.n23 + s.n2323);
    assert_true(share > 0.07 && share < 0.13);
    json_decref(t);
}

static const char *check_variant(const struct ds_pkt *p, struct scan *s)
{
    (void)s;
    static const uint16_t ok[] = {23, 2323, 80, 8080, 8081, 5555, 7547, 37215, 52869};
    if (p->classes != C(TCP_SYN) || p->fps != F(MIRAI))
        return "not a clean Mirai SYN";
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (p->dport == ok[i])
            return NULL;
    return "variant port";
}

static void test_mirai_variant(void **st)
{
    (void)st;
    struct scan s;
    json_decref(run_one("mirai-variant", 10000, 600, check_variant, &s));
    assert_true(s.darknet > 2000);
}

static const char *check_zmap(const struct ds_pkt *p, struct scan *s)
{
    if (!(p->classes & C(TCP_SYN)))
        return "not a SYN";
    if (p->fps == F(ZMAP)) {
        if (p->ip_id != 54321 || p->win != 65535 || p->ttl < 200)
            return "ZMap fields";
        if (!(p->classes & C(SPOOFED_HINT))) /* TTL >= 200 without the window-1024 exemption */
            return "ZMap without spoofed_hint";
        return NULL;
    }
    s->fp_none++;
    return p->fps == 0 && p->ttl <= 64 && p->win == 65535 ? NULL : "ZMap 4.1 fields";
}

static void test_zmap(void **st)
{
    (void)st;
    struct scan s;
    json_decref(run_one("zmap", 30, 600, check_zmap, &s));
    assert_true(s.fps[DS_FP_ZMAP] > 1000);
}

static const char *check_masscan(const struct ds_pkt *p, struct scan *s)
{
    (void)s;
    if (!(p->classes & C(TCP_SYN)) || p->fps != F(MASSCAN))
        return "not a Masscan SYN";
    if (p->win == 1024 && p->tcp_nopts == 0)
        return p->classes & C(SPOOFED_HINT) && p->dport != 0 ? "1.3.2 flagged spoofed" : NULL;
    if (p->win == 1025 && p->tcp_mss == 1460)
        return p->classes & C(SPOOFED_HINT) ? NULL : "new build not flagged (TTL 255)";
    return "Masscan fields";
}

static void test_masscan(void **st)
{
    (void)st;
    struct scan s;
    json_decref(run_one("masscan", 30, 600, check_masscan, &s));
    assert_true(s.fps[DS_FP_MASSCAN] > 1000);
}

static const char *check_nmap(const struct ds_pkt *p, struct scan *s)
{
    (void)s;
    if (p->classes != C(TCP_SYN) || p->fps != F(NMAP))
        return "not a clean nmap SYN";
    return p->win == 1024 && p->tcp_mss == 1460 && p->ttl <= 59 ? NULL : "nmap fields";
}

static void test_nmap(void **st)
{
    (void)st;
    struct scan s;
    json_decref(run_one("nmap", 4, 1800, check_nmap, &s));
    assert_true(s.fps[DS_FP_NMAP] > 100);
}

static const char *check_unicorn(const struct ds_pkt *p, struct scan *s)
{
    (void)s;
    return p->classes == C(TCP_SYN) && p->fps == 0 ? NULL : "unicornscan SYN with other marks";
}

static void test_unicornscan(void **st)
{
    (void)st;
    struct scan s;
    json_t *t = run_one("unicornscan", 4, 3600, check_unicorn, &s);
    /* every probe counts except nothing: sessions of n probes count n */
    assert_true(s.fps[DS_FP_UNICORNSCAN] > 100);
    assert_true(s.fps[DS_FP_UNICORNSCAN] <= s.darknet);
    assert_true(s.fps[DS_FP_UNICORNSCAN] * 10 >= s.darknet * 9);
    json_decref(t);
}

static bool in_research(const struct ds_addr *a)
{
    for (size_t o = 0; ds_research_orgs[o].name; o++) {
        for (size_t i = 0; ds_research_orgs[o].v4[i]; i++) {
            struct ds_prefix p;
            assert_int_equal(ds_prefix_parse(&p, ds_research_orgs[o].v4[i], NULL), 0);
            if (ds_prefix_contains(&p, a))
                return true;
        }
    }
    return false;
}

static const char *check_research(const struct ds_pkt *p, struct scan *s)
{
    (void)s;
    if (!in_research(&p->src))
        return "research source outside the published prefixes";
    if (p->classes & C(TCP_SYN))
        return p->fps & ~F(ZMAP) ? "research SYN with a non-ZMap mark" : NULL;
    return p->classes & C(AMP_PROBE) ? NULL : "research packet neither SYN nor amp probe";
}

static void test_research(void **st)
{
    (void)st;
    struct scan s;
    json_t *t = run_one("research", 40, 600, check_research, &s);
    json_t *h;
    size_t i;
    json_array_foreach(json_object_get(t, "hosts"), i, h)
    {
        assert_true(json_is_true(json_object_get(h, "research")));
        assert_non_null(json_string_value(json_object_get(h, "org")));
    }
    json_decref(t);
}

static const char *check_kernel(const struct ds_pkt *p, struct scan *s)
{
    if (p->classes != C(TCP_SYN) || p->fps)
        return "kernel SYN with marks";
    if (p->tcp_nopts < 5 || p->tcp_mss != 1460)
        return "kernel options";
    /* a retransmission repeats (src, dst, sport, seq) */
    uint64_t k = ds_mix64((uint64_t)ds_addr_v4(&p->src) << 32 ^ ds_addr_v4(&p->dst)) ^
                 ds_mix64((uint64_t)p->sport << 32 | p->seq);
    for (int i = 0; i < 64; i++)
        if (s->seen[i] == k)
            s->retrans++;
    memmove(s->seen + 1, s->seen, 63 * sizeof s->seen[0]);
    s->seen[0] = k;
    return NULL;
}

static void test_kernel(void **st)
{
    (void)st;
    struct scan s;
    json_decref(run_one("kernel", 3000, 900, check_kernel, &s));
    assert_int_equal(s.fps[DS_FP_UNICORNSCAN], 0);
    assert_true(s.darknet > 1000);
    assert_true(s.retrans > s.darknet / 4);
}

static const char *check_dos(const struct ds_pkt *p, struct scan *s)
{
    (void)s;
    if (!(p->classes & C(BACKSCATTER)) || (p->classes & C(TCP_SYN)))
        return "not backscatter";
    if (p->proto == 1 && p->icmp_type != 0 && !(p->flags & DS_PKT_QUOTE))
        return "ICMP error without a quote";
    return NULL;
}

static void test_dos(void **st)
{
    (void)st;
    struct scan s;
    json_t *t = run_one("dos", 12, 3600, check_dos, &s);
    json_t *attacks = json_object_get(t, "attacks"), *a;
    size_t i;
    int above = 0, below = 0;
    uint64_t sum = 0;
    json_array_foreach(attacks, i, a)
    {
        if (json_is_true(json_object_get(a, "rsdos")))
            above++;
        else
            below++;
        sum += (uint64_t)json_integer_value(json_object_get(a, "packets"));
    }
    assert_true(above >= 1);
    assert_true(below >= 1);
    assert_int_equal(sum, s.darknet);
    json_decref(t);
}

static const char *check_amp(const struct ds_pkt *p, struct scan *s)
{
    (void)s;
    if (!(p->classes & C(AMP_PROBE)))
        return "not an amp probe";
    return p->payload_class > DS_PAYLOAD_OTHER ? NULL : "no amp payload class";
}

static void test_amp(void **st)
{
    (void)st;
    struct scan s;
    json_t *t = run_one("amp", 15, 1800, check_amp, &s);
    json_t *c;
    size_t i;
    uint64_t sum = 0;
    json_array_foreach(json_object_get(t, "campaigns"), i, c) sum +=
        (uint64_t)json_integer_value(json_object_get(c, "packets"));
    assert_int_equal(sum, s.darknet);
    assert_true(s.darknet > 100);
    json_decref(t);
}

static const char *check_udp(const struct ds_pkt *p, struct scan *s)
{
    (void)s;
    return p->classes & C(UDP) && !(p->classes & C(AMP_PROBE)) ? NULL : "udp probe marked amp";
}

static void test_udp(void **st)
{
    (void)st;
    struct scan s;
    json_decref(run_one("udp", 20, 900, check_udp, &s));
    assert_true(s.darknet > 100);
}

static const char *check_icmp(const struct ds_pkt *p, struct scan *s)
{
    (void)s;
    return p->classes & C(ICMP_REQUEST) ? NULL : "not an ICMP request";
}

static void test_icmp(void **st)
{
    (void)st;
    struct scan s;
    json_decref(run_one("icmp", 20, 900, check_icmp, &s));
    assert_true(s.darknet > 100);
}

static const char *check_v6(const struct ds_pkt *p, struct scan *s)
{
    (void)s;
    if (p->ipver != 6)
        return "not IPv6";
    return p->classes == C(TCP_SYN) || p->classes == C(ICMP_REQUEST) ? NULL : "v6 classes";
}

static void test_ipv6(void **st)
{
    (void)st;
    struct scan s;
    json_decref(run_one("ipv6", 40, 3600, check_v6, &s));
    assert_true(s.ipv6 > 50);
}

static void test_leak(void **st)
{
    (void)st;
    struct scan s;
    json_decref(run_one("leak", 10, 3600, NULL, &s));
    assert_int_equal(s.darknet, 0);
    assert_true(s.skipped[0] >= 10);
}

static void test_oddity(void **st)
{
    (void)st;
    struct scan s;
    json_decref(run_one("oddity", 1, 600, NULL, &s));
    assert_int_equal(s.skipped[1], 1); /* truncated */
    assert_int_equal(s.skipped[2], 1); /* malformed */
    assert_int_equal(s.skipped[4], 1); /* ARP */
    assert_int_equal(s.classes[DS_CLASS_FRAGMENT], 3);
    assert_int_equal(s.classes[DS_CLASS_NONROUTABLE_SRC], 2);
    /* 2 fragments, .0, .255, NULL, XMAS, SYN+FIN, GRE, UDP/80, port 0, v6 fragment */
    assert_int_equal(s.classes[DS_CLASS_SPOOFED_HINT], 11);
}

/* Same options, same bytes; another seed, other bytes. */
static void test_determinism(void **st)
{
    (void)st;
    char path[3][256];
    for (int k = 0; k < 3; k++) {
        struct ds_gen_opts o;
        ds_gen_opts_profile(&o, DS_GEN_PROFILE_TINY);
        o.seed = k == 2 ? 8 : 7;
        snprintf(path[k], sizeof path[k], "%s/det%d.pcapng", dir, k);
        o.out_path = path[k];
        o.format = DS_PCAPW_PCAPNG;
        struct ds_gen_stats gs;
        struct ds_err err = {0};
        assert_int_equal(ds_gen_run(&o, &gs, &err), 0);
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cmp -s %s %s", path[0], path[1]);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "cmp -s %s %s", path[0], path[2]);
    assert_true(system(cmd) != 0);
}

/* --packets: the estimate lands near the target. */
static void test_expected(void **st)
{
    (void)st;
    struct ds_gen_opts o;
    ds_gen_opts_profile(&o, DS_GEN_PROFILE_DEMO);
    double e;
    struct ds_err err = {0};
    assert_int_equal(ds_gen_expected_packets(&o, &e, &err), 0);
    assert_true(e > 5000 && e < 60000);
    snprintf(o.darknet, sizeof o.darknet, "not-a-prefix");
    assert_true(ds_gen_expected_packets(&o, &e, &err) < 0);
    assert_non_null(strstr(err.msg, "not-a-prefix"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mirai),    cmocka_unit_test(test_mirai_variant),
        cmocka_unit_test(test_zmap),     cmocka_unit_test(test_masscan),
        cmocka_unit_test(test_nmap),     cmocka_unit_test(test_unicornscan),
        cmocka_unit_test(test_research), cmocka_unit_test(test_kernel),
        cmocka_unit_test(test_dos),      cmocka_unit_test(test_amp),
        cmocka_unit_test(test_udp),      cmocka_unit_test(test_icmp),
        cmocka_unit_test(test_ipv6),     cmocka_unit_test(test_leak),
        cmocka_unit_test(test_oddity),   cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_expected),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
