/* deliver.c - the delivery channel registry and the webhook signature (HMAC-SHA256). */
#include "alert/deliver.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

const struct ds_deliverer *const ds_deliverers[] = {
    &ds_deliver_smtp, &ds_deliver_webhook, &ds_deliver_syslog, &ds_deliver_file, NULL,
};

const struct ds_deliverer *ds_deliverer_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; ds_deliverers[i]; i++)
        if (strcmp(ds_deliverers[i]->name, name) == 0)
            return ds_deliverers[i];
    return NULL;
}

/*
 * HMAC-SHA256 keyed with the secret over "<t>.<body>", fed in pieces (no copy of the body).
 * Thread-safe: every call has its own MAC context. On an OpenSSL failure (out of memory) out
 * is left empty, which no receiver accepts.
 */
void ds_webhook_signature(const char *secret, int64_t t, const char *body, size_t len, char *out,
                          size_t cap)
{
    if (!out || cap == 0)
        return;
    out[0] = '\0';
    if (!secret)
        secret = "";
    char ts[32];
    int tl = snprintf(ts, sizeof ts, "%" PRId64 ".", t);
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    EVP_MAC *alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = alg ? EVP_MAC_CTX_new(alg) : NULL;
    if (!ctx)
        goto out;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (!EVP_MAC_init(ctx, (const unsigned char *)secret, strlen(secret), params) ||
        !EVP_MAC_update(ctx, (const unsigned char *)ts, (size_t)tl) ||
        (len > 0 && !EVP_MAC_update(ctx, (const unsigned char *)body, len)) ||
        !EVP_MAC_final(ctx, mac, &mac_len, sizeof mac))
        goto out;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    for (size_t i = 0; i < mac_len; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    hex[2 * mac_len] = '\0';
    snprintf(out, cap, "t=%" PRId64 ",v1=%s", t, hex);
out:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(alg);
}
