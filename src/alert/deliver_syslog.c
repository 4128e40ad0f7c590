/* deliver_syslog.c - the syslog channel: RFC 5424 messages over UDP, or TCP with RFC 6587
 * octet-counting framing. */
#include "alert/deliver.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define FACILITY_LOCAL0 16
#define SD_ID "darkscope@32473"
#define APP_NAME "darkscope"
#define MSG_ID "ALERT"
#define DEFAULT_PORT "514"
#define UDP_MAX 65507 /* the largest IPv4 UDP payload */
#define FRAME_ROOM 24 /* bytes kept before the message for the "LEN " of TCP framing */
#define DEFAULT_TIMEOUT_MS 10000

/* Per-target state, owned by one delivery thread. The socket is opened on the first send and
 * reopened (the name resolved again) after a failure. */
struct syslog_state {
    char *address; /* as configured, for messages */
    char *host;
    char port[16];
    int socktype; /* SOCK_DGRAM or SOCK_STREAM */
    int fd;
    long timeout_ms;
    char hostname[256];
    char *buf; /* FRAME_ROOM bytes, then the message being built */
    size_t len, cap;
    int oom;
};

static void syslog_close(void *state)
{
    struct syslog_state *s = state;
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    free(s->address);
    free(s->host);
    free(s->buf);
    free(s);
}

/* HOSTNAME is 1*255PRINTUSASCII (no spaces); anything else becomes '_', nothing becomes "-". */
static void set_hostname(struct syslog_state *s, const char *name)
{
    char sys[256] = "";
    if (!name || !name[0]) {
        if (gethostname(sys, sizeof sys - 1) == 0)
            name = sys;
        else
            name = "";
    }
    size_t i = 0;
    for (; name[i] && i < sizeof s->hostname - 1; i++) {
        unsigned char c = (unsigned char)name[i];
        s->hostname[i] = c > 32 && c < 127 ? (char)c : '_';
    }
    s->hostname[i] = '\0';
    if (i == 0)
        strcpy(s->hostname, "-");
}

/* "udp://host:port", "tcp://[v6addr]:port"; the port defaults to 514 */
static int parse_address(struct syslog_state *s, const char *a, struct ds_err *err)
{
    int rc = 0;
    const char *rest;
    if (strncmp(a, "udp://", 6) == 0)
        s->socktype = SOCK_DGRAM;
    else if (strncmp(a, "tcp://", 6) == 0)
        s->socktype = SOCK_STREAM;
    else {
        rc = ds_err_set(err, -EINVAL,
                        "syslog: '%s': address must be udp://HOST:PORT or tcp://HOST:PORT", a);
        goto out;
    }
    rest = a + 6;
    const char *host = rest, *host_end, *port = NULL;
    if (*rest == '[') {
        host = rest + 1;
        host_end = strchr(host, ']');
        if (!host_end || (host_end[1] && host_end[1] != ':')) {
            rc = ds_err_set(err, -EINVAL, "syslog: '%s': unterminated [IPv6 address]", a);
            goto out;
        }
        if (host_end[1] == ':')
            port = host_end + 2;
    } else {
        host_end = strchr(host, ':');
        if (host_end)
            port = host_end + 1;
        else
            host_end = host + strlen(host);
    }
    if (host_end == host) {
        rc = ds_err_set(err, -EINVAL, "syslog: '%s': no host", a);
        goto out;
    }
    if (port) {
        char *end;
        errno = 0;
        long p = strtol(port, &end, 10);
        if (!*port || *end || errno || p < 1 || p > 65535) {
            rc = ds_err_set(err, -EINVAL, "syslog: '%s': port must be 1..65535, not '%s'", a, port);
            goto out;
        }
        snprintf(s->port, sizeof s->port, "%ld", p);
    } else {
        strcpy(s->port, DEFAULT_PORT);
    }
    s->host = strndup(host, (size_t)(host_end - host));
    if (!s->host)
        rc = ds_err_set(err, -ENOMEM, "syslog: '%s': out of memory", a);
out:
    return rc;
}

