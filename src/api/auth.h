/* auth.h - accounts of the workbench and the API: users with roles (admin, analyst, and
 * organisation users bound to one organisation), scrypt password hashes, API tokens, login
 * sessions with CSRF tokens, and the login rate limit. */
#ifndef DS_AUTH_H
#define DS_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

enum ds_role { DS_ROLE_ADMIN, DS_ROLE_ANALYST, DS_ROLE_ORG, DS_ROLE_COUNT };
extern const char *const ds_role_names[DS_ROLE_COUNT]; /* "admin", "analyst", "org" */
int ds_role_parse(const char *s);                      /* index, or -1 */

/* Who is asking. org_id is set (> 0) exactly for DS_ROLE_ORG. */
struct ds_principal {
    int64_t user_id;
    char name[128];
    enum ds_role role;
    int64_t org_id;
    bool via_session; /* a browser session (state changes need the CSRF token) */
    char csrf[65];    /* the session's CSRF token */
};

#define DS_TOKEN_HEX 64 /* API tokens and session ids: 32 random bytes as hex */

/* Password hashing (scrypt, N=2^15 r=8 p=1, 16-byte salt): "scrypt$N$r$p$SALT$HASH" (hex). */
int ds_password_hash(const char *password, char *out, size_t cap, struct ds_err *err);
bool ds_password_verify(const char *password, const char *stored);

/* Random hex token of DS_TOKEN_HEX characters (+ NUL) from the OS generator. */
int ds_token_new(char out[DS_TOKEN_HEX + 1], struct ds_err *err);

/*
 * A new user. org (by name) is required for the org role and refused for the others;
 * password may be NULL (token-only account). Writes an API token for it into token (the only
 * time it is visible: only its hash is stored). Audited as `who`.
 */
int ds_user_add(struct ds_store *s, const char *name, enum ds_role role, const char *org,
                const char *password, const char *who, int64_t *id, char token[DS_TOKEN_HEX + 1],
                struct ds_err *err);
int ds_user_remove(struct ds_store *s, const char *name, const char *who, struct ds_err *err);
int ds_user_set_password(struct ds_store *s, const char *name, const char *password,
                         const char *who, struct ds_err *err);
/* Another API token for an existing user. */
int ds_user_token(struct ds_store *s, const char *name, const char *label, const char *who,
                  char token[DS_TOKEN_HEX + 1], struct ds_err *err);

/* Resolves an API token: 1 found (p filled), 0 unknown or disabled, <0 store error. */
int ds_auth_token(struct ds_store *s, const char *token, struct ds_principal *p,
                  struct ds_err *err);
/* Checks name and password: 1 and p filled, 0 wrong (no detail: which part was wrong is not
 * said), <0 store error. */
int ds_auth_password(struct ds_store *s, const char *name, const char *password,
                     struct ds_principal *p, struct ds_err *err);

/* Sessions: a new one for p (id and CSRF token out; lives ttl_s), looked up by id, ended. */
int ds_session_new(struct ds_store *s, struct ds_principal *p, int64_t ttl_s,
                   char id[DS_TOKEN_HEX + 1], struct ds_err *err);
int ds_session_get(struct ds_store *s, const char *id, struct ds_principal *p, struct ds_err *err);
int ds_session_end(struct ds_store *s, const char *id, struct ds_err *err);

/* Appends an audit row (who, what, object, detail JSON text). */
int ds_audit(struct ds_store *s, const char *who, const char *what, const char *object,
             const char *detail_json, struct ds_err *err);

/*
 * Login rate limit: at most DS_LOGIN_MAX_FAILURES failed attempts per client address and per
 * user name in DS_LOGIN_WINDOW_S seconds. Thread-safe; in memory (a restart forgets).
 */
#define DS_LOGIN_MAX_FAILURES 5
#define DS_LOGIN_WINDOW_S 60
struct ds_ratelimit;
struct ds_ratelimit *ds_ratelimit_new(void);
void ds_ratelimit_free(struct ds_ratelimit *r);
/* 0 when allowed, else the seconds to wait. */
int ds_ratelimit_check(struct ds_ratelimit *r, const char *client, const char *name);
void ds_ratelimit_fail(struct ds_ratelimit *r, const char *client, const char *name);
void ds_ratelimit_ok(struct ds_ratelimit *r, const char *client, const char *name);

#endif
