/* regwatch.c - the daemon's current registry snapshot, reloaded on change, swapped without a
 * lock, old snapshots freed after a grace time. */
#include "daemon/regwatch.h"

#include <stdlib.h>
#include <time.h>

#include "core/log.h"

struct ds_regwatch_old {
    struct ds_registry *r;
    int64_t retired_ms;
};

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int load(struct ds_regwatch *w, struct ds_err *err)
{
    int64_t v;
    struct ds_registry *r;
    int rc = ds_registry_version(w->store, &v, err); /* before the load: a change made in
                                                       between is seen at the next poll */
    if (rc < 0 || (rc = ds_registry_load(w->store, &r, err)) < 0)
        return rc;
    if (w->n_old == w->cap_old) {
        size_t nc = w->cap_old ? w->cap_old * 2 : 8;
        struct ds_regwatch_old *n = realloc(w->old, nc * sizeof *n);
        if (!n) {
            ds_registry_free(r);
            return ds_err_set(err, -ENOMEM, "out of memory reloading the registry");
        }
        w->old = n;
        w->cap_old = nc;
    }
    const struct ds_registry *prev = atomic_exchange_explicit(&w->cur, r, memory_order_acq_rel);
    if (prev)
        w->old[w->n_old++] =
            (struct ds_regwatch_old){.r = (struct ds_registry *)prev, .retired_ms = mono_ms()};
    w->version = v;
    atomic_fetch_add(&w->stats.reloads, 1);
    atomic_store(&w->stats.orgs, r->n_orgs);
    atomic_store(&w->stats.ranges, r->n_ranges);
    ds_info("registry", "registry loaded: %zu organisations, %zu ranges (version %lld)", r->n_orgs,
            r->n_ranges, (long long)v);
    return 1;
}

int ds_regwatch_open(struct ds_regwatch **out, const char *db, struct ds_err *err)
{
    *out = NULL;
    struct ds_regwatch *w = calloc(1, sizeof *w);
    if (!w)
        return ds_err_set(err, -ENOMEM, "out of memory");
    int rc = ds_store_open(&w->store, db, false, err);
    if (rc >= 0)
        rc = load(w, err);
    if (rc < 0) {
        ds_regwatch_close(w);
        return rc;
    }
    *out = w;
    return 0;
}

int ds_regwatch_poll(struct ds_regwatch *w, bool force, struct ds_err *err)
{
    int64_t now = mono_ms();
    size_t keep = 0;
    for (size_t i = 0; i < w->n_old; i++) {
        if (now - w->old[i].retired_ms >= DS_REGWATCH_GRACE_MS)
            ds_registry_free(w->old[i].r);
        else
            w->old[keep++] = w->old[i];
    }
    w->n_old = keep;
    int64_t v;
    int rc = ds_registry_version(w->store, &v, err);
    if (rc == 0 && (force || v != w->version))
        rc = load(w, err);
    if (rc < 0)
        atomic_fetch_add(&w->stats.errors, 1);
    return rc;
}

void ds_regwatch_close(struct ds_regwatch *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_old; i++)
        ds_registry_free(w->old[i].r);
    free(w->old);
    ds_registry_free((struct ds_registry *)atomic_load(&w->cur));
    ds_store_close(w->store);
    free(w);
}
