/* auth.c - accounts: scrypt password hashes (libcrypto), API tokens and sessions stored as
 * SHA-256 hashes, audit rows, and the in-memory login rate limit. */
#include "api/auth.h"

#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const ds_role_names[DS_ROLE_COUNT] = {
    [DS_ROLE_ADMIN] = "admin", [DS_ROLE_ANALYST] = "analyst", [DS_ROLE_ORG] = "org"};

#define SCRYPT_N 32768u
#define SCRYPT_R 8u
#define SCRYPT_P 1u
#define SALT_LEN 16
#define HASH_LEN 32

int ds_role_parse(const char *s)
{
    for (int i = 0; s && i < DS_ROLE_COUNT; i++)
        if (!strcmp(s, ds_role_names[i]))
            return i;
    return -1;
}

static void hex(const unsigned char *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = 0;
}

static int unhex(const char *s, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = s[2 * i + (size_t)k];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= (unsigned)(c - 'a' + 10);
            else
                return -1;
        }
        out[i] = (unsigned char)v;
    }
    return s[2 * n] == 0 || s[2 * n] == '$' ? 0 : -1;
}

static int scrypt(const char *pw, const unsigned char *salt, uint64_t n, uint64_t r, uint64_t p,
                  unsigned char *out)
{
    return EVP_PBE_scrypt(pw, strlen(pw), salt, SALT_LEN, n, r, p, 64u << 20, out, HASH_LEN) == 1
               ? 0
               : -1;
}

int ds_password_hash(const char *password, char *out, size_t cap, struct ds_err *err)
{
    unsigned char salt[SALT_LEN], h[HASH_LEN];
    char sh[2 * SALT_LEN + 1], hh[2 * HASH_LEN + 1];
    if (!password || !*password)
        return ds_err_set(err, -EINVAL, "the password is empty");
    if (strlen(password) > 1024)
        return ds_err_set(err, -EINVAL, "the password is longer than 1024 bytes");
    if (RAND_bytes(salt, sizeof salt) != 1)
        return ds_err_set(err, -EIO, "no random bytes from libcrypto");
    if (scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, h) < 0)
        return ds_err_set(err, -ENOMEM, "scrypt failed (out of memory?)");
    hex(salt, sizeof salt, sh);
    hex(h, sizeof h, hh);
    int n = snprintf(out, cap, "scrypt$%u$%u$%u$%s$%s", SCRYPT_N, SCRYPT_R, SCRYPT_P, sh, hh);
    OPENSSL_cleanse(h, sizeof h);
    return n > 0 && (size_t)n < cap ? 0
                                    : ds_err_set(err, -ENOSPC, "password hash buffer too small");
}

bool ds_password_verify(const char *password, const char *stored)
{
    unsigned long long n, r, p;
    char salt_hex[2 * SALT_LEN + 1], hash_hex[2 * HASH_LEN + 1];
    unsigned char salt[SALT_LEN], want[HASH_LEN], got[HASH_LEN];
    if (!password || !stored ||
        sscanf(stored, "scrypt$%llu$%llu$%llu$%32[0-9a-f]$%64[0-9a-f]", &n, &r, &p, salt_hex,
               hash_hex) != 5)
        return false;
    if (n < 2 || n > (1u << 20) || r < 1 || r > 32 || p < 1 || p > 16 ||
        unhex(salt_hex, salt, SALT_LEN) < 0 || unhex(hash_hex, want, HASH_LEN) < 0)
        return false;
    if (strlen(password) > 1024 || scrypt(password, salt, n, r, p, got) < 0)
        return false;
    bool ok = CRYPTO_memcmp(got, want, HASH_LEN) == 0;
    OPENSSL_cleanse(got, sizeof got);
    return ok;
}

int ds_token_new(char out[DS_TOKEN_HEX + 1], struct ds_err *err)
{
    unsigned char b[DS_TOKEN_HEX / 2];
    if (RAND_bytes(b, sizeof b) != 1)
        return ds_err_set(err, -EIO, "no random bytes from libcrypto");
    hex(b, sizeof b, out);
    return 0;
}

