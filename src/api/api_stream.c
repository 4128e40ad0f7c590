/* api_stream.c - GET /api/v1/stream: server-sent events for the live views. Sampled packets
 * from the tap (every packet up to its rate) are gathered for a tick and sent as one "packets"
 * event with a JSON array, so a browser parses a few messages a second, not one per packet;
 * "summary" events count what was over the rate, "alert" events carry alerts as they change.
 * An organisation user gets only packets from and alerts about its own addresses. */
#include "api/api_int.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/addr.h"
#include "core/log.h"

#define MAX_STREAMS 32
#define BATCH 256                      /* records per ds_tap_read */
#define TICK_MS 200                    /* at most one "packets" event per tick */
#define TICK_MAX (DS_TAP_RING / BATCH) /* reads per tick at most: the rest waits for the next */

/* A growing text buffer. */
struct sbuf {
    char *p;
    size_t len, cap;
};

/* One open stream: owned by the HTTP server's connection thread that calls stream_read. */
struct stream {
    struct ds_api *api;
    struct api_call call;   /* principal and scope (rq/rs are not used after the handler) */
    struct ds_store *store; /* own connection, for alert events */
    bool want_packets, want_alerts;
    uint64_t cursor;   /* tap */
    int64_t alert_seq; /* alert_event */
    int64_t last_poll_ms, last_send_ms, last_tick_ms;
    struct sbuf out; /* formatted events, not yet sent (from off) */
    size_t off;
    struct sbuf pk;  /* this tick's packets: the array's members, comma-separated */
    uint64_t missed; /* this tick's records the reader was too slow to see */
    struct ds_tap_rec recs[BATCH];
};

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Makes room for n more bytes (and a NUL); false when out of memory. */
static bool reserve(struct sbuf *b, size_t n)
{
    if (b->cap - b->len > n)
        return true;
    size_t nc = b->cap * 2 + n + 1;
    char *np = realloc(b->p, nc);
    if (!np)
        return false;
    b->p = np;
    b->cap = nc;
    return true;
}

static void put(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        if (!reserve(b, (size_t)n))
            return;
    }
}

static void append(struct sbuf *b, const char *p, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* Adds n tap records to this tick: packets to the array, summaries as events of their own. */
static void take(struct stream *s, const struct ds_tap_rec *r, int n, uint64_t missed)
{
    const struct ds_registry *reg = api_registry(&s->call);
    bool staff = api_is_staff(&s->call);
    s->missed += missed;
    for (int i = 0; i < n; i++) {
        if (r[i].kind == DS_TAP_SUMMARY) {
            if (!staff)
                continue; /* counts of everyone's traffic */
            put(&s->out,
                "event: summary\ndata: {\"t\":%" PRIu64 ",\"skipped\":%" PRIu64 ",\"tcp\":%" PRIu64
                ",\"udp\":%" PRIu64 ",\"icmp\":%" PRIu64 "}\n\n",
                r[i].ts_ns / 1000000, r[i].skipped, r[i].skipped_tcp, r[i].skipped_udp,
                r[i].skipped_icmp);
            continue;
        }
        if (!staff) {
            const struct ds_org *o = ds_registry_livenet(reg, &r[i].src);
            if (!o || o->id != s->call.who.org_id)
                continue;
        }
        char src[DS_ADDR_STRLEN], dst[DS_ADDR_STRLEN];
        ds_addr_format(&r[i].src, src);
        ds_addr_format(&r[i].dst, dst);
        put(&s->pk,
            "%s{\"t\":%" PRIu64 ",\"s\":\"%s\",\"d\":\"%s\",\"sp\":%u,\"dp\":%u,\"p\":%u,"
            "\"f\":%u,\"ttl\":%u,\"len\":%u,\"cc\":\"%s\",\"c\":%u,\"fp\":%u}",
            s->pk.len ? "," : "", r[i].ts_ns / 1000000, src, dst, r[i].sport, r[i].dport,
            r[i].proto, r[i].tcp_flags, r[i].ttl, r[i].len, r[i].country, r[i].classes, r[i].fps);
    }
}

/* Ends the tick: its packets as one event, then what was missed. */
static void flush(struct stream *s)
{
    if (s->pk.len) {
        static const char head[] = "event: packets\ndata: [", tail[] = "]\n\n";
        append(&s->out, head, sizeof head - 1);
        append(&s->out, s->pk.p, s->pk.len);
        append(&s->out, tail, sizeof tail - 1);
        s->pk.len = 0;
    }
    if (s->missed && api_is_staff(&s->call))
        put(&s->out, "event: missed\ndata: {\"records\":%" PRIu64 "}\n\n", s->missed);
    s->missed = 0;
}

/*
 * Waits up to 250 ms for the tap. Once something has arrived, lets the rest of the tick
 * gather (TICK_MS after the previous tick ended), takes what the tap holds and formats it:
 * at most one "packets" event per tick. Returns 0, or -1 once the tap is closed.
 */
static int tick(struct stream *s, struct ds_tap *tap)
{
    uint64_t missed;
    int n = ds_tap_read(tap, &s->cursor, s->recs, BATCH, 250, &missed);
    if (n < 0)
        return -1;
    if (n == 0 && !missed)
        return 0;
    take(s, s->recs, n, missed);
    int64_t wait = s->last_tick_ms + TICK_MS - mono_ms();
    if (wait > 0) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)wait * 1000000};
        nanosleep(&ts, NULL);
    }
    for (int k = 0; k < TICK_MAX; k++) {
        n = ds_tap_read(tap, &s->cursor, s->recs, BATCH, 0, &missed);
        if (n < 0)
            return -1;
        take(s, s->recs, n, missed);
        if (n < BATCH)
            break;
    }
    s->last_tick_ms = mono_ms();
    flush(s);
    return 0;
}

