/* store.c - the SQLite store: interval statistics, day sketches, host profiles and the
 * ingest log, with versioned migrations (schema: docs/store.md). */
#include "store/store.h"

#include <fcntl.h>
#include <jansson.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "analyze/hll.h"
#include "core/hash.h"
#include "store/busy.h"
#include "core/log.h"
#include "core/timefmt.h"

#define APP_ID 0x44534b31     /* "DSK1": marks a darkscope store */
#define TOP_5M 64             /* rows kept per ranked dimension of a 5-minute interval */
#define TOP_1H 512            /* ... of an hour (a day keeps every key) */
#define OTHER_KEY 0xffffffffu /* the key of the row that sums the keys not kept */

/*
 * Schema migrations: MIGRATIONS[v] takes a store from version v to v + 1.
 *
 * An ingest writes into the *_stage tables (its own rows, keyed by ingest, replaced freely);
 * when it finishes, one transaction adds them into the shared tables (with the month and year
 * roll-ups) and deletes them. An ingest that never finishes leaves only stage rows, which the
 * next ingest of the same files deletes: the shared tables never see half an ingest.
 */
static const char *const MIGRATIONS[] = {
    /* 0 -> 1 */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE ingest("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT," /* never reused: a replaced ingest keeps its id */
    "  started TEXT NOT NULL, finished TEXT, status TEXT NOT NULL,"
    "  darknet TEXT NOT NULL, monitored INTEGER NOT NULL, threads INTEGER NOT NULL,"
    "  first_ns INTEGER, last_ns INTEGER, packets INTEGER, darknet_packets INTEGER,"
    "  sources INTEGER, summary TEXT);"
    "CREATE TABLE ingest_file("
    "  ingest INTEGER NOT NULL REFERENCES ingest(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL, identity TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL,"
    "  PRIMARY KEY(ingest, seq)) WITHOUT ROWID;"
    "CREATE INDEX ingest_file_identity ON ingest_file(identity);"
    "CREATE TABLE stat("
    "  gran INTEGER NOT NULL, start INTEGER NOT NULL, dim INTEGER NOT NULL, key INTEGER NOT NULL,"
    "  packets INTEGER NOT NULL, bytes INTEGER NOT NULL, sources INTEGER NOT NULL,"
    "  r_packets INTEGER NOT NULL, r_bytes INTEGER NOT NULL, r_sources INTEGER NOT NULL,"
    "  ingests INTEGER NOT NULL,"
    "  PRIMARY KEY(gran, start, dim, key)) WITHOUT ROWID;"
    /* rankings over days, months and years (shorter intervals keep few rows per dimension) */
    "CREATE INDEX stat_rank ON stat(gran, dim, start, packets) WHERE gran >= 2;"
    "CREATE TABLE stat_stage("
    "  ingest INTEGER NOT NULL, gran INTEGER NOT NULL, start INTEGER NOT NULL,"
    "  dim INTEGER NOT NULL, key INTEGER NOT NULL,"
    "  packets INTEGER NOT NULL, bytes INTEGER NOT NULL, sources INTEGER NOT NULL,"
    "  r_packets INTEGER NOT NULL, r_bytes INTEGER NOT NULL, r_sources INTEGER NOT NULL,"
    "  PRIMARY KEY(ingest, gran, start, dim, key)) WITHOUT ROWID;"
    "CREATE TABLE coverage("
    "  start INTEGER NOT NULL, darknet INTEGER NOT NULL, monitored INTEGER NOT NULL,"
    "  PRIMARY KEY(start, darknet)) WITHOUT ROWID;"
    "CREATE TABLE coverage_stage("
    "  ingest INTEGER NOT NULL, start INTEGER NOT NULL, darknet INTEGER NOT NULL,"
    "  monitored INTEGER NOT NULL, PRIMARY KEY(ingest, start, darknet)) WITHOUT ROWID;"
    "CREATE TABLE sketch("
    "  gran INTEGER NOT NULL, start INTEGER NOT NULL, dim INTEGER NOT NULL, key INTEGER NOT NULL,"
    "  nonresearch BLOB NOT NULL, research BLOB NOT NULL,"
    "  PRIMARY KEY(gran, start, dim, key)) WITHOUT ROWID;"
    "CREATE TABLE sketch_stage("
    "  ingest INTEGER NOT NULL, start INTEGER NOT NULL, dim INTEGER NOT NULL,"
    "  key INTEGER NOT NULL, nonresearch BLOB NOT NULL, research BLOB NOT NULL,"
    "  PRIMARY KEY(ingest, start, dim, key)) WITHOUT ROWID;"
    "CREATE TABLE host("
    "  id INTEGER PRIMARY KEY, ingest INTEGER NOT NULL, day INTEGER NOT NULL,"
    "  addr TEXT NOT NULL, addrkey INTEGER NOT NULL, first_ns INTEGER NOT NULL,"
    "  last_ns INTEGER NOT NULL,"
    "  packets INTEGER NOT NULL, bytes INTEGER NOT NULL, protos INTEGER NOT NULL,"
    "  tcp_syn INTEGER NOT NULL, backscatter INTEGER NOT NULL, icmp_request INTEGER NOT NULL,"
    "  udp INTEGER NOT NULL, amp_probe INTEGER NOT NULL, spoofed_hint INTEGER NOT NULL,"
    "  classes INTEGER NOT NULL,"
    "  mirai INTEGER NOT NULL, zmap INTEGER NOT NULL, masscan INTEGER NOT NULL,"
    "  nmap INTEGER NOT NULL, unicornscan INTEGER NOT NULL,"
    "  nports INTEGER NOT NULL, ports TEXT NOT NULL, dsts INTEGER NOT NULL,"
    "  dsts_exact INTEGER NOT NULL, scan TEXT NOT NULL, research TEXT,"
    "  country TEXT NOT NULL, asn INTEGER NOT NULL, ttl0 INTEGER NOT NULL,"
    "  ttl_changes INTEGER NOT NULL, win0 INTEGER NOT NULL, win_changes INTEGER NOT NULL,"
    "  behaviour TEXT NOT NULL);"
    "CREATE INDEX host_addrkey ON host(addrkey);"
    "CREATE INDEX host_day ON host(day);"
    "CREATE INDEX host_ingest ON host(ingest);"
    "CREATE TABLE host_top("
    "  day INTEGER NOT NULL, addr TEXT NOT NULL, packets INTEGER NOT NULL,"
    "  PRIMARY KEY(day, addr)) WITHOUT ROWID;"
    "CREATE TABLE host_top_stage("
    "  ingest INTEGER NOT NULL, day INTEGER NOT NULL, addr TEXT NOT NULL,"
    "  packets INTEGER NOT NULL, PRIMARY KEY(ingest, day, addr)) WITHOUT ROWID;",
    /* 1 -> 2: the DAEDALUS registry, alerts and the delivery outbox (docs/alerts.md) */
    "CREATE TABLE org("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,"
    "  lang TEXT NOT NULL DEFAULT 'en', channels TEXT NOT NULL DEFAULT 'smtp,webhook,syslog,file',"
    "  renotify_s INTEGER, group_wait_s INTEGER, group_interval_s INTEGER,"
    "  repeat_interval_s INTEGER, created TEXT NOT NULL);"
    "CREATE TABLE org_range("
    "  org INTEGER NOT NULL REFERENCES org(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL CHECK(kind IN ('livenet', 'darknet')), prefix TEXT NOT NULL,"
    "  PRIMARY KEY(org, kind, prefix)) WITHOUT ROWID;"
    "CREATE TABLE org_contact("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  org INTEGER NOT NULL REFERENCES org(id) ON DELETE CASCADE,"
    "  channel TEXT NOT NULL CHECK(channel IN ('smtp', 'webhook', 'syslog', 'file')),"
    "  address TEXT NOT NULL, secret TEXT, UNIQUE(org, channel, address));"
    "CREATE TABLE audit("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, who TEXT NOT NULL,"
    "  what TEXT NOT NULL, object TEXT NOT NULL, detail TEXT NOT NULL);"
    "CREATE TABLE alert("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  org INTEGER NOT NULL REFERENCES org(id) ON DELETE CASCADE,"
    "  addr TEXT NOT NULL, kase INTEGER NOT NULL, state INTEGER NOT NULL,"
    "  severity INTEGER NOT NULL, first_ns INTEGER NOT NULL, last_ns INTEGER NOT NULL,"
    "  packets INTEGER NOT NULL, bytes INTEGER NOT NULL, targets_bits INTEGER NOT NULL,"
    "  protos INTEGER NOT NULL, classes INTEGER NOT NULL, fps INTEGER NOT NULL,"
    "  scan_type TEXT NOT NULL, peak_ppm INTEGER NOT NULL, ports TEXT NOT NULL,"
    "  samples TEXT NOT NULL, family TEXT,"
    "  notified_ns INTEGER NOT NULL DEFAULT 0," /* packet time of its last own notification */
    "  notices INTEGER NOT NULL DEFAULT 0,"     /* notifications so far (message ids) */
    "  changed INTEGER NOT NULL DEFAULT 0,"     /* changed since the last notice or digest */
    "  json TEXT NOT NULL,"                     /* the alert as last formatted */
    "  workflow TEXT NOT NULL DEFAULT 'new', assignee TEXT, note TEXT,"
    "  UNIQUE(org, addr, kase));"
    "CREATE INDEX alert_state ON alert(state);"
    "CREATE TABLE outbox("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL,"
    "  key TEXT NOT NULL UNIQUE," /* idempotency: message id + contact */
    "  message_id TEXT NOT NULL, org INTEGER NOT NULL, contact INTEGER NOT NULL,"
    "  channel TEXT NOT NULL, address TEXT NOT NULL, secret TEXT,"
    "  subject TEXT NOT NULL, text TEXT NOT NULL, json TEXT NOT NULL, attachment TEXT NOT NULL,"
    "  severity INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'pending',"
    "  attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT, done TEXT);"
    "CREATE INDEX outbox_due ON outbox(state, next_ms);"
    "CREATE TABLE digest_state("
    "  org INTEGER PRIMARY KEY REFERENCES org(id) ON DELETE CASCADE,"
    "  pending_since_ns INTEGER, last_sent_ns INTEGER, seq INTEGER NOT NULL DEFAULT 0);",
    /* 2 -> 3: accounts of the workbench and the API, and what each ingest added to an alert
     * (so a replaced ingest's share can be taken out again) */
    "CREATE TABLE user("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,"
    "  role TEXT NOT NULL CHECK(role IN ('admin', 'analyst', 'org')),"
    "  org INTEGER REFERENCES org(id) ON DELETE CASCADE,"
    "  pw_hash TEXT, created TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,"
    "  CHECK((role = 'org') = (org IS NOT NULL)));"
    "CREATE TABLE api_token("
    "  hash TEXT PRIMARY KEY, user INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,"
    "  label TEXT NOT NULL, created TEXT NOT NULL, last_used TEXT) WITHOUT ROWID;"
    "CREATE TABLE session("
    "  hash TEXT PRIMARY KEY, user INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,"
    "  csrf TEXT NOT NULL, created_s INTEGER NOT NULL, expires_s INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE alert_contrib("
    "  alert INTEGER NOT NULL REFERENCES alert(id) ON DELETE CASCADE,"
    "  ingest INTEGER NOT NULL, packets INTEGER NOT NULL, bytes INTEGER NOT NULL,"
    "  PRIMARY KEY(alert, ingest)) WITHOUT ROWID;"
    /* time series of one key (the API's statistics): every granularity for the small
     * dimensions (total, proto, icmp, icmp6, class, fingerprint), days for the large ones
     * (5-minute and hour rows of those are few per interval: ranked and truncated) */
    "CREATE INDEX stat_series ON stat(gran, dim, key, start) WHERE dim IN (0, 1, 4, 5, 8, 9);"
    "CREATE INDEX stat_series_day ON stat(dim, key, start) WHERE gran = 2 AND dim IN (2, 3, 6, 7);"
    /* every change of an alert, in order: what live views (server-sent events) follow */
    "CREATE TABLE alert_event("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT, alert INTEGER NOT NULL, org INTEGER NOT NULL,"
    "  at_s INTEGER NOT NULL);"
    "CREATE TRIGGER alert_event_ins AFTER INSERT ON alert BEGIN"
    "  INSERT INTO alert_event(alert, org, at_s) VALUES(new.id, new.org,"
    "  CAST(strftime('%s', 'now') AS INTEGER)); END;"
    "CREATE TRIGGER alert_event_upd AFTER UPDATE OF state, packets, workflow, assignee, note"
    "  ON alert BEGIN"
    "  INSERT INTO alert_event(alert, org, at_s) VALUES(new.id, new.org,"
    "  CAST(strftime('%s', 'now') AS INTEGER)); END;",
    /* 3 -> 4: DoS attacks inferred from backscatter (RS-DoS), one row per attack vector;
     * the ingest that saw it (a failed ingest's attacks are removed with it) */
    "CREATE TABLE dos_attack("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, ingest INTEGER NOT NULL,"
    "  victim TEXT NOT NULL, protocol TEXT NOT NULL,"
    "  first_ns INTEGER NOT NULL, last_ns INTEGER NOT NULL,"
    "  packets INTEGER NOT NULL, bytes INTEGER NOT NULL, peak_ppm INTEGER NOT NULL,"
    "  ports TEXT NOT NULL, victim_ports INTEGER NOT NULL, darknet_addrs INTEGER NOT NULL,"
    "  attacker_ports INTEGER NOT NULL, est_rate_pps REAL NOT NULL,"
    "  country TEXT NOT NULL, asn INTEGER NOT NULL, late INTEGER NOT NULL);"
    "CREATE INDEX dos_attack_time ON dos_attack(first_ns);"
    "CREATE INDEX dos_attack_victim ON dos_attack(victim, first_ns);",
    /* 4 -> 5: reflector-hunting campaigns, one row per (amplifier port, source block) and
     * stretch of activity; the ingest that saw it */
    "CREATE TABLE amp_campaign("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, ingest INTEGER NOT NULL,"
    "  protocol TEXT NOT NULL, request TEXT NOT NULL, port INTEGER NOT NULL,"
    "  block TEXT NOT NULL, first_ns INTEGER NOT NULL, last_ns INTEGER NOT NULL,"
    "  packets INTEGER NOT NULL, bytes INTEGER NOT NULL, sources INTEGER NOT NULL,"
    "  top_sources TEXT NOT NULL, darknet_addrs INTEGER NOT NULL, coverage REAL NOT NULL,"
    "  research_packets INTEGER NOT NULL);"
    "CREATE INDEX amp_campaign_time ON amp_campaign(first_ns);",
    /* 5 -> 6: outbreak candidates (change points of 5-minute series) */
    "CREATE TABLE outbreak("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, ingest INTEGER NOT NULL,"
    "  dim TEXT NOT NULL, key INTEGER NOT NULL, name TEXT NOT NULL, start INTEGER NOT NULL,"
    "  value INTEGER NOT NULL, packets INTEGER NOT NULL, baseline REAL NOT NULL,"
    "  score REAL NOT NULL);"
    "CREATE INDEX outbreak_time ON outbreak(start);",
    /* 6 -> 7: outbreak candidates as alerts of the analysts' organisation (docs/alerts.md),
     * and scheduled feed digests per recipient (docs/feeds.md) */
    "ALTER TABLE org ADD COLUMN analysts INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE alert_outbreak("
    "  alert INTEGER PRIMARY KEY REFERENCES alert(id) ON DELETE CASCADE,"
    "  dim TEXT NOT NULL, key INTEGER NOT NULL, name TEXT NOT NULL,"
    "  start INTEGER NOT NULL," /* the latest candidate's interval (Unix seconds) */
    "  value INTEGER NOT NULL, baseline REAL NOT NULL, score REAL NOT NULL,"
    "  peak INTEGER NOT NULL, candidates INTEGER NOT NULL, hosts TEXT NOT NULL);"
    "CREATE TABLE outbreak_digest_state("
    "  org INTEGER PRIMARY KEY REFERENCES org(id) ON DELETE CASCADE,"
    "  pending_since_ns INTEGER, last_sent_ns INTEGER, seq INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE feed_sub("
    "  org INTEGER NOT NULL REFERENCES org(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL, format TEXT NOT NULL,"
    "  since_ingest INTEGER NOT NULL," /* digests cover ingests after this one */
    "  created TEXT NOT NULL, PRIMARY KEY(org, kind)) WITHOUT ROWID;"
    "CREATE TABLE feed_digest("
    "  org INTEGER NOT NULL REFERENCES org(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL, day INTEGER NOT NULL, format TEXT NOT NULL, rows INTEGER NOT NULL,"
    "  message_id TEXT NOT NULL, at TEXT NOT NULL,"
    "  PRIMARY KEY(org, kind, day)) WITHOUT ROWID;",
    /* 7 -> 8: rankings over months and years (query.c, widen()): by unique sources (their
     * rows keep every key, too many to sort per request), and the day top lists of hosts
     * summed per month (gran 3) and year (gran 4), filled from the days already stored */
    "CREATE INDEX stat_rank_src ON stat(gran, dim, start, sources) WHERE gran >= 3;"
    "CREATE TABLE host_top_roll("
    "  gran INTEGER NOT NULL, start INTEGER NOT NULL, addr TEXT NOT NULL,"
    "  packets INTEGER NOT NULL, PRIMARY KEY(gran, start, addr)) WITHOUT ROWID;"
    "CREATE INDEX host_top_roll_rank ON host_top_roll(gran, start, packets DESC, addr);"
    "INSERT INTO host_top_roll SELECT 3, month_start(day * 86400), addr, SUM(packets)"
    "  FROM host_top GROUP BY 2, 3;"
    "INSERT INTO host_top_roll SELECT 4, year_start(day * 86400), addr, SUM(packets)"
    "  FROM host_top GROUP BY 2, 3;",
    /* 8 -> 9: the outbreak detector's learned state (ds_outbreaks_save), one row, so that a
     * restarted daemon does not warm up again */
    "CREATE TABLE outbreak_state("
    "  id INTEGER PRIMARY KEY CHECK (id = 1), ingest INTEGER NOT NULL,"
    "  last_idx INTEGER NOT NULL, state BLOB NOT NULL);",
    /* 9 -> 10: the API's alert queries (docs/api.md) without a scan of every alert, outbox
     * or audit row: the list newest first (its filters' columns, so counting the matches
     * reads only this index), an address's alerts, an alert's notifications, an object's
     * audit rows */
    "CREATE INDEX alert_recent ON alert(last_ns, id, org, state, kase, workflow, first_ns, addr);"
    "CREATE INDEX alert_addr ON alert(addr, last_ns);"
    "CREATE INDEX outbox_message ON outbox(message_id);"
    "CREATE INDEX audit_object ON audit(object, id);",
};
#define N_MIGRATIONS (sizeof MIGRATIONS / sizeof MIGRATIONS[0])
_Static_assert(N_MIGRATIONS == DS_STORE_SCHEMA_VERSION, "one migration per schema version");

/* What a finished ingest adds to the shared tables (?1 = the ingest). The "WHERE true"
 * keeps SQLite's parser from reading ON CONFLICT as a join constraint. */
#define ADD_STAT                                                                                   \
    " ON CONFLICT(gran, start, dim, key) DO UPDATE SET packets = packets + excluded.packets,"      \
    " bytes = bytes + excluded.bytes, sources = sources + excluded.sources,"                       \
    " r_packets = r_packets + excluded.r_packets, r_bytes = r_bytes + excluded.r_bytes,"           \
    " r_sources = r_sources + excluded.r_sources, ingests = ingests + excluded.ingests"
#define ROLLUP_STAT(g, fn)                                                                         \
    "INSERT INTO stat SELECT " #g ", " fn "(start), dim, key, SUM(packets), SUM(bytes),"           \
    " SUM(sources), SUM(r_packets), SUM(r_bytes), SUM(r_sources), 0 FROM stat_stage"               \
    " WHERE ingest = ?1 AND gran = 2 GROUP BY 2, 3, 4" ADD_STAT ";"
#define ADD_SKETCH                                                                                 \
    " ON CONFLICT(gran, start, dim, key) DO UPDATE SET"                                            \
    " nonresearch = hll_union(nonresearch, excluded.nonresearch),"                                 \
    " research = hll_union(research, excluded.research)"
#define ROLLUP_SKETCH(g, fn)                                                                       \
    "INSERT INTO sketch SELECT " #g ", " fn "(start), dim, key, hll_union_agg(nonresearch),"       \
    " hll_union_agg(research) FROM sketch_stage WHERE ingest = ?1 GROUP BY 2, 3, 4" ADD_SKETCH ";"
/* the day top lists summed per month and year (schema 8) */
#define ROLLUP_TOP(g, fn)                                                                          \
    "INSERT INTO host_top_roll SELECT " #g ", " fn "(day * 86400), addr, SUM(packets)"             \
    " FROM host_top_stage WHERE ingest = ?1 GROUP BY 2, 3 ON CONFLICT(gran, start, addr)"          \
    " DO UPDATE SET packets = packets + excluded.packets;"
static const char *const MERGE_SQL =
    "INSERT INTO stat SELECT gran, start, dim, key, packets, bytes, sources, r_packets, r_bytes,"
    " r_sources, 1 FROM stat_stage WHERE ingest = ?1 AND true" ADD_STAT
    ";" ROLLUP_STAT(3, "month_start") ROLLUP_STAT(
        4, "year_start") "INSERT INTO coverage SELECT start, darknet, monitored FROM "
                         "coverage_stage WHERE ingest = ?1"
                         " AND true ON CONFLICT(start, darknet) DO UPDATE SET monitored = "
                         "excluded.monitored;"
                         "INSERT INTO sketch SELECT 2, start, dim, key, nonresearch, research FROM "
                         "sketch_stage"
                         " WHERE ingest = ?1 AND true" ADD_SKETCH
                         ";" ROLLUP_SKETCH(3, "month_start") ROLLUP_SKETCH(
                             4, "year_start") "INSERT INTO host_top SELECT day, addr, packets FROM "
                                              "host_top_stage WHERE ingest = ?1 AND true"
                                              " ON CONFLICT(day, addr) DO UPDATE SET packets = "
                                              "packets + excluded.packets;" ROLLUP_TOP(
                                                  3, "month_start") ROLLUP_TOP(4, "year_start");

/* The stage tables, emptied for an ingest once merged (or when it is replaced). */
static const char *const STAGES[] = {"stat_stage", "coverage_stage", "sketch_stage",
                                     "host_top_stage"};

enum { ST_STAT, ST_COVER, ST_SKETCH, ST_HOST, ST_HOSTN, ST_TOP, ST_DOS, ST_CAMP, ST_OB, ST_COUNT };
/* A host row is the id (NULL: the next rowid) and HOST_COLS values; ST_HOSTN inserts HOST_ROWS of
 * them. */
#define HOST_COLS 34
#define HOST_ROWS 256 /* 8,704 parameters (SQLite allows 32,766 since 3.32) */
#define HOST_VALUES "(NULL,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
#define HOST_VALUES4 HOST_VALUES "," HOST_VALUES "," HOST_VALUES "," HOST_VALUES
#define HOST_VALUES16 HOST_VALUES4 "," HOST_VALUES4 "," HOST_VALUES4 "," HOST_VALUES4
#define HOST_VALUES64 HOST_VALUES16 "," HOST_VALUES16 "," HOST_VALUES16 "," HOST_VALUES16
static const char *const STMT_SQL[ST_COUNT] = {
    [ST_STAT] = "INSERT OR REPLACE INTO stat_stage VALUES(?,?,?,?,?,?,?,?,?,?,?)",
    [ST_COVER] = "INSERT OR REPLACE INTO coverage_stage VALUES(?,?,?,?)",
    [ST_SKETCH] = "INSERT OR REPLACE INTO sketch_stage VALUES(?,?,?,?,?,?)",
    [ST_HOST] = "INSERT INTO host VALUES" HOST_VALUES,
    [ST_HOSTN] = "INSERT INTO host VALUES" HOST_VALUES64 "," HOST_VALUES64 "," HOST_VALUES64
                 "," HOST_VALUES64,
    [ST_TOP] = "INSERT OR REPLACE INTO host_top_stage VALUES(?,?,?,?)",
    [ST_DOS] = "INSERT INTO dos_attack VALUES(NULL,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_CAMP] = "INSERT INTO amp_campaign VALUES(NULL,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_OB] = "INSERT INTO outbreak VALUES(NULL,?,?,?,?,?,?,?,?,?)",
};

struct ds_store {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *st[ST_COUNT];
    int64_t ingest;      /* current ingest id, 0 when none */
    int64_t darknet_key; /* the ingest's darknet, for coverage rows (a hash of its text) */
    bool in_tx;
    bool hostn_failed; /* ST_HOSTN cannot be prepared (an SQLite with fewer parameters) */
    bool live;         /* the current ingest merges at every checkpoint (live capture) */
    const struct ds_scanners *scanners;
    struct ds_sink sink;
    struct ds_store_stats stats;
    /* scratch for ranking port/ASN rows */
    struct row *rows;
    size_t n_rows, cap_rows;
};

struct row {
    enum ds_dim dim;
    uint32_t key;
    struct ds_srow r;
};

/* ------------------------------------------------------------------ helpers -------------- */

static int db_err(struct ds_store *s, struct ds_err *err, const char *what)
{
    int code = sqlite3_errcode(s->db);
    int rc = code == SQLITE_FULL       ? -ENOSPC
             : code == SQLITE_NOMEM    ? -ENOMEM
             : code == SQLITE_READONLY ? -EROFS
             : code == SQLITE_BUSY     ? -EBUSY
                                       : -EIO;
    ds_err_set(err, rc, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
    /* a failed step leaves its statement active, and an active statement makes the next
     * COMMIT or ROLLBACK fail ("SQL statements in progress"): reset them all */
    for (int i = 0; i < ST_COUNT; i++)
        if (s->st[i])
            sqlite3_reset(s->st[i]);
    return rc;
}

static int exec(struct ds_store *s, const char *sql, struct ds_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int code = sqlite3_errcode(s->db);
        int rc = code == SQLITE_FULL ? -ENOSPC : code == SQLITE_NOTADB ? -EINVAL : -EIO;
        ds_err_set(err, rc, "%s: %s", s->path, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

/*
 * Write transactions. Every one starts with BEGIN IMMEDIATE: the write lock is taken up front,
 * where the busy handler can wait for it, so no statement inside can meet SQLITE_BUSY (a
 * deferred transaction that has read cannot wait for the lock: it would need a newer
 * snapshot). The ingest's transactions are short (one sink call each, or one checkpoint's
 * merge), so the alert engine, the outbox and the API never wait long for this connection;
 * when another connection holds the lock past the busy timeout, the begin is tried again
 * (logged) for up to LOCK_PATIENCE_MS before it is an error: nothing is written before the
 * lock is held, so nothing is lost by waiting.
 */
#define BUSY_MS 5000
#define LOCK_PATIENCE_MS 600000

static int tx_begin(struct ds_store *s, struct ds_err *err)
{
    if (s->in_tx)
        return 0;
    for (long waited = 0;; waited += BUSY_MS) {
        int r = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (r == SQLITE_OK) {
            s->in_tx = true;
            return 0;
        }
        if (r != SQLITE_BUSY || waited + BUSY_MS >= LOCK_PATIENCE_MS)
            return db_err(s, err, "taking the write lock");
        ds_warn("store",
                "%s: the write lock is held by another connection (waited %ld s); waiting on",
                s->path, (waited + BUSY_MS) / 1000);
    }
}

static int tx_commit(struct ds_store *s, struct ds_err *err)
{
    if (!s->in_tx)
        return 0;
    int rc = exec(s, "COMMIT", err);
    if (rc == 0) {
        s->in_tx = false;
        s->stats.commits++;
    }
    return rc;
}

static int pragma_int(struct ds_store *s, const char *sql, int64_t *out, struct ds_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_err(s, err, "reading the database header");
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_err(s, err, "reading the database header");
    return 0;
}

static void utc_now(char *buf, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ------------------------------------------------------------------ open / migrate ------- */

static int migrate(struct ds_store *s, bool readonly, struct ds_err *err)
{
    int64_t app = 0, ver = 0, tables = 0;
    int rc;
    if ((rc = pragma_int(s, "PRAGMA application_id", &app, err)) < 0 ||
        (rc = pragma_int(s, "PRAGMA user_version", &ver, err)) < 0 ||
        (rc = pragma_int(s, "SELECT count(*) FROM sqlite_master", &tables, err)) < 0)
        return rc;
    if (app != APP_ID && tables > 0)
        return ds_err_set(err, -EINVAL,
                          "%s: not a darkscope store (an SQLite database of %" PRId64
                          " tables without darkscope's application id)",
                          s->path, tables);
    if (ver > DS_STORE_SCHEMA_VERSION)
        return ds_err_set(err, -EINVAL,
                          "%s: schema version %" PRId64
                          " is newer than this darkscope's %d: upgrade darkscope",
                          s->path, ver, DS_STORE_SCHEMA_VERSION);
    if (ver == DS_STORE_SCHEMA_VERSION)
        return 0;
    if (readonly)
        return ds_err_set(err, -EROFS,
                          "%s: schema version %" PRId64
                          " needs a migration; open it once for writing",
                          s->path, ver);
    for (int64_t v = ver; v < DS_STORE_SCHEMA_VERSION; v++) {
        char sql[96];
        if ((rc = exec(s, "BEGIN IMMEDIATE", err)) < 0)
            return rc;
        snprintf(sql, sizeof sql, "PRAGMA application_id=%d; PRAGMA user_version=%" PRId64, APP_ID,
                 v + 1);
        if ((rc = exec(s, MIGRATIONS[v], err)) < 0 || (rc = exec(s, sql, err)) < 0 ||
            (rc = exec(s, "COMMIT", err)) < 0) {
            exec(s, "ROLLBACK", NULL);
            return ds_err_wrap(err, "migrating to schema %" PRId64, v + 1);
        }
        ds_info("store", "%s: migrated to schema version %" PRId64, s->path, v + 1);
    }
    return 0;
}

/* bitor(x): the bitwise OR of a column over a group (SQLite has no such aggregate). */
static void bitor_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sqlite3_int64 *acc = sqlite3_aggregate_context(ctx, sizeof *acc);
    if (acc && sqlite3_value_type(argv[0]) != SQLITE_NULL)
        *acc |= sqlite3_value_int64(argv[0]);
}

static void bitor_final(sqlite3_context *ctx)
{
    sqlite3_int64 *acc = sqlite3_aggregate_context(ctx, 0);
    sqlite3_result_int64(ctx, acc ? *acc : 0);
}

/* month_start(t), year_start(t): the UTC month / year holding Unix time t. */
static void month_start_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sqlite3_result_int64(ctx, ds_time_month_start(sqlite3_value_int64(argv[0])));
}

static void year_start_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sqlite3_result_int64(ctx, ds_time_year_start(sqlite3_value_int64(argv[0])));
}

/* Reads a stored sketch into h, or sets an SQL error. */
static bool sketch_arg(sqlite3_context *ctx, sqlite3_value *v, struct ds_hll *h)
{
    struct ds_err e = {0};
    if (ds_hll_deserialize(h, sqlite3_value_blob(v), (size_t)sqlite3_value_bytes(v), &e) < 0) {
        sqlite3_result_error(ctx, e.msg, -1);
        return false;
    }
    return true;
}

static void sketch_result(sqlite3_context *ctx, const struct ds_hll *h)
{
    uint8_t buf[DS_HLL_SERIAL_MAX];
    int n = ds_hll_serialize(h, buf, sizeof buf);
    if (n < 0)
        sqlite3_result_error(ctx, "cannot serialise a sketch", -1);
    else
        sqlite3_result_blob(ctx, buf, n, SQLITE_TRANSIENT);
}

/* hll_union(a, b): the union of two stored sketches. */
static void hll_union_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    struct ds_hll a, b;
    if (!sketch_arg(ctx, argv[0], &a))
        return;
    if (!sketch_arg(ctx, argv[1], &b)) {
        ds_hll_free(&a);
        return;
    }
    if (ds_hll_merge(&a, &b) < 0)
        sqlite3_result_error_nomem(ctx);
    else
        sketch_result(ctx, &a);
    ds_hll_free(&a);
    ds_hll_free(&b);
}

/* hll_union_agg(x): the union of a group's sketches. */
static void hll_agg_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    struct ds_hll *acc = sqlite3_aggregate_context(ctx, sizeof *acc); /* zeroed = empty */
    struct ds_hll one;
    if (!acc || !sketch_arg(ctx, argv[0], &one))
        return;
    if (ds_hll_merge(acc, &one) < 0)
        sqlite3_result_error_nomem(ctx);
    ds_hll_free(&one);
}

