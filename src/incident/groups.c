/* groups.c - host groups: exact behaviour keys first, then keys merged when they share the
 * protocols, the fingerprints and the payload class and their port sets overlap (Jaccard
 * >= 1/2). */
#include "incident/groups.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/timefmt.h"

int ds_groups_init(struct ds_groups *g, int nshards, size_t cap_per_shard)
{
    memset(g, 0, sizeof *g);
    g->nshards = nshards;
    g->cap = cap_per_shard;
    g->list = calloc((size_t)nshards, sizeof *g->list);
    g->n = calloc((size_t)nshards, sizeof *g->n);
    if (!g->list || !g->n) {
        free(g->list);
        free(g->n);
        return -ENOMEM;
    }
    pthread_mutex_init(&g->mu, NULL);
    return 0;
}

void ds_groups_free(struct ds_groups *g)
{
    if (!g->list)
        return;
    for (int i = 0; i < g->nshards; i++)
        free(g->list[i]);
    free(g->list);
    free(g->n);
    pthread_mutex_destroy(&g->mu);
    g->list = NULL;
}

static int by_packets(const void *a, const void *b)
{
    const struct ds_group_host *x = a, *y = b;
    if (x->packets != y->packets)
        return x->packets > y->packets ? -1 : 1;
    return memcmp(x->addr.b, y->addr.b, 16);
}

int ds_group_list_add(struct ds_group_list *l, const struct ds_host *h, size_t cap)
{
    if (l->n == l->cap) {
        if (l->n >= 2 * cap && cap) { /* keep the busiest cap, make room again */
            qsort(l->v, l->n, sizeof *l->v, by_packets);
            l->n = cap;
        } else {
            size_t nc = l->cap ? l->cap * 2 : 256;
            struct ds_group_host *nv = realloc(l->v, nc * sizeof *nv);
            if (!nv)
                return -ENOMEM;
            l->v = nv;
            l->cap = nc;
        }
    }
    struct ds_group_host *x = &l->v[l->n++];
    x->addr = h->addr;
    ds_host_behaviour_key(h, x->key, sizeof x->key);
    ds_country_code(h->country, x->cc);
    x->packets = h->packets;
    x->last_ns = h->last_ns;
    return 0;
}

int ds_groups_publish(struct ds_groups *g, int shard, const struct ds_group_host *h, size_t n,
                      uint64_t now_ns)
{
    struct ds_group_host *copy = NULL;
    if (n) {
        if (!(copy = malloc(n * sizeof *copy)))
            return -ENOMEM;
        memcpy(copy, h, n * sizeof *copy);
        qsort(copy, n, sizeof *copy, by_packets);
        if (n > g->cap)
            n = g->cap;
    }
    pthread_mutex_lock(&g->mu);
    free(g->list[shard]);
    g->list[shard] = copy;
    g->n[shard] = n;
    if (now_ns > g->at_ns)
        g->at_ns = now_ns;
    g->publications++;
    pthread_mutex_unlock(&g->mu);
    return 0;
}

/* ------------------------------------------------------------------ the grouping --------- */

/* One behaviour key and its hosts (indexes into the snapshot). */
struct kgroup {
    const char *key;
    size_t first, n; /* a run of the snapshot sorted by key */
    uint64_t packets;
    int parent; /* union-find */
};

static int by_key(const void *a, const void *b)
{
    const struct ds_group_host *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : by_packets(a, b);
}

/* The key's fields: protocols | ports | fingerprints | ttl | layout | payload. */
static void field(const char *key, int i, char *out, size_t cap)
{
    const char *p = key;
    for (int k = 0; k < i && p; k++)
        p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL;
    size_t n = 0;
    while (p && p[n] && p[n] != '|')
        n++;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, p ? p : "", n);
    out[n] = 0;
}

/* Jaccard >= 1/2 of two comma-separated port fields ("23,2323", "ports<=10" is one token). */
static bool ports_close(const char *a, const char *b)
{
    char ta[2][24] = {{0}}, tb[2][24] = {{0}};
    int na = 0, nb = 0;
    for (const char *p = a; *p && na < 2; na++) {
        size_t l = strcspn(p, ",");
        snprintf(ta[na], sizeof ta[na], "%.*s", (int)l, p);
        p += l + (p[l] == ',');
    }
    for (const char *p = b; *p && nb < 2; nb++) {
        size_t l = strcspn(p, ",");
        snprintf(tb[nb], sizeof tb[nb], "%.*s", (int)l, p);
        p += l + (p[l] == ',');
    }
    int common = 0;
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++)
            common += !strcmp(ta[i], tb[j]);
    int uni = na + nb - common;
    return uni > 0 && 2 * common >= uni;
}

static bool similar(const char *a, const char *b)
{
    char fa[40], fb[40];
    static const int same[] = {0, 2, 5}; /* protocols, fingerprints, payload class */
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        field(a, same[i], fa, sizeof fa);
        field(b, same[i], fb, sizeof fb);
        if (strcmp(fa, fb))
            return false;
    }
    field(a, 1, fa, sizeof fa);
    field(b, 1, fb, sizeof fb);
    if (!strcmp(fa, "-") || !strcmp(fb, "-"))
        return !strcmp(fa, fb);
    return ports_close(fa, fb);
}

