/* synscan.c - the TCP SYN probes of scanning tools, with accidental fingerprint matches
 * re-drawn, and the port lists scanners use. */
#include "gen/synscan.h"

#include <math.h>

#include "classify/fingerprint.h"
#include "gen/rules.h"

const uint16_t ds_ports_popular[] = {
    80,   443,   22,   8080,  23,    3389,  445,   21,   25,   8443, 3306, 5900, 8000, 6379, 1433,
    8888, 9200,  2323, 5555,  7547,  81,    110,   143,  993,  995,  587,  465,  135,  139,  111,
    2375, 27017, 5432, 11211, 9000,  8081,  10000, 5060, 1723, 3128, 2222, 502,  1883, 6443, 8008,
    9090, 5984,  4443, 49152, 37215, 52869, 60001, 88,   53,   389,  1521, 2049, 5000, 7001, 9300,
};
const uint32_t ds_ports_popular_n = sizeof ds_ports_popular / sizeof ds_ports_popular[0];

const uint16_t ds_ports_nmap_top[] = {
    7,    9,     13,    21,    22,    23,    25,    26,    37,    53,   79,   80,   81,
    88,   106,   110,   111,   113,   119,   135,   139,   143,   144,  179,  199,  389,
    427,  443,   444,   445,   465,   513,   514,   515,   543,   544,  548,  554,  587,
    631,  646,   873,   990,   993,   995,   1025,  1026,  1027,  1028, 1029, 1110, 1433,
    1720, 1723,  1755,  1900,  2000,  2001,  2049,  2121,  2717,  3000, 3128, 3306, 3389,
    3986, 4899,  5000,  5009,  5051,  5060,  5101,  5190,  5357,  5432, 5631, 5666, 5800,
    5900, 6000,  6001,  6646,  7070,  8000,  8008,  8009,  8080,  8081, 8443, 8888, 9100,
    9999, 10000, 32768, 49152, 49153, 49154, 49155, 49156, 49157,
};
const uint32_t ds_ports_nmap_top_n = sizeof ds_ports_nmap_top / sizeof ds_ports_nmap_top[0];

uint32_t ds_pick_skewed(struct ds_rng *r, uint32_t n)
{
    uint32_t k = (uint32_t)pow((double)n + 1, ds_rng_unit(r)) - 1;
    return k < n ? k : n - 1;
}

uint32_t ds_syn_tool_fps(enum ds_syn_tool tool)
{
    switch (tool) {
    case DS_SYN_ZMAP:
    case DS_SYN_ZMAP_MSS:
        return DS_FP_BIT(DS_FP_ZMAP);
    case DS_SYN_MASSCAN:
    case DS_SYN_MASSCAN_NEW:
        return DS_FP_BIT(DS_FP_MASSCAN);
    default:
        return 0;
    }
}

int ds_syn_tool_send(struct ds_gen *g, struct ds_gen_actor *a, uint64_t t, enum ds_syn_tool tool,
                     uint32_t dst, uint16_t dport, uint16_t sport)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    struct ds_craft c = {
        .src = *ds_gen_src_addr(g, a->src), .proto = 6, .dport = dport, .tcp_flags = 0x02};
    ds_addr_set_v4(&c.dst, dst);
    switch (tool) {
    case DS_SYN_ZMAP:
    case DS_SYN_ZMAP_MSS:
        c.ttl = (uint8_t)(255 - a->hops);
        c.ip_id = 54321;
        c.win = 65535;
        if (tool == DS_SYN_ZMAP_MSS) {
            c.tcp_opts = ds_opts_mss1460;
            c.tcp_opts_len = sizeof ds_opts_mss1460;
        }
        break;
    case DS_SYN_ZMAP41:
    case DS_SYN_CUSTOM:
        c.ttl = (uint8_t)(64 - a->hops);
        c.win = 65535;
        break;
    case DS_SYN_MASSCAN:
        c.ttl = (uint8_t)(255 - a->hops);
        c.win = 1024;
        break;
    case DS_SYN_MASSCAN_NEW:
        c.ttl = (uint8_t)(255 - a->hops);
        c.win = 1025;
        c.tcp_opts = ds_opts_mss1460;
        c.tcp_opts_len = sizeof ds_opts_mss1460;
        break;
    }
    uint32_t want = ds_syn_tool_fps(tool);
    for (int tries = 0;; tries++) {
        if (tries > 1000)
            return ds_err_set(g->err, -EPROTO, "internal: cannot build a clean %d SYN", tool);
        /* ZMap: source port from its default range 32768-61000 and the validation word as
         * the sequence number; Masscan: a fixed source port and a SYN cookie. */
        c.sport = sport ? sport : (uint16_t)ds_rng_range(r, 32768, 61000);
        c.seq = ds_rng_u32(r);
        if (tool == DS_SYN_MASSCAN || tool == DS_SYN_MASSCAN_NEW)
            c.ip_id = (uint16_t)(dst ^ dport ^ c.seq);
        else if (tool == DS_SYN_ZMAP41 || tool == DS_SYN_CUSTOM)
            c.ip_id = ds_rng_u16(r);
        if (ds_rules_fps(&c) == want && ds_gen_key_fresh(g, a->src, dst, dport, c.sport, c.seq))
            break;
    }
    struct ds_gen_meta m = ds_gen_meta_plain(a->src);
    m.fps = want;
    return ds_gen_emit(g, t, &c, &m);
}
