/* bench_stages.c - where the packet path's time goes: the same capture read with darkscope's
 * reader alone, then adding decode, classify and the host shard, one stage at a time.
 * Usage: bench_stages FILE STAGE   (0 read, 1 +decode, 2 +classify, 3 +shard: the full path)
 * Prints "STAGE SECONDS PACKETS". The darknet filter is left out (every packet counts). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "analyze/shard.h"
#include "capture/capture.h"
#include "classify/classify.h"
#include "decode/decode.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_stages FILE 0|1|2|3\n");
        return 2;
    }
    int stage = atoi(argv[2]);
    const char *paths[] = {argv[1]};
    struct ds_capture_opts o = {.paths = paths, .n_paths = 1};
    struct ds_err err = {0};
    struct ds_source *src;
    struct ds_shard shard;
    static const struct ds_shard_config cfg = {.hscan_dsts = 25, .vscan_ports = 15};
    if (ds_source_open(&src, &o, &err) < 0 || ds_shard_init(&shard, 0, &cfg, NULL, &err) < 0) {
        fprintf(stderr, "bench_stages: %s\n", err.msg[0] ? err.msg : "out of memory");
        return 1;
    }
    static struct ds_frame fv[DS_SHARD_BATCH];
    static struct ds_pkt pk[DS_SHARD_BATCH];
    uint64_t hs[DS_SHARD_BATCH];
    uint64_t n = 0, sink = 0;
    double t0 = now();
    int m;
    while ((m = ds_source_next_batch(src, fv, DS_SHARD_BATCH, &err)) > 0) {
        n += (uint64_t)m;
        int k = 0;
        for (int i = 0; i < m; i++) {
            if (stage < 1) {
                sink += fv[i].caplen + fv[i].data[0];
                continue;
            }
            if (ds_decode(fv[i].linktype, fv[i].data, fv[i].caplen, fv[i].wirelen, fv[i].ts_ns,
                          &pk[k]) != DS_DECODE_OK)
                continue;
            if (stage >= 2)
                ds_classify(&pk[k]);
            sink += pk[k].dport + pk[k].classes;
            if (stage >= 3) {
                hs[k] = ds_hosttab_hash(&pk[k].src);
                ds_hosttab_prefetch(&shard.hosts, &pk[k].src, hs[k]);
            }
            k++;
        }
        if (stage >= 3)
            ds_shard_ingest_batch(&shard, pk, hs, k);
    }
    double t1 = now();
    printf("%d %.6f %llu\n", stage, t1 - t0, (unsigned long long)n);
    if (sink == 42)
        fprintf(stderr, " "); /* keeps the loops from being optimised away */
    ds_shard_free(&shard);
    ds_source_close(src);
    return 0;
}
