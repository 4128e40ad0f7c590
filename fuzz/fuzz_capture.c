/* fuzz_capture.c - libFuzzer target for the capture readers: pcap, pcapng, gzip, zstd. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture_int.h"
#include "core/log.h"

/*
 * Each input is read to its end twice, from memory in place (as an mmap'd file) and through
 * the streaming refill path in small pieces (as a pipe), and the two must agree frame by
 * frame: same count, times, lengths, link types and bytes. One exception: zstd drops the
 * output of a call that meets damage, so for damaged zstd data one read may keep a block
 * more than the other; there the frames of the shorter read must be the other's first ones.
 * One input in eight also runs a BPF filter.
 * Run: fuzz_capture -max_len=65536 fuzz/corpus-capture/ SEEDS/
 */

struct digest {
    uint64_t frames, filtered, ok, cut;
    uint64_t *hash; /* per frame */
    size_t cap;
    int open_rc;
};

static uint64_t mix(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void read_all(const uint8_t *data, size_t size, size_t chunk, const char *bpf,
                     struct digest *d)
{
    struct ds_source *s;
    struct ds_err err = {0};
    memset(d, 0, sizeof *d);
    d->open_rc = ds_source_open_mem(&s, data, size, chunk, bpf, &err);
    if (d->open_rc < 0)
        return;
    struct ds_frame f;
    int rc;
    while ((rc = ds_source_next(s, &f, &err)) == 1) {
        uint64_t meta[3] = {f.ts_ns, (uint64_t)f.caplen << 32 | f.wirelen, f.linktype};
        uint64_t h = mix(1469598103934665603ull, (const uint8_t *)meta, sizeof meta);
        h = mix(h, f.data, f.caplen); /* reads every byte of the frame: ASan checks bounds */
        size_t i = (size_t)d->frames++;
        if (i == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 256;
            d->hash = realloc(d->hash, d->cap * sizeof *d->hash);
            if (!d->hash)
                abort();
        }
        d->hash[i] = h;
    }
    if (rc < 0)
        abort(); /* file sources fail only for lack of memory */
    struct ds_capture_stats st;
    ds_source_stats(s, &st);
    if (st.frames != d->frames)
        abort();
    d->filtered = st.filtered_out;
    d->ok = st.inputs_ok;
    d->cut = st.inputs_cut;
    ds_source_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once) {
        ds_log_setup(DS_LOG_ERROR, 0); /* cut files are expected: keep the warnings quiet */
        once = 1;
    }
    const char *bpf = size % 8 == 7 ? "udp or (tcp and port 80)" : NULL;
    size_t chunk = 1 + (size ? data[size / 2] % 61 : 0);
    struct digest a, b;
    read_all(data, size, 0, bpf, &a);
    read_all(data, size, chunk, bpf, &b);
    bool zstd = size >= 4 && !memcmp(data, "\x28\xb5\x2f\xfd", 4);
    bool damaged = a.open_rc < 0 || b.open_rc < 0 || a.cut || b.cut;
    if (zstd && damaged) {
        uint64_t n = a.frames < b.frames ? a.frames : b.frames;
        for (uint64_t i = 0; i < n; i++)
            if (a.hash[i] != b.hash[i])
                abort(); /* not even the frames both kept agree */
    } else if (a.open_rc != b.open_rc || a.frames != b.frames || a.filtered != b.filtered ||
               a.ok != b.ok || a.cut != b.cut ||
               (a.frames && memcmp(a.hash, b.hash, a.frames * sizeof *a.hash))) {
        abort(); /* in-place and streamed reads disagree */
    }
    free(a.hash);
    free(b.hash);
    return 0;
}
