/* fuzz_lists.c - libFuzzer target: the research-scanner list parsers (text and MISP JSON).
 * The first byte picks the parser; the rest is the file. Whatever parses must also build
 * into a table whose lookups agree with the parsed prefixes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enrich/scanners.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ds_scanners *s = NULL;
    struct ds_err err = {0};
    if (size < 1 || ds_scanners_new(&s, &err) < 0)
        return 0;
    const char *buf = (const char *)data + 1;
    size_t len = size - 1;
    int rc;
    if (data[0] & 1)
        rc = ds_scanners_parse_misp(s, buf, len, "fuzz.json", &err);
    else
        rc = ds_scanners_parse_text(s, buf, len, "fuzz.txt", &err);
    if (rc < 0 && (err.msg[0] == '\0' || strlen(err.msg) >= sizeof err.msg))
        abort(); /* every failure explains itself */
    if (ds_scanners_finish(s, &err) == 0) {
        struct ds_addr a;
        memset(&a, 0, sizeof a);
        memcpy(a.b, data, size < 16 ? size : 16);
        uint32_t label;
        if (ds_scanners_lookup(s, &a, &label) && !ds_scanners_label(s, label))
            abort(); /* a match always has a name */
    }
    ds_scanners_free(s);
    return 0;
}