static void hll_agg_final(sqlite3_context *ctx)
{
    struct ds_hll *acc = sqlite3_aggregate_context(ctx, 0);
    struct ds_hll empty;
    ds_hll_init(&empty);
    sketch_result(ctx, acc ? acc : &empty);
    if (acc)
        ds_hll_free(acc);
}

static void add_functions(sqlite3 *db)
{
    int f = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
    sqlite3_create_function(db, "bitor", 1, f, NULL, NULL, bitor_step, bitor_final);
    sqlite3_create_function(db, "month_start", 1, f, NULL, month_start_fn, NULL, NULL);
    sqlite3_create_function(db, "year_start", 1, f, NULL, year_start_fn, NULL, NULL);
    sqlite3_create_function(db, "hll_union", 2, f, NULL, hll_union_fn, NULL, NULL);
    sqlite3_create_function(db, "hll_union_agg", 1, f, NULL, NULL, hll_agg_step, hll_agg_final);
}

static int sink_window(void *ctx, const struct ds_window *w, struct ds_err *err);
static int sink_daysk(void *ctx, const struct ds_daysk *d, struct ds_err *err);
/* The key the host table is indexed by: 63 bits of the address's hash. */
static int sink_hosts(void *ctx, const struct ds_host *const *h, size_t n, struct ds_err *err);
static int sink_checkpoint(void *ctx, uint32_t upto, struct ds_err *err);
static int sink_dos(void *ctx, const struct ds_dos_attack *a, struct ds_err *err);
static int sink_campaign(void *ctx, const struct ds_campaign *c, struct ds_err *err);
static int sink_outbreak(void *ctx, const struct ds_outbreak *o, struct ds_err *err);
static int sink_outbreak_state(void *ctx, const void *blob, size_t len, uint32_t last_idx,
                               struct ds_err *err);