static int syslog_open(void **state, const struct ds_target *t, const struct ds_deliver_config *cfg,
                       struct ds_err *err)
{
    int rc = 0;
    struct syslog_state *s = calloc(1, sizeof *s);
    *state = NULL;
    if (!s) {
        rc = ds_err_set(err, -ENOMEM, "syslog: out of memory");
        goto out;
    }
    s->fd = -1;
    s->timeout_ms = cfg && cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    if (!t->address || !(s->address = strdup(t->address))) {
        rc = ds_err_set(err, t->address ? -ENOMEM : -EINVAL, "syslog: %s",
                        t->address ? "out of memory" : "no target address");
        goto out;
    }
    if ((rc = parse_address(s, s->address, err)) < 0)
        goto out;
    set_hostname(s, cfg ? cfg->hostname : NULL);
    *state = s;
    s = NULL;
out:
    syslog_close(s);
    return rc;
}

/* ---- building the message ---- */

static void put(struct syslog_state *s, const char *p, size_t n)
{
    if (s->oom)
        return;
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 1024;
        while (cap < s->len + n)
            cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b) {
            s->oom = 1;
            return;
        }
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
}

static void putf(struct syslog_state *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void putf(struct syslog_state *s, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        put(s, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* SD-PARAM value: '"', '\' and ']' are escaped with a backslash (RFC 5424 section 6.3.3) */
static void put_param(struct syslog_state *s, const char *v)
{
    for (; v && *v; v++) {
        if (*v == '"' || *v == '\\' || *v == ']')
            put(s, "\\", 1);
        put(s, v, 1);
    }
}

/* The summary: one line, and no braces, so the JSON is the MSG from its first '{' on. */
static void put_summary(struct syslog_state *s, const char *v)
{
    for (; v && *v; v++) {
        unsigned char c = (unsigned char)*v;
        char o = (char)c;
        if (c < 32 || c == 127)
            o = ' ';
        else if (c == '{')
            o = '(';
        else if (c == '}')
            o = ')';
        put(s, &o, 1);
    }
}

static int severity_of(int sev)
{
    static const int map[] = {5, 4, 3, 2}; /* low notice, medium warning, high err, crit */
    if (sev < 0)
        sev = 0;
    if (sev > 3)
        sev = 3;
    return map[sev];
}

static void build(struct syslog_state *s, const struct ds_message *m)
{
    s->len = 0;
    s->oom = 0;
    char room[FRAME_ROOM] = {0};
    put(s, room, sizeof room);
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    putf(s, "<%d>1 %04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s " APP_NAME " - " MSG_ID " [" SD_ID,
         FACILITY_LOCAL0 * 8 + severity_of(m->severity), tm.tm_year + 1900, tm.tm_mon + 1,
         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000, s->hostname);
    put(s, " id=\"", 5);
    put_param(s, m->id);
    put(s, "\" org=\"", 7);
    put_param(s, m->org);
    put(s, "\"] ", 3);
    put_summary(s, m->subject);
    put(s, " ", 1);
    if (m->json)
        put(s, m->json, m->json_len);
}

/* ---- the socket ---- */

static int connect_timed(int fd, const struct addrinfo *ai, long timeout_ms)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    int rc = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS)
            return -errno;
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int n;
        do
            n = poll(&p, 1, timeout_ms > INT_MAX ? INT_MAX : (int)timeout_ms);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            return -errno;
        if (n == 0)
            return -ETIMEDOUT;
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
            return -errno;
        if (soerr)
            return -soerr;
    }
    if (fcntl(fd, F_SETFL, fl) < 0)
        rc = -errno;
    return rc;
}

