/* deliver_smtp.c - the e-mail channel: a MIME message (text and JSON attachment) sent with
 * libcurl's SMTP client, STARTTLS and AUTH as configured. */
#include "alert/deliver.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#define DEFAULT_TIMEOUT_MS 30000
#define B64_LINE 57   /* input bytes per base64 body line: 76 characters */
#define WORD_BYTES 39 /* input bytes per RFC 2047 encoded-word: 52 base64 characters */
#define MAX_PLAIN_SUBJECT 900

/* Per-target state, owned by one delivery thread: one curl handle (the connection may be kept
 * between messages), the envelope and the message being sent. */
struct smtp_state {
    CURL *h;
    char *url;
    char *from;      /* header From, as configured */
    char *env_from;  /* "<addr>" */
    char *rcpt;      /* the recipient address */
    char *msgid_dom; /* the Message-ID's right-hand side: the From address's domain */
    struct curl_slist *rcpts;
    char errbuf[CURL_ERROR_SIZE];
    char *buf; /* the message being built and sent */
    size_t len, cap, pos;
    int oom;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

/* once per process; curl_global_cleanup is never called (other channels may still use curl) */
static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int curl_errno(CURLcode c)
{
    switch (c) {
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_COULDNT_CONNECT:
        return -ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
        return -EHOSTUNREACH;
    case CURLE_LOGIN_DENIED:
        return -EACCES;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return -EINVAL;
    case CURLE_USE_SSL_FAILED:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
        return -EPROTO;
    default:
        return -EIO;
    }
}

static void smtp_close(void *state)
{
    struct smtp_state *s = state;
    if (!s)
        return;
    if (s->h)
        curl_easy_cleanup(s->h);
    curl_slist_free_all(s->rcpts);
    free(s->url);
    free(s->from);
    free(s->env_from);
    free(s->rcpt);
    free(s->msgid_dom);
    free(s->buf);
    free(s);
}

/* an address for the envelope and headers: no line breaks, angle brackets or spaces */
static int plain_address(const char *a)
{
    return a && a[0] && strlen(a) <= 254 && !strpbrk(a, "\r\n<> \t\"") && strchr(a, '@');
}

/* "Name <a@b>" or "a@b": the bare address, allocated */
static char *bare_address(const char *from)
{
    const char *lt = strrchr(from, '<');
    const char *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt)
        return strndup(lt + 1, (size_t)(gt - lt - 1));
    return strdup(from);
}

static size_t on_read(char *out, size_t size, size_t n, void *arg)
{
    struct smtp_state *s = arg;
    size_t room = size * n;
    size_t left = s->len - s->pos;
    size_t k = left < room ? left : room;
    memcpy(out, s->buf + s->pos, k);
    s->pos += k;
    return k;
}

/* The handle's options: all stay set for its life; send() only rewinds the message. */
static CURLcode setup(struct smtp_state *s, const struct ds_deliver_config *cfg)
{
    CURL *h = s->h;
    long timeout = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    CURLcode c;
    if ((c = curl_easy_setopt(h, CURLOPT_URL, s->url)) ||
        (c = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps")) ||
        (c = curl_easy_setopt(h, CURLOPT_MAIL_FROM, s->env_from)) ||
        (c = curl_easy_setopt(h, CURLOPT_MAIL_RCPT, s->rcpts)) ||
        (c = curl_easy_setopt(h, CURLOPT_UPLOAD, 1L)) ||
        (c = curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read)) ||
        (c = curl_easy_setopt(h, CURLOPT_READDATA, s)) ||
        (c = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L)) ||
        (c = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout)) ||
        (c = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout)) ||
        (c = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, s->errbuf)))
        return c;
    /* STARTTLS on smtp:// or fail (smtps:// is TLS from the start anyway) */
    if (cfg->smtp_starttls && (c = curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL)))
        return c;
    if (cfg->smtp_user && cfg->smtp_user[0] &&
        ((c = curl_easy_setopt(h, CURLOPT_USERNAME, cfg->smtp_user)) ||
         (c = curl_easy_setopt(h, CURLOPT_PASSWORD, cfg->smtp_password ? cfg->smtp_password : ""))))
        return c;
    if (cfg->ca_file && (c = curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file)))
        return c;
    if (cfg->tls_insecure && ((c = curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L)) ||
                              (c = curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L))))
        return c;
    return CURLE_OK;
}