static int sink_top(void *ctx, uint32_t day, const struct ds_host_top *t, size_t n,
                    struct ds_err *err);

int ds_store_open(struct ds_store **out, const char *path, bool readonly, struct ds_err *err)
{
    *out = NULL;
    struct ds_store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return ds_err_set(err, -ENOMEM, "out of memory");
    }
    int rc;
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        rc = ds_err_set(err, -EIO, "%s: cannot open: %s", path,
                        s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto out;
    }
    ds_db_busy_wait(s->db, BUSY_MS);
    add_functions(s->db);
    sqlite3_extended_result_codes(s->db, 0);
    /* reading the header first tells a non-database file apart before any write */
    if ((rc = exec(s, "SELECT count(*) FROM sqlite_master", err)) < 0) {
        ds_err_set(err, -EINVAL, "%s: not an SQLite database, or damaged (%s)", path,
                   sqlite3_errmsg(s->db));
        rc = -EINVAL;
        goto out;
    }
    if (!readonly && (rc = exec(s,
                                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                "PRAGMA foreign_keys=ON;",
                                err)) < 0)
        goto out;
    if ((rc = migrate(s, readonly, err)) < 0)
        goto out;
    if (!readonly)
        for (int i = 0; i < ST_COUNT; i++)
            if (i != ST_HOSTN && /* prepared at the first use (it is large) */
                sqlite3_prepare_v3(s->db, STMT_SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                                   NULL) != SQLITE_OK) {
                rc = db_err(s, err, "preparing statements");
                goto out;
            }
    s->sink = (struct ds_sink){.ctx = s,
                               .window = sink_window,
                               .daysk = sink_daysk,
                               .hosts = sink_hosts,
                               .top = sink_top,
                               .dos = sink_dos,
                               .campaign = sink_campaign,
                               .outbreak = sink_outbreak,
                               .outbreak_state = sink_outbreak_state,
                               .checkpoint = sink_checkpoint};
    *out = s;
    return 0;
