/* tap.c - the live packet stream: a rate-limited ring of packet records with summaries of
 * what was over the rate, one writer, many readers. */
#include "analyze/tap.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int ds_tap_init(struct ds_tap *t, uint32_t rate, const struct ds_geo *geo)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    t->rate = rate ? rate : 1;
    t->clock_ms = mono_ms;
    t->window_ms = mono_ms();
    if (geo) {
        if (ds_geo_cache_init(&t->geo, geo, 4096, NULL) < 0)
            return -ENOMEM;
        t->have_geo = true;
    }
    return 0;
}

void ds_tap_free(struct ds_tap *t)
{
    if (t->have_geo)
        ds_geo_cache_free(&t->geo);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
}

static void push(struct ds_tap *t, const struct ds_tap_rec *r)
{
    pthread_mutex_lock(&t->mu);
    t->ring[t->seq % DS_TAP_RING] = *r;
    t->seq++;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

/*
 * A new window: the summary of the old one first (when something was skipped). Windows abut
 * (the next starts where the last ended, not when the clock was read), unless a whole window
 * passed with nothing offered.
 */
static void roll(struct ds_tap *t, int64_t now, uint64_t ts_ns)
{
    if (t->skipped) {
        struct ds_tap_rec s = {.kind = DS_TAP_SUMMARY,
                               .ts_ns = ts_ns,
                               .skipped = t->skipped,
                               .skipped_tcp = t->skipped_proto[0],
                               .skipped_udp = t->skipped_proto[1],
                               .skipped_icmp = t->skipped_proto[2]};
        push(t, &s);
    }
    t->skipped = 0;
    memset(t->skipped_proto, 0, sizeof t->skipped_proto);
    t->listed = 0;
    t->window_ms = now - t->window_ms >= 2000 ? now : t->window_ms + 1000;
}

void ds_tap_offer(struct ds_tap *t, const struct ds_pkt *p)
{
    if (t->listed >= t->rate) {
        /* over the rate: the clock every 32 offers, so a window ends at most 32 packets late;
         * the offer that finds the window over is the new window's first */
        bool checked = ++t->since_clock >= 32;
        int64_t now = 0;
        if (checked) {
            t->since_clock = 0;
            now = t->clock_ms();
        }
        if (!checked || now - t->window_ms < 1000) {
            t->skipped++;
            t->skipped_proto[p->proto == 6 ? 0 : p->proto == 17 ? 1 : 2]++;
            return;
        }
        roll(t, now, p->ts_ns);
    } else {
        int64_t now = t->clock_ms();
        if (now - t->window_ms >= 1000)
            roll(t, now, p->ts_ns);
    }
    t->listed++;
    struct ds_tap_rec r = {.kind = DS_TAP_PACKET,
                           .proto = p->proto,
                           .tcp_flags = p->tcp_flags,
                           .ttl = p->ttl,
                           .sport = p->sport,
                           .dport = p->dport,
                           .len = p->ip_len,
                           .classes = p->classes,
                           .fps = p->fps,
                           .ts_ns = p->ts_ns,
                           .src = p->src,
                           .dst = p->dst};
    if (p->proto == 1 || p->proto == 58) { /* ICMP: type and code in the port fields */
        r.sport = p->icmp_type;
        r.dport = p->icmp_code;
    }
    if (t->have_geo) {
        struct ds_geo_info gi;
        ds_geo_lookup(&t->geo, &p->src, &gi);
        memcpy(r.country, gi.country, sizeof r.country);
    }
    push(t, &r);
}

uint64_t ds_tap_now(struct ds_tap *t)
{
    pthread_mutex_lock(&t->mu);
    uint64_t s = t->seq;
    pthread_mutex_unlock(&t->mu);
    return s;
}

int ds_tap_read(struct ds_tap *t, uint64_t *cursor, struct ds_tap_rec *out, int max, int timeout_ms,
                uint64_t *missed)
{
    *missed = 0;
    pthread_mutex_lock(&t->mu);
    if (t->seq == *cursor && !t->closed && timeout_ms > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += timeout_ms / 1000;
        ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        while (t->seq == *cursor && !t->closed)
            if (pthread_cond_timedwait(&t->cv, &t->mu, &ts) == ETIMEDOUT)
                break;
    }
    if (t->closed) {
        pthread_mutex_unlock(&t->mu);
        return -1;
    }
    if (t->seq - *cursor > DS_TAP_RING) {
        *missed = t->seq - DS_TAP_RING - *cursor;
        *cursor = t->seq - DS_TAP_RING;
    }
    int n = 0;
    while (*cursor < t->seq && n < max)
        out[n++] = t->ring[(*cursor)++ % DS_TAP_RING];
    pthread_mutex_unlock(&t->mu);
    return n;
}

void ds_tap_close(struct ds_tap *t)
{
    pthread_mutex_lock(&t->mu);
    t->closed = true;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}