static int smtp_open(void **state, const struct ds_target *t, const struct ds_deliver_config *cfg,
                     struct ds_err *err)
{
    int rc = 0;
    struct smtp_state *s = NULL;
    char *addr = NULL;
    *state = NULL;
    const char *url = cfg && cfg->smtp_url ? cfg->smtp_url : "";
    const char *rcpt = t->address ? t->address : "";
    if (strncmp(url, "smtp://", 7) != 0 && strncmp(url, "smtps://", 8) != 0) {
        rc = ds_err_set(err, -EINVAL, "smtp: server URL '%s' must start with smtp:// or smtps://",
                        url);
        goto out;
    }
    if (!plain_address(rcpt)) {
        rc = ds_err_set(err, -EINVAL, "smtp: %s: recipient '%s' is not a plain address user@domain",
                        url, rcpt);
        goto out;
    }
    const char *from = cfg->smtp_from ? cfg->smtp_from : "";
    if (strpbrk(from, "\r\n") || !(addr = bare_address(from)) || !plain_address(addr)) {
        rc = ds_err_set(
            err, -EINVAL,
            "smtp: %s: sender '%s' is not an address (user@domain or Name <user@domain>)", url,
            from);
        goto out;
    }
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        rc = ds_err_set(err, -EIO, "smtp: %s: libcurl initialisation failed: %s", url,
                        curl_easy_strerror(curl_init_rc));
        goto out;
    }
    s = calloc(1, sizeof *s);
    if (!s || !(s->url = strdup(url)) || !(s->from = strdup(from)) || !(s->rcpt = strdup(rcpt)) ||
        !(s->msgid_dom = strdup(strrchr(addr, '@') + 1)) ||
        !(s->env_from = malloc(strlen(addr) + 3)) || !(s->h = curl_easy_init())) {
        rc = ds_err_set(err, -ENOMEM, "smtp: %s: out of memory", url);
        goto out;
    }
    sprintf(s->env_from, "<%s>", addr);
    char env_rcpt[512];
    snprintf(env_rcpt, sizeof env_rcpt, "<%s>", rcpt);
    if (!(s->rcpts = curl_slist_append(NULL, env_rcpt))) {
        rc = ds_err_set(err, -ENOMEM, "smtp: %s: out of memory", url);
        goto out;
    }
    CURLcode c = setup(s, cfg);
    if (c != CURLE_OK) {
        rc =
            ds_err_set(err, curl_errno(c), "smtp: %s: curl option: %s", url, curl_easy_strerror(c));
        goto out;
    }
    *state = s;
    s = NULL;
out:
    free(addr);
    smtp_close(s);
    return rc;
}

/* ---- building the message ---- */

static void put(struct smtp_state *s, const char *p, size_t n)
{
    if (s->oom)
        return;
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
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

static void puts_(struct smtp_state *s, const char *p)
{
    put(s, p, strlen(p));
}

static void putf(struct smtp_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct smtp_state *s, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        put(s, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void put_base64_line(struct smtp_state *s, const unsigned char *in, size_t k)
{
    unsigned char line[80];
    int w = EVP_EncodeBlock(line, in, (int)k);
    put(s, (const char *)line, (size_t)w);
    put(s, "\r\n", 2);
}

/* base64 of p, in CRLF-terminated lines of 76 characters; text is first put in its canonical
 * form (RFC 2045): line breaks are CRLF, a bare LF gets its CR */
static void put_base64_body(struct smtp_state *s, const char *p, size_t n, int text)
{
    unsigned char in[B64_LINE];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (text && p[i] == '\n' && (i == 0 || p[i - 1] != '\r')) {
            in[k++] = '\r';
            if (k == B64_LINE) {
                put_base64_line(s, in, k);
                k = 0;
            }
        }
        in[k++] = (unsigned char)p[i];
        if (k == B64_LINE) {
            put_base64_line(s, in, k);
            k = 0;
        }
    }
    if (k > 0)
        put_base64_line(s, in, k);
}

/* Header text: printable ASCII without "=?" goes as is; anything else (UTF-8, control characters)
 * becomes RFC 2047 "B" encoded-words of whole UTF-8 characters, folded one per line. */
static void put_header_text(struct smtp_state *s, const char *name, const char *v)
{
    size_t n = strlen(v);
    int plain = n <= MAX_PLAIN_SUBJECT && !strstr(v, "=?");
    for (size_t i = 0; plain && i < n; i++)
        plain = v[i] >= 32 && v[i] < 127;
    putf(s, "%s: ", name);
    if (plain) {
        put(s, v, n);
        put(s, "\r\n", 2);
        return;
    }
    size_t off = 0;
    while (off < n) {
        size_t k = n - off < WORD_BYTES ? n - off : WORD_BYTES;
        /* do not split a UTF-8 sequence: back off over continuation bytes */
        while (k > 1 && off + k < n && ((unsigned char)v[off + k] & 0xc0) == 0x80)
            k--;
        unsigned char word[64];
        int w = EVP_EncodeBlock(word, (const unsigned char *)v + off, (int)k);
        if (off > 0)
            put(s, "\r\n ", 3);
        puts_(s, "=?UTF-8?B?");
        put(s, (const char *)word, (size_t)w);
        puts_(s, "?=");
        off += k;
    }
    put(s, "\r\n", 2);
}

/* Message-ID left-hand side: the id, any byte but [A-Za-z0-9_-] as "=XX" (a valid atom, and
 * distinct ids give distinct Message-IDs) */
static void put_msgid_local(struct smtp_state *s, const char *id)
{
    for (; *id; id++) {
        unsigned char c = (unsigned char)*id;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '-')
            put(s, id, 1);
        else
            putf(s, "=%02X", c);
    }
}

/* attachment file name: [A-Za-z0-9._-], anything else '_' (safe in a quoted-string) */
static void put_filename(struct smtp_state *s, const char *name)
{
    for (; *name; name++) {
        char c = *name;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        put(s, ok ? name : "_", 1);
    }
}

static uint64_t fnv1a(const char *p)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    return h;
}