out:
    ds_store_close(s);
    return rc;
}

void ds_store_close(struct ds_store *s)
{
    if (!s)
        return;
    if (s->in_tx)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    free(s->rows);
    free(s->path);
    free(s);
}

struct sqlite3 *ds_store_db(struct ds_store *s)
{
    return s->db;
}

const struct ds_sink *ds_store_sink(struct ds_store *s)
{
    return &s->sink;
}

void ds_store_get_stats(const struct ds_store *s, struct ds_store_stats *st)
{
    *st = s->stats;
}

/* ------------------------------------------------------------------ file identity -------- */

int ds_store_file_identity(const char *path, struct ds_ingest_file *f, struct ds_err *err)
{
    int rc = 0;
    unsigned char *buf = NULL;
    EVP_MD_CTX *md = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ds_err_set(err, -errno, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        rc = ds_err_set(err, -ESPIPE, "%s: not a regular file: no content identity", path);
        goto out;
    }
    const size_t MIB = 1 << 20;
    buf = malloc(MIB);
    md = EVP_MD_CTX_new();
    if (!buf || !md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        rc = ds_err_set(err, -ENOMEM, "out of memory hashing %s", path);
        goto out;
    }
    uint64_t size = (uint64_t)sb.st_size;
    EVP_DigestUpdate(md, &size, sizeof size);
    off_t spans[2][2] = {{0, (off_t)(size < MIB ? size : MIB)},
                         {(off_t)(size > MIB ? size - MIB : 0), (off_t)(size > MIB ? MIB : 0)}};
    for (int i = 0; i < 2; i++) {
        off_t at = spans[i][0], left = spans[i][1];
        while (left > 0) {
            ssize_t r = pread(fd, buf, (size_t)left, at);
            if (r <= 0) {
                rc = ds_err_set(err, -EIO, "%s: read error at byte %lld", path, (long long)at);
                goto out;
            }
            EVP_DigestUpdate(md, buf, (size_t)r);
            at += r;
            left -= r;
        }
    }
    unsigned char dig[32];
    unsigned int dl = 0;
    EVP_DigestFinal_ex(md, dig, &dl);
    for (unsigned i = 0; i < 32; i++)
        snprintf(f->identity + 2 * i, 3, "%02x", dig[i]);
    f->path = path;
    f->size = size;
out:
    EVP_MD_CTX_free(md);
    free(buf);
    close(fd);
    return rc;
}

