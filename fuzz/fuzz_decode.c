/* fuzz_decode.c - libFuzzer target: decode + classify + shard ingest of arbitrary frames.
 * The first byte picks the link type; the rest is the frame (exact size, so ASan sees any
 * read past caplen). */
#include <stddef.h>
#include <stdint.h>

#include "analyze/shard.h"
#include "classify/classify.h"
#include "decode/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t links[] = {1, 101, 12, 14, 228, 229, 113, 276, 0, 108, 105, 9999};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ds_shard shard;
    static int ready;
    if (!ready) {
        static const struct ds_shard_config cfg = {.hscan_dsts = 25, .vscan_ports = 15};
        if (ds_shard_init(&shard, 0, &cfg, NULL, NULL) < 0)
            return 0;
        ready = 1;
    }
    if (size < 1)
        return 0;
    uint32_t lt = links[data[0] % (sizeof links / sizeof links[0])];
    struct ds_pkt p;
    enum ds_decode_rc rc = ds_decode(lt, data + 1, (uint32_t)(size - 1), (uint32_t)size, 1, &p);
    if (rc == DS_DECODE_OK) {
        ds_classify(&p);
        ds_shard_ingest(&shard, &p, ds_hosttab_hash(&p.src));
    }
    return 0;
}
