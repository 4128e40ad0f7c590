/* deliver_webhook.c - the webhook channel: an HTTP(S) POST of the JSON, signed with
 * HMAC-SHA256, with an idempotency key. */
#include "alert/deliver.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#define DEFAULT_TIMEOUT_MS 10000
#define SNIPPET 160 /* bytes of a failed response's body kept for the error message */

/* Per-target state, owned by one delivery thread: one curl handle, reused for every message so
 * the connection (and TLS session) is kept between deliveries. */
struct webhook_state {
    CURL *h;
    char *url;
    char *secret; /* NULL: requests are not signed */
    char errbuf[CURL_ERROR_SIZE];
    char resp[SNIPPET + 1]; /* the start of the last response body */
    size_t resp_len;
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
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return -EINVAL;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
        return -EPROTO;
    default:
        return -EIO;
    }
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct webhook_state *s = arg;
    size_t len = size * n;
    size_t room = SNIPPET - s->resp_len;
    size_t take = len < room ? len : room;
    for (size_t i = 0; i < take; i++) {
        unsigned char c = (unsigned char)p[i];
        s->resp[s->resp_len++] = c < 32 || c == 127 ? ' ' : (char)c;
    }
    s->resp[s->resp_len] = '\0';
    return len;
}

static void webhook_close(void *state)
{
    struct webhook_state *s = state;
    if (!s)
        return;
    if (s->h)
        curl_easy_cleanup(s->h);
    free(s->url);
    free(s->secret);
    free(s);
}

/* The handle's options: all stay set for its life; send() sets the body and headers. */
static CURLcode setup(struct webhook_state *s, const struct ds_deliver_config *cfg)
{
    CURL *h = s->h;
    long timeout = cfg && cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    CURLcode c;
    if ((c = curl_easy_setopt(h, CURLOPT_URL, s->url)) ||
        (c = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https")) ||
        (c = curl_easy_setopt(h, CURLOPT_POST, 1L)) ||
        (c = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L)) ||
        (c = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout)) ||
        (c = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout)) ||
        (c = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, s->errbuf)) ||
        (c = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body)) ||
        (c = curl_easy_setopt(h, CURLOPT_WRITEDATA, s)) ||
        (c = curl_easy_setopt(h, CURLOPT_USERAGENT, "darkscope")))
        return c;
    if (cfg && cfg->ca_file && (c = curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file)))
        return c;
    if (cfg && cfg->tls_insecure &&
        ((c = curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L)) ||
         (c = curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L))))
        return c;
    return CURLE_OK;
}

static int webhook_open(void **state, const struct ds_target *t,
                        const struct ds_deliver_config *cfg, struct ds_err *err)
{
    int rc = 0;
    struct webhook_state *s = NULL;
    *state = NULL;
    const char *url = t->address ? t->address : "";
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        rc =
            ds_err_set(err, -EINVAL, "webhook: '%s': URL must start with http:// or https://", url);
        goto out;
    }
    if (strpbrk(url, "\r\n \t")) {
        rc = ds_err_set(err, -EINVAL, "webhook: '%s': URL contains white space", url);
        goto out;
    }
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        rc = ds_err_set(err, -EIO, "webhook: %s: libcurl initialisation failed: %s", url,
                        curl_easy_strerror(curl_init_rc));
        goto out;
    }
    s = calloc(1, sizeof *s);
    if (!s || !(s->url = strdup(url)) ||
        (t->secret && t->secret[0] && !(s->secret = strdup(t->secret))) ||
        !(s->h = curl_easy_init())) {
        rc = ds_err_set(err, -ENOMEM, "webhook: %s: out of memory", url);
        goto out;
    }
    CURLcode c = setup(s, cfg);
    if (c != CURLE_OK) {
        rc = ds_err_set(err, curl_errno(c), "webhook: %s: curl option: %s", url,
                        curl_easy_strerror(c));
        goto out;
    }
    *state = s;
    s = NULL;
out:
    webhook_close(s);
    return rc;
}

static int add_header(struct curl_slist **list, const char *name, const char *value)
{
    char line[256];
    int n = snprintf(line, sizeof line, "%s: %s", name, value);
    if (n < 0 || (size_t)n >= sizeof line)
        return -EINVAL;
    struct curl_slist *l = curl_slist_append(*list, line);
    if (!l)
        return -ENOMEM;
    *list = l;
    return 0;
}

static int webhook_send(void *state, const struct ds_message *m, struct ds_err *err)
{
    struct webhook_state *s = state;
    int rc = 0;
    struct curl_slist *hdr = NULL;
    const char *id = m->id ? m->id : "";
    const char *json = m->json ? m->json : "";
    size_t json_len = m->json ? m->json_len : 0;
    if (!id[0] || strlen(id) > 200 || strpbrk(id, "\r\n")) {
        rc = ds_err_set(err, -EINVAL,
                        "webhook: %s: message id '%.200s' is empty, too long or "
                        "has a line break",
                        s->url, id);
        goto out;
    }
    char sig[128];
    if (s->secret) {
        ds_webhook_signature(s->secret, (int64_t)time(NULL), json, json_len, sig, sizeof sig);
        if (!sig[0]) {
            rc = ds_err_set(err, -ENOMEM, "webhook: %s: cannot compute the signature of %s", s->url,
                            id);
            goto out;
        }
    }
    /* "Expect:" turns off curl's 100-continue wait for larger bodies */
    if ((rc = add_header(&hdr, "Content-Type", "application/json")) < 0 ||
        (rc = add_header(&hdr, "Idempotency-Key", id)) < 0 ||
        (rc = add_header(&hdr, "X-Darkscope-Id", id)) < 0 ||
        (s->secret && (rc = add_header(&hdr, "X-Darkscope-Signature", sig)) < 0) ||
        (rc = add_header(&hdr, "Expect", "")) < 0) {
        rc = ds_err_set(err, rc, "webhook: %s: building the headers of %s: %s", s->url, id,
                        strerror(-rc));
        goto out;
    }
    s->errbuf[0] = '\0';
    s->resp_len = 0;
    s->resp[0] = '\0';
    CURLcode c;
    if (!(c = curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, hdr)) &&
        !(c = curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, json)) &&
        !(c = curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)json_len)))
        c = curl_easy_perform(s->h);
    /* the header list is freed below and the body belongs to the caller: unhook both */
    curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    if (c != CURLE_OK) {
        rc = ds_err_set(err, curl_errno(c), "webhook: %s: posting %s: %s%s%s", s->url, id,
                        curl_easy_strerror(c), s->errbuf[0] ? ": " : "", s->errbuf);
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        /* 408, 429 and 5xx are worth retrying later; other answers need the operator */
        int code = status == 408 || status == 429 || status >= 500 ? -EAGAIN : -EREMOTEIO;
        rc = ds_err_set(err, code, "webhook: %s: posting %s: HTTP %ld%s%s", s->url, id, status,
                        s->resp_len ? ": " : "", s->resp);
        goto out;
    }
out:
    curl_slist_free_all(hdr);
    return rc;
}

const struct ds_deliverer ds_deliver_webhook = {
    .name = "webhook",
    .open = webhook_open,
    .send = webhook_send,
    .close = webhook_close,
};