/*
 * The whole message, CRLF line ends. Everything in it derives from the message and the
 * configuration (Date is m->created), so a resend is byte for byte the same and carries the
 * same Message-ID. Both parts are base64: no 8BITMIME needed, no line-length limit to meet.
 */
static void build(struct smtp_state *s, const struct ds_message *m)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    s->len = 0;
    s->pos = 0;
    s->oom = 0;
    time_t when = m->created > 0 ? (time_t)m->created : time(NULL);
    struct tm tm;
    gmtime_r(&when, &tm);
    char boundary[40];
    snprintf(boundary, sizeof boundary, "=_darkscope_%016" PRIx64, fnv1a(m->id));

    putf(s, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday], tm.tm_mday,
         months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    putf(s, "From: %s\r\n", s->from);
    putf(s, "To: %s\r\n", s->rcpt);
    put_header_text(s, "Subject", m->subject ? m->subject : "");
    puts_(s, "Message-ID: <");
    put_msgid_local(s, m->id);
    putf(s, "@%s>\r\n", s->msgid_dom);
    put_header_text(s, "X-Darkscope-Alert-Id", m->id);
    if (m->org && m->org[0])
        put_header_text(s, "X-Darkscope-Org", m->org);
    puts_(s, "Auto-Submitted: auto-generated\r\n");
    puts_(s, "MIME-Version: 1.0\r\n");
    putf(s, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n", boundary);
    puts_(s, "\r\nThis is a MIME message: a text part and a JSON attachment.\r\n");

    putf(s, "\r\n--%s\r\n", boundary);
    puts_(s, "Content-Type: text/plain; charset=UTF-8\r\n");
    puts_(s, "Content-Transfer-Encoding: base64\r\n\r\n");
    const char *text = m->text ? m->text : "";
    put_base64_body(s, text, strlen(text), 1);

    putf(s, "\r\n--%s\r\n", boundary);
    puts_(s, "Content-Type: application/json; name=\"");
    put_filename(s,
                 m->attachment_name && m->attachment_name[0] ? m->attachment_name : "alert.json");
    puts_(s, "\"\r\nContent-Disposition: attachment; filename=\"");
    put_filename(s,
                 m->attachment_name && m->attachment_name[0] ? m->attachment_name : "alert.json");
    puts_(s, "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    put_base64_body(s, m->json, m->json_len, 0);
    putf(s, "\r\n--%s--\r\n", boundary);
}

static int smtp_send(void *state, const struct ds_message *m, struct ds_err *err)
{
    struct smtp_state *s = state;
    int rc = 0;
    const char *id = m->id ? m->id : "";
    if (!id[0] || strlen(id) > 200 || strpbrk(id, "\r\n")) {
        rc = ds_err_set(err, -EINVAL,
                        "smtp: %s: to %s: message id '%.200s' is empty, too long or has a line "
                        "break",
                        s->url, s->rcpt, id);
        goto out;
    }
    build(s, m);
    if (s->oom) {
        rc = ds_err_set(err, -ENOMEM, "smtp: %s: to %s: out of memory for %s", s->url, s->rcpt, id);
        goto out;
    }
    s->errbuf[0] = '\0';
    CURLcode c = curl_easy_setopt(s->h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)s->len);
    if (c == CURLE_OK)
        c = curl_easy_perform(s->h);
    if (c != CURLE_OK) {
        long reply = 0;
        curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &reply);
        char said[48] = "";
        if (reply > 0)
            snprintf(said, sizeof said, " (last server reply %ld)", reply);
        rc = ds_err_set(err, curl_errno(c), "smtp: %s: sending %s to %s: %s%s%s%s", s->url, id,
                        s->rcpt, curl_easy_strerror(c), s->errbuf[0] ? ": " : "", s->errbuf, said);
        goto out;
    }
out:
    return rc;
}

const struct ds_deliverer ds_deliver_smtp = {
    .name = "smtp",
    .open = smtp_open,
    .send = smtp_send,
    .close = smtp_close,
};
