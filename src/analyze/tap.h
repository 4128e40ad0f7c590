/* tap.h - the live packet stream for the workbench: every darknet packet up to a rate, then
 * aggregated counts, so a browser is never flooded. The reading thread offers packets; any
 * number of readers (server-sent event connections) follow with their own cursors. */
#ifndef DS_TAP_H
#define DS_TAP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/addr.h"
#include "decode/pkt.h"
#include "enrich/geo.h"

enum ds_tap_kind {
    DS_TAP_PACKET = 1, /* one packet */
    DS_TAP_SUMMARY,    /* packets over the rate in the last window, counted, not listed */
};

struct ds_tap_rec {
    uint8_t kind;
    uint8_t proto, tcp_flags, ttl;
    uint16_t sport, dport;
    uint16_t len;     /* IP length */
    char country[3];  /* the source's, "" unknown */
    uint32_t classes; /* DS_CLASS_* bits */
    uint32_t fps;     /* DS_FP_* bits */
    uint64_t ts_ns;
    struct ds_addr src, dst;
    /* DS_TAP_SUMMARY: packets not listed in the window ending at ts_ns, by protocol */
    uint64_t skipped, skipped_tcp, skipped_udp, skipped_icmp;
};

/*
 * Thread use: ds_tap_offer from one thread (the reader); ds_tap_read from any number of
 * threads. The ring holds the last DS_TAP_RING records; a reader that falls further behind
 * skips ahead (and is told how many it missed).
 */
#define DS_TAP_RING 8192

struct ds_tap {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct ds_tap_rec ring[DS_TAP_RING];
    uint64_t seq; /* records written so far */
    bool closed;
    /* reader-thread state */
    uint32_t rate;             /* packets listed per second of wall time */
    int64_t (*clock_ms)(void); /* monotonic milliseconds (a test may set its own) */
    int64_t window_ms;         /* start of the current one-second window (windows abut) */
    uint32_t listed;           /* in this window */
    uint32_t since_clock;      /* skipped offers since the clock was last read */
    uint64_t skipped, skipped_proto[3];
    struct ds_geo_cache geo;
    bool have_geo;
};

/*
 * rate: packets per second listed individually (the rest are counted), in abutting one-second
 * windows of wall time, so a stream above the rate lists exactly rate packets per second.
 * geo may be NULL.
 */
int ds_tap_init(struct ds_tap *t, uint32_t rate, const struct ds_geo *geo);
void ds_tap_free(struct ds_tap *t);

/* One darknet packet, decoded and classified. Cheap when over the rate (a counter). */
void ds_tap_offer(struct ds_tap *t, const struct ds_pkt *p);

/*
 * Copies up to max records after *cursor into out, waiting up to timeout_ms for one; moves
 * the cursor. Returns how many (0 on timeout), or -1 once the tap is closed. *missed is set
 * to the records the reader was too slow to see. A new reader starts at ds_tap_now().
 */
int ds_tap_read(struct ds_tap *t, uint64_t *cursor, struct ds_tap_rec *out, int max, int timeout_ms,
                uint64_t *missed);
uint64_t ds_tap_now(struct ds_tap *t);

/* Wakes every reader for good (shutdown). */
void ds_tap_close(struct ds_tap *t);

#endif