static void alerts(struct stream *s)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(ds_store_db(s->store),
                           "SELECT e.seq, a.json, a.workflow, a.org FROM alert_event e"
                           " JOIN alert a ON a.id = e.alert WHERE e.seq > ?"
                           " AND (?2 = 0 OR e.org = ?2) ORDER BY e.seq LIMIT 500",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, s->alert_seq);
    sqlite3_bind_int64(st, 2, api_is_staff(&s->call) ? 0 : s->call.who.org_id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        s->alert_seq = sqlite3_column_int64(st, 0);
        const char *json = (const char *)sqlite3_column_text(st, 1);
        const char *wf = (const char *)sqlite3_column_text(st, 2);
        size_t l = json ? strlen(json) : 0;
        if (l < 2 || json[l - 1] != '}')
            continue;
        /* the stored JSON with the workflow state added */
        put(&s->out, "event: alert\ndata: %.*s,\"workflow\":\"%s\"}\n\n", (int)(l - 1), json,
            wf ? wf : "new");
    }
    sqlite3_finalize(st);
}

static ssize_t stream_read(void *ctx, char *out, size_t max)
{
    struct stream *s = ctx;
    while (s->off == s->out.len) {
        s->off = s->out.len = 0;
        if (atomic_load(&s->api->stopping))
            return -1;
        struct ds_tap *tap = s->api->cfg.tap;
        if (s->want_packets && tap) {
            if (tick(s, tap) < 0)
                return -1;
        } else {
            struct timespec ts = {0, 250000000};
            nanosleep(&ts, NULL);
        }
        int64_t now = mono_ms();
        if (s->want_alerts && now - s->last_poll_ms >= 500) {
            alerts(s);
            s->last_poll_ms = now;
        }
        if (s->out.len == 0 && now - s->last_send_ms >= 15000)
            put(&s->out, ": keep-alive\n\n"); /* proxies and browsers see the stream is alive */
        if (s->out.len)
            s->last_send_ms = now;
    }
    size_t n = s->out.len - s->off < max ? s->out.len - s->off : max;
    memcpy(out, s->out.p + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static void stream_done(void *ctx)
{
    struct stream *s = ctx;
    atomic_fetch_sub(&s->api->streams, 1);
    ds_store_close(s->store);
    free(s->out.p);
    free(s->pk.p);
    free(s);
}

void api_stream(struct api_call *c)
{
    const char *types = ds_http_arg(c->rq, "types");
    bool wp = !types || strstr(types, "packets"), wa = !types || strstr(types, "alerts");
    if (!wp && !wa) {
        api_error(c, 400, "parameter types: packets, alerts or packets,alerts");
        return;
    }
    if (atomic_fetch_add(&c->api->streams, 1) >= MAX_STREAMS) {
        atomic_fetch_sub(&c->api->streams, 1);
        api_error(c, 503, "too many live streams open (%d)", MAX_STREAMS);
        return;
    }
    struct stream *s = calloc(1, sizeof *s);
    struct ds_err err = {0};
    if (!s || !(s->out.p = malloc(s->out.cap = 65536)) || !(s->pk.p = malloc(s->pk.cap = 65536)) ||
        ds_store_open(&s->store, c->api->cfg.db, false, &err) < 0) {
        atomic_fetch_sub(&c->api->streams, 1);
        if (s) {
            free(s->out.p);
            free(s->pk.p);
        }
        free(s);
        if (err.code)
            api_store_error(c, &err);
        else
            api_error(c, 500, "out of memory");
        return;
    }
    s->api = c->api;
    s->call.api = c->api;
    s->call.who = c->who;
    s->call.authed = c->authed;
    s->want_packets = wp;
    s->want_alerts = wa;
    s->cursor = c->api->cfg.tap ? ds_tap_now(c->api->cfg.tap) : 0;
    long since;
    if (api_int_param(c, "since", -1, -1, INT64_MAX, &since) < 0) {
        stream_done(s);
        return;
    }
    sqlite3_stmt *st;
    if (since >= 0) {
        s->alert_seq = since; /* a reconnecting client continues where it was */
    } else if (sqlite3_prepare_v2(ds_store_db(s->store),
                                  "SELECT IFNULL(max(seq), 0) FROM alert_event", -1, &st,
                                  NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            s->alert_seq = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    s->last_send_ms = mono_ms();
    put(&s->out,
        "retry: 2000\nevent: hello\ndata: {\"live\":%s,\"alert_seq\":%" PRId64
        ",\"tick_ms\":%d}\n\n",
        c->api->cfg.tap ? "true" : "false", s->alert_seq, TICK_MS);
    c->rs->status = 200;
    c->rs->content_type = "text/event-stream";
    c->rs->stream = (struct ds_http_stream){.read = stream_read, .done = stream_done, .ctx = s};
    ds_http_add_header(c->rs, "X-Accel-Buffering", "no");
}