/* What is stored for a token or session id: its SHA-256, as hex. */
static void token_hash(const char *token, char out[65])
{
    unsigned char d[32];
    unsigned int len = 0;
    EVP_Digest(token, strlen(token), d, &len, EVP_sha256(), NULL);
    hex(d, 32, out);
}

static void utc_now(char *buf, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int db_fail(sqlite3 *db, struct ds_err *err, const char *what)
{
    int code = sqlite3_errcode(db);
    return ds_err_set(err, code == SQLITE_FULL ? -ENOSPC : -EIO, "accounts: %s: %s", what,
                      sqlite3_errmsg(db));
}

int ds_audit(struct ds_store *s, const char *who, const char *what, const char *object,
             const char *detail_json, struct ds_err *err)
{
    sqlite3 *db = ds_store_db(s);
    sqlite3_stmt *st;
    char now[32];
    utc_now(now, sizeof now);
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO audit(at, who, what, object, detail) VALUES(?, ?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, "writing the audit log");
    sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, who ? who : "unknown", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, what, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, object, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, detail_json ? detail_json : "{}", -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(db, err, "writing the audit log");
    sqlite3_finalize(st);
    return rc;
}

static int exec(sqlite3 *db, const char *sql, struct ds_err *err)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : db_fail(db, err, sql);
}

static int insert_token(sqlite3 *db, int64_t user, const char *label, char token[DS_TOKEN_HEX + 1],
                        struct ds_err *err)
{
    char h[65], now[32];
    int rc = ds_token_new(token, err);
    if (rc < 0)
        return rc;
    token_hash(token, h);
    utc_now(now, sizeof now);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO api_token(hash, user, label, created) VALUES(?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, "storing a token");
    sqlite3_bind_text(st, 1, h, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, user);
    sqlite3_bind_text(st, 3, label ? label : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, now, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(db, err, "storing a token");
    sqlite3_finalize(st);
    return rc;
}

static bool name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 64)
        return false;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '-' || *c == '_' || *c == '@'))
            return false;
    return true;
}