static int sock_connect(struct syslog_state *s, struct ds_err *err)
{
    int rc = 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = s->socktype};
    struct addrinfo *res = NULL;
    int g = getaddrinfo(s->host, s->port, &hints, &res);
    if (g != 0) {
        rc =
            ds_err_set(err, g == EAI_SYSTEM ? -errno : -EHOSTUNREACH,
                       "syslog: %s: cannot resolve '%s': %s", s->address, s->host, gai_strerror(g));
        goto out;
    }
    rc = -EHOSTUNREACH;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        rc = connect_timed(fd, ai, s->timeout_ms);
        if (rc == 0) {
            struct timeval tv = {.tv_sec = s->timeout_ms / 1000,
                                 .tv_usec = (s->timeout_ms % 1000) * 1000};
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            s->fd = fd;
            break;
        }
        close(fd);
    }
    if (rc < 0)
        ds_err_set(err, rc, "syslog: %s: connect: %s", s->address, strerror(-rc));
out:
    if (res)
        freeaddrinfo(res);
    return rc;
}

static void sock_drop(struct syslog_state *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

/* A syslog receiver never writes: a readable TCP socket means the peer closed or reset it. */
static int tcp_alive(int fd)
{
    char tmp[256];
    ssize_t n = recv(fd, tmp, sizeof tmp, MSG_DONTWAIT);
    if (n == 0)
        return 0;
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    return 1; /* unexpected data, discarded */
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* one message, one datagram (ECONNREFUSED here reports an earlier datagram's ICMP error) */
static int send_datagram(int fd, const char *p, size_t n)
{
    ssize_t w;
    do
        w = send(fd, p, n, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    return w < 0 ? -errno : 0;
}

static int syslog_send(void *state, const struct ds_message *m, struct ds_err *err)
{
    struct syslog_state *s = state;
    int rc = 0;
    build(s, m);
    if (s->oom) {
        rc = ds_err_set(err, -ENOMEM, "syslog: %s: out of memory for %s", s->address,
                        m->id ? m->id : "?");
        goto out;
    }
    char *msg = s->buf + FRAME_ROOM;
    size_t len = s->len - FRAME_ROOM;
    if (s->socktype == SOCK_DGRAM && len > UDP_MAX) {
        rc = ds_err_set(err, -EMSGSIZE,
                        "syslog: %s: message for %s is %zu bytes, more than UDP carries (%d); "
                        "use tcp://",
                        s->address, m->id ? m->id : "?", len, UDP_MAX);
        goto out;
    }
    if (s->socktype == SOCK_STREAM) { /* RFC 6587 octet counting: "LEN SP MSG" */
        char pre[FRAME_ROOM];
        int pl = snprintf(pre, sizeof pre, "%zu ", len);
        msg -= pl;
        len += (size_t)pl;
        memcpy(msg, pre, (size_t)pl);
    }
    /* TCP has two tries: a connection the receiver dropped (restart) is reopened once. UDP has
     * one: its only sign of a receiver that is down is an error on the next send, which is
     * reported (the socket is reopened for the next message). */
    int tries = s->socktype == SOCK_STREAM ? 2 : 1;
    for (int attempt = 0; attempt < tries; attempt++) {
        if (s->fd >= 0 && s->socktype == SOCK_STREAM && !tcp_alive(s->fd))
            sock_drop(s);
        if (s->fd < 0 && (rc = sock_connect(s, err)) < 0)
            goto out;
        rc = s->socktype == SOCK_STREAM ? write_all(s->fd, msg, len)
                                        : send_datagram(s->fd, msg, len);
        if (rc == 0)
            goto out;
        sock_drop(s);
    }
    ds_err_set(err, rc, "syslog: %s: sending %s: %s", s->address, m->id ? m->id : "?",
               strerror(-rc));
out:
    return rc;
}

const struct ds_deliverer ds_deliver_syslog = {
    .name = "syslog",
    .open = syslog_open,
    .send = syslog_send,
    .close = syslog_close,
};