int ds_store_files_done(struct ds_store *s, const struct ds_ingest_file *f, size_t n, bool *done,
                        int64_t *by_ingest, struct ds_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT f.ingest FROM ingest_file f JOIN ingest i ON i.id = f.ingest"
                           " WHERE f.identity = ? AND i.status = 'done' LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return db_err(s, err, "looking up ingested files");
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, f[i].identity, -1, SQLITE_STATIC);
        int r = sqlite3_step(st);
        done[i] = r == SQLITE_ROW;
        if (by_ingest)
            by_ingest[i] = done[i] ? sqlite3_column_int64(st, 0) : 0;
        if (r != SQLITE_ROW && r != SQLITE_DONE) {
            rc = db_err(s, err, "looking up ingested files");
            break;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* ------------------------------------------------------------------ ingests -------------- */

/* Runs every statement of sql with ?1 bound to v. */
static int run_bound(struct ds_store *s, const char *sql, int64_t v, const char *what,
                     struct ds_err *err)
{
    const char *tail = sql;
    while (tail && *tail) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(s->db, tail, -1, &st, &tail) != SQLITE_OK)
            return db_err(s, err, what);
        if (!st)
            break; /* only whitespace left */
        if (sqlite3_bind_parameter_count(st) >= 1)
            sqlite3_bind_int64(st, 1, v);
        int r = sqlite3_step(st);
        sqlite3_finalize(st);
        if (r != SQLITE_DONE && r != SQLITE_ROW)
            return db_err(s, err, what);
    }
    return 0;
}

/* Removes an ingest and every row it wrote. */
static int drop_ingest(struct ds_store *s, int64_t id, struct ds_err *err)
{
    static const char *const tables[] = {"stat_stage",     "coverage_stage", "sketch_stage",
                                         "host_top_stage", "host",           "ingest_file"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE ingest = %" PRId64, tables[i], id);
        int rc = exec(s, sql, err);
        if (rc < 0)
            return rc;
    }
    char sql[64];
    snprintf(sql, sizeof sql, "DELETE FROM ingest WHERE id = %" PRId64, id);
    return exec(s, sql, err);
}

/* Adds the ingest's stage rows into the shared tables and empties them (in the open
 * transaction). */
static int merge_stage(struct ds_store *s, int64_t id, struct ds_err *err)
{
    int rc = run_bound(s, MERGE_SQL, id, "adding the ingest to the store", err);
    for (size_t i = 0; rc == 0 && i < sizeof STAGES / sizeof STAGES[0]; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE ingest = %" PRId64, STAGES[i], id);
        rc = exec(s, sql, err);
    }
    return rc;
}

/* Live ingests left 'live' by a process that is gone become 'interrupted': their merged rows
 * and host profiles stay; their unmerged stage rows (since the last checkpoint) are dropped. */
static int end_stale_live(struct ds_store *s, struct ds_err *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof STAGES / sizeof STAGES[0]; i++) {
        char sql[128];
        snprintf(sql, sizeof sql,
                 "DELETE FROM %s WHERE ingest IN (SELECT id FROM ingest WHERE status = 'live')",
                 STAGES[i]);
        rc = exec(s, sql, err);
    }
    if (rc == 0)
        rc = exec(s, "UPDATE ingest SET status = 'interrupted' WHERE status = 'live'", err);
    if (rc == 0 && sqlite3_changes(s->db) > 0)
        ds_warn("store",
                "%s: %d live ingest(s) of a daemon that stopped without finishing marked "
                "interrupted (what they stored up to their last checkpoint stays)",
                s->path, sqlite3_changes(s->db));
    return rc;
}