int ds_user_add(struct ds_store *s, const char *name, enum ds_role role, const char *org,
                const char *password, const char *who, int64_t *id, char token[DS_TOKEN_HEX + 1],
                struct ds_err *err)
{
    sqlite3 *db = ds_store_db(s);
    sqlite3_stmt *st = NULL;
    char pw[256] = "";
    int rc = 0;
    if (!name_ok(name))
        return ds_err_set(err, -EINVAL, "user name '%s': use 1 to 64 letters, digits and . - _ @",
                          name ? name : "");
    if (role < 0 || role >= DS_ROLE_COUNT)
        return ds_err_set(err, -EINVAL, "unknown role");
    if ((role == DS_ROLE_ORG) != (org != NULL))
        return ds_err_set(err, -EINVAL,
                          role == DS_ROLE_ORG ? "user '%s': the org role needs --org ORGANISATION"
                                              : "user '%s': only the org role belongs to an "
                                                "organisation",
                          name);
    if (password && (rc = ds_password_hash(password, pw, sizeof pw, err)) < 0)
        return rc;
    if ((rc = exec(db, "BEGIN IMMEDIATE", err)) < 0)
        return rc;
    int64_t org_id = 0;
    if (org) {
        if (sqlite3_prepare_v2(db, "SELECT id FROM org WHERE name = ?", -1, &st, NULL) !=
            SQLITE_OK) {
            rc = db_fail(db, err, "looking up the organisation");
            goto out;
        }
        sqlite3_bind_text(st, 1, org, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            org_id = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        st = NULL;
        if (!org_id) {
            rc = ds_err_set(err, -ENOENT, "user '%s': no organisation named '%s'", name, org);
            goto out;
        }
    }
    char now[32];
    utc_now(now, sizeof now);
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO user(name, role, org, pw_hash, created) VALUES(?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(db, err, "adding the user");
        goto out;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ds_role_names[role], -1, SQLITE_STATIC);
    if (org_id)
        sqlite3_bind_int64(st, 3, org_id);
    else
        sqlite3_bind_null(st, 3);
    if (*pw)
        sqlite3_bind_text(st, 4, pw, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_text(st, 5, now, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_CONSTRAINT) {
        rc = ds_err_set(err, -EEXIST, "user '%s' already exists", name);
        goto out;
    }
    if (r != SQLITE_DONE) {
        rc = db_fail(db, err, "adding the user");
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    int64_t uid = sqlite3_last_insert_rowid(db);
    if ((rc = insert_token(db, uid, "created with the account", token, err)) < 0)
        goto out;
    char detail[256];
    snprintf(detail, sizeof detail, "{\"role\": \"%s\", \"org\": %" PRId64 ", \"password\": %s}",
             ds_role_names[role], org_id, *pw ? "true" : "false");
    if ((rc = ds_audit(s, who, "user.add", name, detail, err)) < 0)
        goto out;
    rc = exec(db, "COMMIT", err);
    if (rc == 0 && id)
        *id = uid;
out:
    sqlite3_finalize(st);
    if (rc < 0)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    OPENSSL_cleanse(pw, sizeof pw);
    return rc;
}

/* Runs one statement on a named user inside an audited transaction. */
static int user_change(struct ds_store *s, const char *sql, const char *name, const char *text,
                       const char *who, const char *what, struct ds_err *err)
{
    sqlite3 *db = ds_store_db(s);
    sqlite3_stmt *st;
    int rc = exec(db, "BEGIN IMMEDIATE", err);
    if (rc < 0)
        return rc;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(db, err, what);
        goto out;
    }
    int k = 1;
    if (text)
        sqlite3_bind_text(st, k++, text, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, k, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(db, err, what);
    sqlite3_finalize(st);
    if (rc == 0 && sqlite3_changes(db) == 0)
        rc = ds_err_set(err, -ENOENT, "no user named '%s'", name);
    if (rc == 0)
        rc = ds_audit(s, who, what, name, "{}", err);
    if (rc == 0)
        rc = exec(db, "COMMIT", err);
out:
    if (rc < 0)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int ds_user_remove(struct ds_store *s, const char *name, const char *who, struct ds_err *err)
{
    return user_change(s, "DELETE FROM user WHERE name = ?", name, NULL, who, "user.remove", err);
}

int ds_user_set_password(struct ds_store *s, const char *name, const char *password,
                         const char *who, struct ds_err *err)
{
    char pw[256];
    int rc = ds_password_hash(password, pw, sizeof pw, err);
    if (rc < 0)
        return rc;
    rc = user_change(s, "UPDATE user SET pw_hash = ? WHERE name = ?", name, pw, who,
                     "user.password", err);
    OPENSSL_cleanse(pw, sizeof pw);
    if (rc == 0) /* a new password ends every session of the account */
        user_change(s, "DELETE FROM session WHERE user = (SELECT id FROM user WHERE name = ?)",
                    name, NULL, who, "user.sessions_ended", NULL);
    return rc;
}

int ds_user_token(struct ds_store *s, const char *name, const char *label, const char *who,
                  char token[DS_TOKEN_HEX + 1], struct ds_err *err)
{
    sqlite3 *db = ds_store_db(s);
    sqlite3_stmt *st;
    int rc = exec(db, "BEGIN IMMEDIATE", err);
    if (rc < 0)
        return rc;
    int64_t uid = 0;
    if (sqlite3_prepare_v2(db, "SELECT id FROM user WHERE name = ?", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            uid = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    if (!uid)
        rc = ds_err_set(err, -ENOENT, "no user named '%s'", name);
    if (rc == 0)
        rc = insert_token(db, uid, label, token, err);
    if (rc == 0)
        rc = ds_audit(s, who, "user.token", name, "{}", err);
    if (rc == 0)
        rc = exec(db, "COMMIT", err);
    if (rc < 0)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Fills p from a user row selected as (id, name, role, org). */
static void fill(struct ds_principal *p, sqlite3_stmt *st)
{
    memset(p, 0, sizeof *p);
    p->user_id = sqlite3_column_int64(st, 0);
    snprintf(p->name, sizeof p->name, "%s", (const char *)sqlite3_column_text(st, 1));
    int r = ds_role_parse((const char *)sqlite3_column_text(st, 2));
    p->role = r < 0 ? DS_ROLE_ORG : (enum ds_role)r;
    p->org_id = sqlite3_column_int64(st, 3);
    if (p->role == DS_ROLE_ORG && p->org_id <= 0)
        p->org_id = -1; /* never matches an organisation */
}

int ds_auth_token(struct ds_store *s, const char *token, struct ds_principal *p, struct ds_err *err)
{
    if (!token || strlen(token) != DS_TOKEN_HEX)
        return 0;
    sqlite3 *db = ds_store_db(s);
    char h[65];
    token_hash(token, h);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT u.id, u.name, u.role, IFNULL(u.org, 0) FROM api_token t"
                           " JOIN user u ON u.id = t.user WHERE t.hash = ? AND u.disabled = 0",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, "checking a token");
    sqlite3_bind_text(st, 1, h, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    int rc = r == SQLITE_ROW ? 1 : r == SQLITE_DONE ? 0 : db_fail(db, err, "checking a token");
    if (rc == 1)
        fill(p, st);
    sqlite3_finalize(st);
    return rc;
}

int ds_auth_password(struct ds_store *s, const char *name, const char *password,
                     struct ds_principal *p, struct ds_err *err)
{
    sqlite3 *db = ds_store_db(s);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT id, name, role, IFNULL(org, 0), pw_hash FROM user"
                           " WHERE name = ? AND disabled = 0",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, "checking a password");
    sqlite3_bind_text(st, 1, name ? name : "", -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    int rc = 0;
    if (r == SQLITE_ROW) {
        const char *stored = (const char *)sqlite3_column_text(st, 4);
        if (ds_password_verify(password, stored)) {
            fill(p, st);
            rc = 1;
        }
    } else if (r == SQLITE_DONE) {
        /* the same work as a real check, so timing does not tell which names exist */
        ds_password_verify(password ? password : "",
                           "scrypt$32768$8$1$00000000000000000000000000000000$"
                           "0000000000000000000000000000000000000000000000000000000000000000");
    } else {
        rc = db_fail(db, err, "checking a password");
    }
    sqlite3_finalize(st);
    return rc;
}

int ds_session_new(struct ds_store *s, struct ds_principal *p, int64_t ttl_s,
                   char id[DS_TOKEN_HEX + 1], struct ds_err *err)
{
    sqlite3 *db = ds_store_db(s);
    char h[65];
    int rc = ds_token_new(id, err);
    if (rc < 0 || (rc = ds_token_new(p->csrf, err)) < 0)
        return rc;
    token_hash(id, h);
    int64_t now = (int64_t)time(NULL);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO session(hash, user, csrf, created_s, expires_s)"
                           " VALUES(?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, "starting a session");
    sqlite3_bind_text(st, 1, h, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, p->user_id);
    sqlite3_bind_text(st, 3, p->csrf, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int64(st, 5, now + ttl_s);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(db, err, "starting a session");
    sqlite3_finalize(st);
    /* expired sessions go whenever a new one starts */
    if (rc == 0 && sqlite3_prepare_v2(db, "DELETE FROM session WHERE expires_s < ?", -1, &st,
                                      NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_step(st);
        sqlite3_finalize(st);
    }
    p->via_session = true;
    return rc;
}

int ds_session_get(struct ds_store *s, const char *id, struct ds_principal *p, struct ds_err *err)
{
    if (!id || strlen(id) != DS_TOKEN_HEX)
        return 0;
    sqlite3 *db = ds_store_db(s);
    char h[65];
    token_hash(id, h);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT u.id, u.name, u.role, IFNULL(u.org, 0), s.csrf FROM session s"
                           " JOIN user u ON u.id = s.user"
                           " WHERE s.hash = ? AND s.expires_s >= ? AND u.disabled = 0",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, "checking a session");
    sqlite3_bind_text(st, 1, h, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)time(NULL));
    int r = sqlite3_step(st);
    int rc = r == SQLITE_ROW ? 1 : r == SQLITE_DONE ? 0 : db_fail(db, err, "checking a session");
    if (rc == 1) {
        fill(p, st);
        snprintf(p->csrf, sizeof p->csrf, "%s", (const char *)sqlite3_column_text(st, 4));
        p->via_session = true;
    }
    sqlite3_finalize(st);
    return rc;
}

int ds_session_end(struct ds_store *s, const char *id, struct ds_err *err)
{
    if (!id || strlen(id) != DS_TOKEN_HEX)
        return 0;
    sqlite3 *db = ds_store_db(s);
    char h[65];
    token_hash(id, h);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "DELETE FROM session WHERE hash = ?", -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, "ending a session");
    sqlite3_bind_text(st, 1, h, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(db, err, "ending a session");
    sqlite3_finalize(st);
    return rc;
}

/* ---------------------------------------------------------------- the rate limit ---------- */

#define RL_SLOTS 1024

struct rl_ent {
    char key[160];
    int64_t window_start;
    int failures;
};

struct ds_ratelimit {
    pthread_mutex_t mu;
    struct rl_ent ent[RL_SLOTS];
};

struct ds_ratelimit *ds_ratelimit_new(void)
{
    struct ds_ratelimit *r = calloc(1, sizeof *r);
    if (r)
        pthread_mutex_init(&r->mu, NULL);
    return r;
}

void ds_ratelimit_free(struct ds_ratelimit *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* The slot of key (FNV-1a). A slot still counting another key's failures is shared, never
 * taken over: a collision makes two keys share a budget, it cannot reset one. *own tells
 * whether the slot is key's own. */
static struct rl_ent *slot(struct ds_ratelimit *r, const char *kind, const char *key, int64_t now,
                           bool *own)
{
    char k[160];
    snprintf(k, sizeof k, "%s:%s", kind, key ? key : "");
    uint64_t h = 14695981039346656037ULL;
    for (const char *c = k; *c; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211ULL;
    struct rl_ent *e = &r->ent[h % RL_SLOTS];
    *own = strcmp(e->key, k) == 0;
    if (!*own && (e->failures == 0 || now - e->window_start >= DS_LOGIN_WINDOW_S)) {
        snprintf(e->key, sizeof e->key, "%s", k);
        e->failures = 0;
        e->window_start = 0;
        *own = true;
    }
    return e;
}

static int wait_of(struct rl_ent *e, int64_t now)
{
    if (now - e->window_start >= DS_LOGIN_WINDOW_S) {
        e->window_start = now;
        e->failures = 0;
    }
    return e->failures >= DS_LOGIN_MAX_FAILURES ? (int)(e->window_start + DS_LOGIN_WINDOW_S - now)
                                                : 0;
}

int ds_ratelimit_check(struct ds_ratelimit *r, const char *client, const char *name)
{
    int64_t now = (int64_t)time(NULL);
    pthread_mutex_lock(&r->mu);
    bool own;
    int a = wait_of(slot(r, "ip", client, now, &own), now);
    int b = wait_of(slot(r, "user", name, now, &own), now);
    pthread_mutex_unlock(&r->mu);
    int w = a > b ? a : b;
    return w > 0 ? w : 0;
}

void ds_ratelimit_fail(struct ds_ratelimit *r, const char *client, const char *name)
{
    int64_t now = (int64_t)time(NULL);
    pthread_mutex_lock(&r->mu);
    bool own;
    struct rl_ent *e = slot(r, "ip", client, now, &own);
    wait_of(e, now);
    e->failures++;
    e = slot(r, "user", name, now, &own);
    wait_of(e, now);
    e->failures++;
    pthread_mutex_unlock(&r->mu);
}

void ds_ratelimit_ok(struct ds_ratelimit *r, const char *client, const char *name)
{
    (void)client; /* the address's budget is not given back by one good login */
    pthread_mutex_lock(&r->mu);
    bool own;
    struct rl_ent *e = slot(r, "user", name, (int64_t)time(NULL), &own);
    if (own) /* a shared slot's failures are not this name's to forgive */
        e->failures = 0;
    pthread_mutex_unlock(&r->mu);
}
