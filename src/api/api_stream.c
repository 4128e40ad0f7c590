/* api_stream.c - GET /api/v1/stream: server-sent events for the live views. "packets" events
 * carry batches of sampled packets from the tap (every packet up to its rate), "summary"
 * events count what was over the rate, "alert" events carry alerts as they change. An
 * organisation user gets only packets from and alerts about its own addresses. */
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
#define BATCH 256

struct stream {
    struct ds_api *api;
    struct api_call call;   /* principal and scope (rq/rs are not used after the handler) */
    struct ds_store *store; /* own connection, for alert events */
    bool want_packets, want_alerts;
    uint64_t cursor;   /* tap */
    int64_t alert_seq; /* alert_event */
    int64_t last_poll_ms, last_send_ms;
    char *buf; /* formatted, not yet sent */
    size_t len, off, cap;
    struct ds_tap_rec recs[BATCH];
};

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void put(struct stream *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct stream *s, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(s->buf + s->len, s->cap - s->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < s->cap - s->len) {
            s->len += (size_t)n;
            return;
        }
        size_t nc = s->cap * 2 + (size_t)n + 1;
        char *nb = realloc(s->buf, nc);
        if (!nb)
            return;
        s->buf = nb;
        s->cap = nc;
    }
}

static void packets(struct stream *s, const struct ds_tap_rec *r, int n, uint64_t missed)
{
    const struct ds_registry *reg = api_registry(&s->call);
    bool staff = api_is_staff(&s->call);
    bool open = false;
    for (int i = 0; i < n; i++) {
        if (r[i].kind == DS_TAP_SUMMARY) {
            if (!staff)
                continue; /* counts of everyone's traffic */
            put(s,
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
        put(s,
            "%s{\"t\":%" PRIu64 ",\"s\":\"%s\",\"d\":\"%s\",\"sp\":%u,\"dp\":%u,\"p\":%u,"
            "\"f\":%u,\"ttl\":%u,\"len\":%u,\"cc\":\"%s\",\"c\":%u,\"fp\":%u}",
            open ? "," : "event: packets\ndata: [", r[i].ts_ns / 1000000, src, dst, r[i].sport,
            r[i].dport, r[i].proto, r[i].tcp_flags, r[i].ttl, r[i].len, r[i].country, r[i].classes,
            r[i].fps);
        open = true;
    }
    if (open)
        put(s, "]\n\n");
    if (missed && staff)
        put(s, "event: missed\ndata: {\"records\":%" PRIu64 "}\n\n", missed);
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
        put(s, "event: alert\ndata: %.*s,\"workflow\":\"%s\"}\n\n", (int)(l - 1), json,
            wf ? wf : "new");
    }
    sqlite3_finalize(st);
}

static ssize_t stream_read(void *ctx, char *out, size_t max)
{
    struct stream *s = ctx;
    while (s->off == s->len) {
        s->off = s->len = 0;
        if (atomic_load(&s->api->stopping))
            return -1;
        int64_t now = mono_ms();
        struct ds_tap *tap = s->api->cfg.tap;
        if (s->want_packets && tap) {
            uint64_t missed;
            int n = ds_tap_read(tap, &s->cursor, s->recs, BATCH, 250, &missed);
            if (n < 0)
                return -1;
            if (n > 0 || missed)
                packets(s, s->recs, n, missed);
        } else {
            struct timespec ts = {0, 250000000};
            nanosleep(&ts, NULL);
        }
        now = mono_ms();
        if (s->want_alerts && now - s->last_poll_ms >= 500) {
            alerts(s);
            s->last_poll_ms = now;
        }
        if (s->len == 0 && now - s->last_send_ms >= 15000)
            put(s, ": keep-alive\n\n"); /* proxies and browsers see the stream is alive */
        if (s->len)
            s->last_send_ms = now;
    }
    size_t n = s->len - s->off < max ? s->len - s->off : max;
    memcpy(out, s->buf + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static void stream_done(void *ctx)
{
    struct stream *s = ctx;
    atomic_fetch_sub(&s->api->streams, 1);
    ds_store_close(s->store);
    free(s->buf);
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
    if (!s || !(s->buf = malloc(s->cap = 65536)) ||
        ds_store_open(&s->store, c->api->cfg.db, false, &err) < 0) {
        atomic_fetch_sub(&c->api->streams, 1);
        if (s)
            free(s->buf);
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
    put(s, "retry: 2000\nevent: hello\ndata: {\"live\":%s,\"alert_seq\":%" PRId64 "}\n\n",
        c->api->cfg.tap ? "true" : "false", s->alert_seq);
    c->rs->status = 200;
    c->rs->content_type = "text/event-stream";
    c->rs->stream = (struct ds_http_stream){.read = stream_read, .done = stream_done, .ctx = s};
    ds_http_add_header(c->rs, "X-Accel-Buffering", "no");
}