int ds_store_ingest_begin(struct ds_store *s, const struct ds_ingest_info *info, int64_t *id,
                          struct ds_err *err)
{
    int rc;
    sqlite3_stmt *st = NULL;
    if ((rc = tx_begin(s, err)) < 0)
        return rc;
    /* an unfinished ingest of any of these files is replaced: its rows go first */
    if (info->n_files) {
        if (sqlite3_prepare_v2(s->db,
                               "SELECT DISTINCT f.ingest FROM ingest_file f JOIN ingest i"
                               " ON i.id = f.ingest WHERE f.identity = ? AND i.status <> 'done'",
                               -1, &st, NULL) != SQLITE_OK) {
            rc = db_err(s, err, "looking up unfinished ingests");
            goto out;
        }
        for (size_t i = 0; i < info->n_files; i++) {
            sqlite3_reset(st);
            sqlite3_bind_text(st, 1, info->files[i].identity, -1, SQLITE_STATIC);
            int r;
            while ((r = sqlite3_step(st)) == SQLITE_ROW) {
                int64_t old = sqlite3_column_int64(st, 0);
                ds_warn("store",
                        "%s: replacing unfinished ingest %" PRId64 " (interrupted or failed) of %s",
                        s->path, old, info->files[i].path);
                sqlite3_reset(st);
                if ((rc = drop_ingest(s, old, err)) < 0)
                    goto out;
                sqlite3_bind_text(st, 1, info->files[i].identity, -1, SQLITE_STATIC);
            }
            if (r != SQLITE_DONE) {
                rc = db_err(s, err, "looking up unfinished ingests");
                goto out;
            }
        }
        sqlite3_finalize(st);
        st = NULL;
    }
    /* a live ingest of a process that died: what it merged stays (visible), the rest goes */
    if (info->live && (rc = end_stale_live(s, err)) < 0)
        goto out;
    char now[32];
    utc_now(now, sizeof now);
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO ingest(started, status, darknet, monitored, threads)"
                           " VALUES(?, ?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_err(s, err, "starting an ingest");
        goto out;
    }
    sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, info->live ? "live" : "running", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, info->darknet ? info->darknet : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)info->monitored);
    sqlite3_bind_int(st, 5, info->threads);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = db_err(s, err, "starting an ingest");
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    s->ingest = sqlite3_last_insert_rowid(s->db);
    if (sqlite3_prepare_v2(s->db, "INSERT INTO ingest_file VALUES(?,?,?,?,?)", -1, &st, NULL) !=
        SQLITE_OK) {
        rc = db_err(s, err, "recording input files");
        goto out;
    }
    for (size_t i = 0; i < info->n_files; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, s->ingest);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
        sqlite3_bind_text(st, 3, info->files[i].identity, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, info->files[i].path, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)info->files[i].size);
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = db_err(s, err, "recording input files");
            goto out;
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    /* the ingest row commits at once: a crash leaves it 'running', and the next ingest of the
     * same files replaces it */
    if ((rc = tx_commit(s, err)) < 0)
        goto out;
    s->scanners = info->scanners;
    s->live = info->live;
    const char *dn = info->darknet ? info->darknet : "";
    uint64_t hk = 14695981039346656037ULL; /* FNV-1a of the darknet's text */
    for (const char *c = dn; *c; c++)
        hk = (hk ^ (uint8_t)*c) * 1099511628211ULL;
    s->darknet_key = (int64_t)(hk >> 1);
    memset(&s->stats, 0, sizeof s->stats);
    *id = s->ingest;
    return 0;
out:
    sqlite3_finalize(st);
    exec(s, "ROLLBACK", NULL);
    s->in_tx = false;
    s->ingest = 0;
    return rc;
}

int ds_store_ingest_end(struct ds_store *s, bool ok, uint64_t first_ns, uint64_t last_ns,
                        uint64_t packets, uint64_t darknet_packets, uint64_t sources,
                        const char *summary_json, struct ds_err *err)
{
    if (!s->ingest)
        return ds_err_set(err, -EINVAL, "%s: no ingest in progress", s->path);
    sqlite3_stmt *st;
    char now[32];
    utc_now(now, sizeof now);
    int rc = tx_begin(s, err); /* one transaction: the status and the merge */
    if (rc < 0)
        return rc;
    if (sqlite3_prepare_v2(s->db,
                           "UPDATE ingest SET finished = ?, status = ?, first_ns = ?, last_ns = ?,"
                           " packets = ?, darknet_packets = ?, sources = ?, summary = ?"
                           " WHERE id = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return db_err(s, err, "finishing the ingest");
    sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
    /* a live ingest that failed keeps what it merged: it did happen */
    sqlite3_bind_text(st, 2, ok ? "done" : s->live ? "interrupted" : "failed", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)first_ns);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)last_ns);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)packets);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)darknet_packets);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)sources);
    sqlite3_bind_text(st, 8, summary_json ? summary_json : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, s->ingest);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    if (r != SQLITE_DONE)
        return db_err(s, err, "finishing the ingest");
    if (ok || s->live) {
        rc = merge_stage(s, s->ingest, err);
    } else {
        for (size_t i = 0; rc == 0 && i < sizeof STAGES / sizeof STAGES[0]; i++) {
            char sql[96];
            snprintf(sql, sizeof sql, "DELETE FROM %s WHERE ingest = %" PRId64, STAGES[i],
                     s->ingest);
            rc = exec(s, sql, err);
        }
    }
    if (rc == 0 && !ok &&
        !s->live) { /* a failed ingest leaves no profile either: a rerun replaces it */
        char sql[320];
        snprintf(sql, sizeof sql,
                 "DELETE FROM host WHERE ingest = %" PRId64 ";"
                 "DELETE FROM dos_attack WHERE ingest = %" PRId64 ";"
                 "DELETE FROM amp_campaign WHERE ingest = %" PRId64 ";"
                 "DELETE FROM outbreak WHERE ingest = %" PRId64,
                 s->ingest, s->ingest, s->ingest, s->ingest);
        rc = exec(s, sql, err);
    }
    if (rc == 0)
        rc = tx_commit(s, err);
    if (rc < 0) {
        exec(s, "ROLLBACK", NULL); /* the ingest stays 'running': the next run replaces it */
        s->in_tx = false;
    }
    s->ingest = 0;
    s->live = false;
    return rc;
}
/* ------------------------------------------------------------------ the sink ------------- */

static int put_stat(struct ds_store *s, int gran, uint32_t idx, enum ds_dim dim, uint32_t key,
                    const struct ds_srow *r, struct ds_err *err)
{
    sqlite3_stmt *st = s->st[ST_STAT];
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, s->ingest);
    sqlite3_bind_int(st, 2, gran);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)idx * ds_gran_seconds[gran]);
    sqlite3_bind_int(st, 4, (int)dim);
    sqlite3_bind_int64(st, 5, key);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)r->packets);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)r->bytes);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)r->sources);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)r->r_packets);
    sqlite3_bind_int64(st, 10, (sqlite3_int64)r->r_bytes);
    sqlite3_bind_int64(st, 11, (sqlite3_int64)r->r_sources);
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_err(s, err, "writing statistics");
    s->stats.stat_rows++;
    return 0;
}

struct wctx {
    struct ds_store *s;
    const struct ds_window *w;
    struct ds_err *err;
};

/* Rows go straight to the table, except ports and ASNs of short intervals, which are ranked
 * first (only the busiest are kept; the rest sum into one "other" row). */
static int window_row(void *ctx, enum ds_dim dim, uint32_t key, const struct ds_srow *r)
{
    struct wctx *c = ctx;
    struct ds_store *s = c->s;
    bool ranked = c->w->gran != DS_GRAN_1D && (dim == DS_DIM_TCP || dim == DS_DIM_UDP ||
                                               dim == DS_DIM_ASN || dim == DS_DIM_COUNTRY);
    if (!ranked)
        return put_stat(s, c->w->gran, c->w->idx, dim, key, r, c->err);
    if (s->n_rows == s->cap_rows) {
        size_t ncap = s->cap_rows ? s->cap_rows * 2 : 4096;
        struct row *n = realloc(s->rows, ncap * sizeof *n);
        if (!n)
            return ds_err_set(c->err, -ENOMEM, "out of memory ranking rows");
        s->rows = n;
        s->cap_rows = ncap;
    }
    s->rows[s->n_rows++] = (struct row){.dim = dim, .key = key, .r = *r};
    return 0;
}