static int root(struct kgroup *k, int i)
{
    while (k[i].parent != i)
        i = k[i].parent = k[k[i].parent].parent;
    return i;
}

struct outg {
    int root;
    size_t size;
    uint64_t packets;
};

static int by_size(const void *a, const void *b)
{
    const struct outg *x = a, *y = b;
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    return x->root - y->root;
}

json_t *ds_groups_json(struct ds_groups *g, size_t max_hosts,
                       bool (*keep)(void *ctx, const struct ds_addr *a), void *ctx)
{
    /* a snapshot of the visible hosts */
    pthread_mutex_lock(&g->mu);
    size_t total = 0;
    for (int s = 0; s < g->nshards; s++)
        total += g->n[s];
    struct ds_group_host *v = malloc((total ? total : 1) * sizeof *v);
    size_t n = 0;
    if (v)
        for (int s = 0; s < g->nshards; s++)
            for (size_t i = 0; i < g->n[s]; i++)
                if (!keep || keep(ctx, &g->list[s][i].addr))
                    v[n++] = g->list[s][i];
    uint64_t at = g->at_ns;
    pthread_mutex_unlock(&g->mu);
    if (!v)
        return NULL;
    qsort(v, n, sizeof *v, by_key);
    struct kgroup *k = malloc((n ? n : 1) * sizeof *k);
    if (!k) {
        free(v);
        return NULL;
    }
    int nk = 0;
    for (size_t i = 0; i < n; i++) {
        if (!nk || strcmp(k[nk - 1].key, v[i].key)) {
            k[nk] = (struct kgroup){.key = v[i].key, .first = i, .parent = nk};
            nk++;
        }
        k[nk - 1].n++;
        k[nk - 1].packets += v[i].packets;
    }
    /* similar keys join (quadratic in distinct keys, which are few beside hosts) */
    for (int i = 0; i < nk; i++)
        for (int j = i + 1; j < nk; j++)
            if (root(k, i) != root(k, j) && similar(k[i].key, k[j].key))
                k[root(k, j)].parent = root(k, i);
    struct outg *og = calloc((size_t)(nk ? nk : 1), sizeof *og);
    int ng = 0;
    int *slot = malloc((size_t)(nk ? nk : 1) * sizeof *slot);
    json_t *groups = json_array();
    if (og && slot) {
        for (int i = 0; i < nk; i++)
            slot[i] = -1;
        for (int i = 0; i < nk; i++) {
            int r = root(k, i);
            if (slot[r] < 0) {
                slot[r] = ng;
                og[ng++] = (struct outg){.root = r};
            }
            og[slot[r]].size += k[i].n;
            og[slot[r]].packets += k[i].packets;
        }
        qsort(og, (size_t)ng, sizeof *og, by_size);
        for (int gi = 0; gi < ng; gi++) {
            /* the group's keys, its largest first; its hosts, busiest first */
            json_t *keys = json_array(), *hosts = json_array();
            int best = -1;
            for (int i = 0; i < nk; i++)
                if (root(k, i) == og[gi].root && (best < 0 || k[i].n > k[best].n))
                    best = i;
            for (int i = 0; i < nk; i++)
                if (root(k, i) == og[gi].root)
                    json_array_append_new(keys, json_string(k[i].key));
            size_t shown = 0;
            for (int i = 0; i < nk && shown < max_hosts; i++) {
                if (root(k, i) != og[gi].root)
                    continue;
                for (size_t m = 0; m < k[i].n && shown < max_hosts; m++, shown++) {
                    const struct ds_group_host *x = &v[k[i].first + m];
                    char a[DS_ADDR_STRLEN];
                    json_array_append_new(hosts, json_pack("{s:s, s:s, s:s, s:I}", "address",
                                                           ds_addr_format(&x->addr, a), "key",
                                                           x->key, "country", x->cc, "packets",
                                                           (json_int_t)x->packets));
                }
            }
            /* a stable id: FNV-1a of the group's main key */
            uint64_t hsh = 14695981039346656037ULL;
            for (const char *c = k[best].key; *c; c++)
                hsh = (hsh ^ (uint8_t)*c) * 1099511628211ULL;
            char id[24];
            snprintf(id, sizeof id, "g%016llx", (unsigned long long)hsh);
            json_array_append_new(groups, json_pack("{s:s, s:s, s:o, s:I, s:I, s:o}", "id", id,
                                                    "key", k[best].key, "keys", keys, "size",
                                                    (json_int_t)og[gi].size, "packets",
                                                    (json_int_t)og[gi].packets, "hosts", hosts));
        }
    }
    char t[40];
    json_t *out =
        json_pack("{s:s?, s:I, s:I, s:o}", "at", at ? ds_time_format_ns(at, t, sizeof t) : NULL,
                  "hosts", (json_int_t)n, "groups_total", (json_int_t)ng, "groups", groups);
    free(og);
    free(slot);
    free(k);
    free(v);
    return out;
}
