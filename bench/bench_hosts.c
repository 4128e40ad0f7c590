/* bench_hosts.c - memory per tracked host: N distinct sources (default 10 million), each
 * sending SYNs to two ports, through one analysis shard; prints the host tables' bytes per
 * host and the process's resident memory per host.
 * Usage: bench_hosts [N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyze/shard.h"
#include "classify/classify.h"

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000;
    static const struct ds_shard_config cfg = {.hscan_dsts = 25, .vscan_ports = 15};
    struct ds_shard *sh = malloc(sizeof *sh);
    struct ds_err err = {0};
    if (!sh || ds_shard_init(sh, 0, &cfg, NULL, &err) < 0) {
        fprintf(stderr, "bench_hosts: %s\n", err.msg);
        return 1;
    }
    long rss0 = rss_kib();
    struct ds_pkt p[DS_SHARD_BATCH];
    uint64_t h[DS_SHARD_BATCH];
    memset(p, 0, sizeof p);
    clock_t t0 = clock();
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (uint64_t i = 0; i < 2 * n; i += DS_SHARD_BATCH) {
        int k = 0;
        for (; k < DS_SHARD_BATCH && i + (uint64_t)k < 2 * n; k++) {
            uint64_t j = (i + (uint64_t)k) / 2; /* each source twice: ports 23 and 2323 */
            struct ds_pkt *q = &p[k];
            memset(q, 0, sizeof *q);
            /* distinct addresses spread over the IPv4 space (a permutation of j) */
            uint32_t a = (uint32_t)((j * 2654435761u) ^ (j >> 32));
            ds_addr_set_v4(&q->src, a);
            x = x * 6364136223846793005ULL + 1;
            ds_addr_set_v4(&q->dst, 0xc6120000u | (uint32_t)(x >> 48));
            q->ipver = 4;
            q->proto = 6;
            q->ttl = 64;
            q->flags = DS_PKT_L4;
            q->tcp_flags = DS_TCP_SYN;
            q->dport = (i + (uint64_t)k) & 1 ? 2323 : 23;
            q->sport = 40000;
            q->seq = ds_addr_v4(&q->dst);
            q->win = 14600;
            q->wirelen = 60;
            q->ts_ns = 1704067200000000000ull + j * 1000;
            ds_classify(q);
            h[k] = ds_hosttab_hash(&q->src);
        }
        ds_shard_ingest_batch(sh, p, h, k);
    }
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    size_t hosts = ds_hosttab_count(&sh->hosts);
    size_t bytes = ds_hosttab_bytes(&sh->hosts);
    long rss1 = rss_kib();
    printf("%zu hosts: host tables %.1f bytes per host (%zu MiB), resident memory %.1f bytes per "
           "host, %.1f s of CPU\n",
           hosts, (double)bytes / (double)hosts, bytes >> 20,
           (double)(rss1 - rss0) * 1024.0 / (double)hosts, secs);
    printf("target: at most 128 bytes per host\n");
    ds_shard_free(sh);
    free(sh);
    return hosts == n ? 0 : 1;
}