static int cmp_rows(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    if (x->dim != y->dim)
        return x->dim < y->dim ? -1 : 1;
    if (x->r.packets != y->r.packets)
        return x->r.packets > y->r.packets ? -1 : 1;
    if (x->r.sources != y->r.sources)
        return x->r.sources > y->r.sources ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

static int rows_window(void *ctx, const struct ds_window *w, struct ds_err *err)
{
    struct ds_store *s = ctx;
    struct wctx c = {.s = s, .w = w, .err = err};
    s->n_rows = 0;
    int rc = ds_window_foreach(w, window_row, &c);
    if (rc)
        return rc < 0 ? rc : -EIO;
    if (s->n_rows)
        qsort(s->rows, s->n_rows, sizeof *s->rows, cmp_rows);
    size_t i = 0;
    while (i < s->n_rows) {
        enum ds_dim dim = s->rows[i].dim;
        size_t keep = w->gran == DS_GRAN_5M ? TOP_5M : TOP_1H;
        struct ds_srow other = {0};
        size_t j = i, n = 0;
        for (; j < s->n_rows && s->rows[j].dim == dim; j++, n++) {
            if (n < keep) {
                if ((rc = put_stat(s, w->gran, w->idx, dim, s->rows[j].key, &s->rows[j].r, err)) <
                    0)
                    return rc;
            } else {
                const struct ds_srow *r = &s->rows[j].r;
                other.packets += r->packets;
                other.bytes += r->bytes;
                other.sources += r->sources; /* an upper bound: a host may be in several */
                other.r_packets += r->r_packets;
                other.r_bytes += r->r_bytes;
                other.r_sources += r->r_sources;
            }
        }
        if (n > keep && (rc = put_stat(s, w->gran, w->idx, dim, OTHER_KEY, &other, err)) < 0)
            return rc;
        i = j;
    }
    if (w->gran == DS_GRAN_5M) {
        sqlite3_stmt *st = s->st[ST_COVER];
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, s->ingest);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)w->idx * 300);
        sqlite3_bind_int64(st, 3, s->darknet_key);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)w->monitored);
        if (sqlite3_step(st) != SQLITE_DONE)
            return db_err(s, err, "writing coverage");
    }
    return 0;
}

struct dctx {
    struct ds_store *s;
    uint32_t day;
    struct ds_err *err;
    uint8_t buf[2][DS_HLL_SERIAL_MAX];
};

static int daysk_row(void *ctx, enum ds_dim dim, uint32_t key, const struct ds_hll *nr,
                     const struct ds_hll *r)
{
    struct dctx *c = ctx;
    struct ds_store *s = c->s;
    int a = ds_hll_serialize(nr, c->buf[0], sizeof c->buf[0]);
    int b = ds_hll_serialize(r, c->buf[1], sizeof c->buf[1]);
    if (a < 0 || b < 0)
        return ds_err_set(c->err, -EINVAL, "cannot serialise a sketch");
    sqlite3_stmt *st = s->st[ST_SKETCH];
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, s->ingest);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)c->day * 86400);
    sqlite3_bind_int(st, 3, (int)dim);
    sqlite3_bind_int64(st, 4, key);
    sqlite3_bind_blob(st, 5, c->buf[0], a, SQLITE_STATIC);
    sqlite3_bind_blob(st, 6, c->buf[1], b, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_err(s, c->err, "writing day sketches");
    s->stats.sketch_rows++;
    return 0;
}

static int rows_daysk(void *ctx, const struct ds_daysk *d, struct ds_err *err)
{
    struct dctx *c = malloc(sizeof *c);
    if (!c)
        return ds_err_set(err, -ENOMEM, "out of memory");
    *c = (struct dctx){.s = ctx, .day = d->day, .err = err};
    int rc = ds_daysk_foreach(d, daysk_row, c);
    free(c);
    return rc < 0 ? rc : rc ? -EIO : 0;
}

static int64_t addr_key(const struct ds_addr *a)
{
    return (int64_t)(ds_hash_addr16(a->b) >> 1);
}

struct keyed {
    int64_t key;
    const struct ds_host *h;
};

static int cmp_keyed(const void *x, const void *y)
{
    int64_t a = ((const struct keyed *)x)->key, b = ((const struct keyed *)y)->key;
    return a < b ? -1 : a > b;
}

/* The text columns of one host row, kept until its statement has run (bound SQLITE_STATIC). */
struct host_text {
    char addr[DS_ADDR_STRLEN], ports[32], beh[128], cc[3];
};

/* Binds one host row's HOST_COLS values from parameter c on. */
static void bind_host(struct ds_store *s, sqlite3_stmt *st, int c, const struct keyed *k,
                      struct host_text *t)
{
    const struct ds_host *x = k->h;
    ds_addr_format(&x->addr, t->addr);
    char *o = t->ports; /* "tcp/23,udp/53": at most 19 bytes, written by hand */
    for (int j = 0; j < 2; j++) {
        uint16_t have = j ? DS_HF_PORT1 : DS_HF_PORT0, u = j ? DS_HF_PORT1_UDP : DS_HF_PORT0_UDP;
        if (!(x->flags & have))
            continue;
        if (o != t->ports)
            *o++ = ',';
        memcpy(o, x->flags & u ? "udp/" : "tcp/", 4);
        o += 4;
        char d[5];
        int nd = 0;
        unsigned p = x->ports[j];
        do
            d[nd++] = (char)('0' + p % 10);
        while (p /= 10);
        while (nd)
            *o++ = d[--nd];
    }
    *o = 0;
    ds_host_behaviour_key(x, t->beh, sizeof t->beh);
    ds_country_code(x->country, t->cc);
    uint32_t label;
    const char *research = NULL;
    if ((x->flags & DS_HF_RESEARCH) && s->scanners &&
        ds_scanners_lookup(s->scanners, &x->addr, &label))
        research = ds_scanners_label(s->scanners, label);
    uint32_t classes = 0;
    for (int j = 0; j < DS_SEEN_FP0; j++)
        classes |= (x->seen_d >> j & 1u) << j; /* the day's classes (with the rare ones) */
    sqlite3_bind_int64(st, c++, s->ingest);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)(x->first_ns / 86400000000000ull));
    sqlite3_bind_text(st, c++, t->addr, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, c++, k->key);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)x->first_ns);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)x->last_ns);
    sqlite3_bind_int64(st, c++, x->packets);
    sqlite3_bind_int64(st, c++, x->bytes);
    sqlite3_bind_int(st, c++, x->protos);
    for (int j = 0; j < DS_HOST_CLASSES; j++)
        sqlite3_bind_int(st, c++, x->cls[j]);
    sqlite3_bind_int(st, c++, (int)classes);
    for (int j = 0; j < DS_FP_COUNT; j++)
        sqlite3_bind_int(st, c++, x->fps[j]);
    sqlite3_bind_int(st, c++, x->nports);
    sqlite3_bind_text(st, c++, t->ports, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, c++, ds_host_dsts(x));
    sqlite3_bind_int(st, c++, !(x->flags & DS_HF_DST_SKETCH));
    sqlite3_bind_text(st, c++, ds_host_scan_type(x), -1, SQLITE_STATIC);
    if (research)
        sqlite3_bind_text(st, c++, research, -1, SQLITE_TRANSIENT);
    else if (x->flags & DS_HF_RESEARCH)
        sqlite3_bind_text(st, c++, "research", -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, c++);
    sqlite3_bind_text(st, c++, t->cc, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, c++, x->asn);
    sqlite3_bind_int(st, c++, x->ttl0);
    sqlite3_bind_int(st, c++, x->ttl_changes);
    sqlite3_bind_int(st, c++, x->win0);
    sqlite3_bind_int(st, c++, x->win_changes);
    sqlite3_bind_text(st, c++, t->beh, -1, SQLITE_STATIC);
}

static int rows_hosts(void *ctx, const struct ds_host *const *h, size_t n, struct ds_err *err)
{
    struct ds_store *s = ctx;
    /* in index order: the address index then grows at a few places, not all over */
    struct keyed *v = malloc((n ? n : 1) * sizeof *v);
    struct host_text *t = malloc(HOST_ROWS * sizeof *t);
    if (!v || !t) {
        free(v);
        free(t);
        return ds_err_set(err, -ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        v[i] = (struct keyed){.key = addr_key(&h[i]->addr), .h = h[i]};
    qsort(v, n, sizeof *v, cmp_keyed);
    if (n >= HOST_ROWS && !s->st[ST_HOSTN] && !s->hostn_failed &&
        sqlite3_prepare_v3(s->db, STMT_SQL[ST_HOSTN], -1, SQLITE_PREPARE_PERSISTENT,
                           &s->st[ST_HOSTN], NULL) != SQLITE_OK)
        s->hostn_failed = true; /* then one row at a time */
    /* HOST_ROWS rows per statement (one VALUES list in the same order: the same rowids), so
     * SQLite opens and positions the table's and the indexes' cursors once per HOST_ROWS rows;
     * the rest one by one */
    int rc = 0;
    for (size_t i = 0; i < n;) {
        size_t m = n - i >= HOST_ROWS && s->st[ST_HOSTN] ? HOST_ROWS : 1;
        sqlite3_stmt *st = s->st[m == HOST_ROWS ? ST_HOSTN : ST_HOST];
        sqlite3_reset(st);
        for (size_t j = 0; j < m; j++)
            bind_host(s, st, 1 + (int)j * HOST_COLS, &v[i + j], &t[j]);
        int r = sqlite3_step(st);
        if (r != SQLITE_DONE) {
            rc = db_err(s, err, "writing host profiles");
            break;
        }
        sqlite3_reset(st); /* done with the text buffers before they are reused */
        s->stats.host_rows += m;
        i += m;
    }
    free(t);
    free(v);
    return rc;
}

static int rows_top(void *ctx, uint32_t day, const struct ds_host_top *t, size_t n,
                    struct ds_err *err)
{
    struct ds_store *s = ctx;
    sqlite3_stmt *st = s->st[ST_TOP];
    for (size_t i = 0; i < n; i++) {
        char addr[DS_ADDR_STRLEN];
        ds_addr_format(&t[i].addr, addr);
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, s->ingest);
        sqlite3_bind_int64(st, 2, day);
        sqlite3_bind_text(st, 3, addr, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)t[i].packets);
        if (sqlite3_step(st) != SQLITE_DONE)
            return db_err(s, err, "writing the day's top hosts");
    }
    return 0;
}

static int rows_dos(void *ctx, const struct ds_dos_attack *a, struct ds_err *err)
{
    struct ds_store *s = ctx;
    sqlite3_stmt *st = s->st[ST_DOS];
    char victim[DS_ADDR_STRLEN];
    ds_addr_format(&a->victim, victim);
    json_t *ports = json_array();
    for (size_t i = 0; i < a->n_ports; i++)
        json_array_append_new(ports, json_pack("{s:i, s:I}", "port", a->ports[i].port, "packets",
                                               (json_int_t)a->ports[i].packets));
    char *pj = json_dumps(ports, JSON_COMPACT);
    json_decref(ports);
    if (!pj)
        return ds_err_set(err, -ENOMEM, "out of memory");
    int c = 1;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, c++, s->ingest);
    sqlite3_bind_text(st, c++, victim, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, c++, ds_dos_proto_name(a->proto), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)a->first_ns);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)a->last_ns);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)a->packets);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)a->bytes);
    sqlite3_bind_int64(st, c++, a->peak_ppm);
    sqlite3_bind_text(st, c++, pj, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)a->victim_ports);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)a->darknet_addrs);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)a->attacker_ports);
    sqlite3_bind_double(st, c++, a->est_rate_pps);
    sqlite3_bind_text(st, c++, a->country, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, c++, a->asn);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)a->late);
    free(pj);
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_err(s, err, "writing a DoS attack");
    s->stats.dos_rows++;
    return 0;
}

static int rows_campaign(void *ctx, const struct ds_campaign *k, struct ds_err *err)
{
    struct ds_store *s = ctx;
    sqlite3_stmt *st = s->st[ST_CAMP];
    char block[DS_PREFIX_STRLEN];
    ds_prefix_format(&k->block, block);
    json_t *top = json_array();
    for (size_t i = 0; i < k->n_top; i++) {
        char a[DS_ADDR_STRLEN];
        json_array_append_new(top,
                              json_pack("{s:s, s:I}", "address", ds_addr_format(&k->top[i].addr, a),
                                        "packets", (json_int_t)k->top[i].packets));
    }
    char *tj = json_dumps(top, JSON_COMPACT);
    json_decref(top);
    if (!tj)
        return ds_err_set(err, -ENOMEM, "out of memory");
    int c = 1;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, c++, s->ingest);
    sqlite3_bind_text(st, c++, k->protocol, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, c++, k->request, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, c++, k->port);
    sqlite3_bind_text(st, c++, block, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)k->first_ns);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)k->last_ns);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)k->packets);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)k->bytes);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)k->sources);
    sqlite3_bind_text(st, c++, tj, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)k->darknet_addrs);
    sqlite3_bind_double(st, c++, k->coverage);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)k->research_packets);
    free(tj);
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_err(s, err, "writing a reflector-hunting campaign");
    s->stats.campaign_rows++;
    return 0;
}

static int rows_outbreak(void *ctx, const struct ds_outbreak *o, struct ds_err *err)
{
    struct ds_store *s = ctx;
    sqlite3_stmt *st = s->st[ST_OB];
    int c = 1;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, c++, s->ingest);
    sqlite3_bind_text(st, c++, ds_outbreak_dim_name(o->dim), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, c++, o->key);
    sqlite3_bind_text(st, c++, o->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)o->idx * 300);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)o->sources);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)o->packets);
    sqlite3_bind_double(st, c++, o->baseline);
    sqlite3_bind_double(st, c++, o->score);
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_err(s, err, "writing an outbreak candidate");
    s->stats.outbreak_rows++;
    return 0;
}

/* Live: the closed intervals' stage rows go into the shared tables (visible at once), in a
 * transaction of their own. A replay has committed its rows already (each sink call). */
static int sink_checkpoint(void *ctx, uint32_t upto, struct ds_err *err)
{
    (void)upto;
    struct ds_store *s = ctx;
    int rc = 0;
    if (s->live && (rc = tx_begin(s, err)) == 0)
        rc = merge_stage(s, s->ingest, err);
    if (rc == 0)
        rc = tx_commit(s, err);
    return rc;
}

/* Each sink call is one short write transaction (tx_begin). A failed call leaves it open:
 * ds_store_ingest_end then removes or keeps the ingest's rows and commits. */
static int sink_window(void *ctx, const struct ds_window *w, struct ds_err *err)
{
    struct ds_store *s = ctx;
    int rc = tx_begin(s, err);
    if (rc == 0 && (rc = rows_window(ctx, w, err)) == 0)
        rc = tx_commit(s, err);
    return rc;
}

static int sink_daysk(void *ctx, const struct ds_daysk *d, struct ds_err *err)
{
    struct ds_store *s = ctx;
    int rc = tx_begin(s, err);
    if (rc == 0 && (rc = rows_daysk(ctx, d, err)) == 0)
        rc = tx_commit(s, err);
    return rc;
}

static int sink_hosts(void *ctx, const struct ds_host *const *h, size_t n, struct ds_err *err)
{
    struct ds_store *s = ctx;
    int rc = tx_begin(s, err);
    if (rc == 0 && (rc = rows_hosts(ctx, h, n, err)) == 0)
        rc = tx_commit(s, err);
    return rc;
}

static int sink_top(void *ctx, uint32_t day, const struct ds_host_top *t, size_t n,
                    struct ds_err *err)
{
    struct ds_store *s = ctx;
    int rc = tx_begin(s, err);
    if (rc == 0 && (rc = rows_top(ctx, day, t, n, err)) == 0)
        rc = tx_commit(s, err);
    return rc;
}

static int sink_dos(void *ctx, const struct ds_dos_attack *a, struct ds_err *err)
{
    struct ds_store *s = ctx;
    int rc = tx_begin(s, err);
    if (rc == 0 && (rc = rows_dos(ctx, a, err)) == 0)
        rc = tx_commit(s, err);
    return rc;
}

static int sink_campaign(void *ctx, const struct ds_campaign *k, struct ds_err *err)
{
    struct ds_store *s = ctx;
    int rc = tx_begin(s, err);
    if (rc == 0 && (rc = rows_campaign(ctx, k, err)) == 0)
        rc = tx_commit(s, err);
    return rc;
}

static int sink_outbreak(void *ctx, const struct ds_outbreak *o, struct ds_err *err)
{
    struct ds_store *s = ctx;
    int rc = tx_begin(s, err);
    if (rc == 0 && (rc = rows_outbreak(ctx, o, err)) == 0)
        rc = tx_commit(s, err);
    return rc;
}

/* One statement (atomic on its own, or part of a transaction left open by a failed call). */
static int sink_outbreak_state(void *ctx, const void *blob, size_t len, uint32_t last_idx,
                               struct ds_err *err)
{
    struct ds_store *s = ctx;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT OR REPLACE INTO outbreak_state(id, ingest, last_idx, state)"
                           " VALUES(1, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return db_err(s, err, "saving the outbreak detector's state");
    sqlite3_bind_int64(st, 1, s->ingest);
    sqlite3_bind_int64(st, 2, last_idx);
    sqlite3_bind_blob(st, 3, blob, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE
                 ? 0
                 : db_err(s, err, "saving the outbreak detector's state");
    sqlite3_finalize(st);
    return rc;
}

int ds_store_outbreak_state(struct ds_store *s, void **blob, size_t *len, struct ds_err *err)
{
    *blob = NULL;
    *len = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT state FROM outbreak_state WHERE id = 1", -1, &st, NULL) !=
        SQLITE_OK)
        return db_err(s, err, "reading the outbreak detector's state");
    int rc = 0, r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        int n = sqlite3_column_bytes(st, 0);
        const void *p = sqlite3_column_blob(st, 0);
        if (n > 0 && p) {
            if (!(*blob = malloc((size_t)n)))
                rc = ds_err_set(err, -ENOMEM, "out of memory");
            else {
                memcpy(*blob, p, (size_t)n);
                *len = (size_t)n;
            }
        }
    } else if (r != SQLITE_DONE) {
        rc = db_err(s, err, "reading the outbreak detector's state");
    }
    sqlite3_finalize(st);
    return rc;
}
