/* test_deliver.c - the four delivery channels against real receivers on 127.0.0.1, each
 * started here as a child process (tests/receivers/ *.py) on a port the kernel picks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "alert/deliver.h"

#define MAX_CHILDREN 8
#define START_TIMEOUT_MS 20000

static char tmpdir[256];    /* this run's scratch directory, removed at the end */
static char receivers[512]; /* tests/receivers */
static pid_t children[MAX_CHILDREN];

/* ---- messages ---- */

static const char JSON1[] =
    "{\"version\":1,\"id\":\"alert-42\",\"org\":\"Example \\\"Net\\\" ]Corp\\\\\","
    "\"address\":\"203.0.113.7\",\"case\":\"external\",\"severity\":\"high\","
    "\"note\":\"ダークネットへの走査\"}";
static const char SUBJECT_JA[] =
    "[darkscope] 警告: 203.0.113.7 からダークネットへの走査 (alert-42)";
static const char TEXT_JA[] =
    "Example \"Net\" ]Corp 御中\n\n"
    "貴組織のアドレス 203.0.113.7 から、ダークネットへの走査を観測しました。\n"
    ".\n"
    "詳細は添付の JSON をご覧ください。\n";
static const char ORG[] = "Example \"Net\" ]Corp\\";

static struct ds_message msg1(void)
{
    return (struct ds_message){
        .id = "alert-42",
        .org = ORG,
        .subject = SUBJECT_JA,
        .text = TEXT_JA,
        .json = JSON1,
        .json_len = strlen(JSON1),
        .attachment_name = "alert-42.json",
        .severity = 2,
        .created = 1700000000,
    };
}

/* ---- helpers: paths, files, time ---- */

static void path_in(char *out, size_t cap, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", tmpdir, name);
    assert_true(n > 0 && (size_t)n < cap);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap + 1);
    assert_non_null(b);
    size_t r;
    while ((r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            b = realloc(b, cap + 1);
            assert_non_null(b);
        }
    }
    fclose(f);
    b[n] = '\0';
    if (len)
        *len = n;
    return b;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A port on 127.0.0.1 that nothing listens on (bound, then released). */
static int free_port_of(int type)
{
    int fd = socket(AF_INET, type, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static int free_port(void)
{
    return free_port_of(SOCK_STREAM);
}

/* ---- receivers: child processes ---- */

static const char *python(void)
{
    const char *p = getenv("DS_PYTHON");
    if (p && p[0])
        return p;
    /* Debian's interpreter, which has python3-aiosmtpd (a pyenv or venv python3 may not) */
    return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

/* The port of listener `name` ("smtp", "http", "udp", "tcp") from a receiver's port file. */
static int port_of(const char *port_file, const char *name)
{
    char *text = slurp(port_file, NULL);
    assert_non_null(text);
    int port = -1;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char key[16];
        int p;
        if (sscanf(line, "%15s %d", key, &p) == 2 && strcmp(key, name) == 0)
            port = p;
    }
    free(text);
    assert_true(port > 0 && port < 65536);
    return port;
}

/* Starts tests/receivers/SCRIPT with "--port-file PORT_FILE" and args (NULL-terminated);
 * returns once the receiver has written its port file. Its output goes to TMP/TAG.log. */
static pid_t start_receiver(const char *tag, const char *script, const char *port_file,
                            const char *const *args)
{
    char script_path[1024], log[512];
    snprintf(script_path, sizeof script_path, "%s/%s", receivers, script);
    snprintf(log, sizeof log, "%s/%s.log", tmpdir, tag);
    unlink(port_file);
    const char *argv[32] = {python(), script_path, "--port-file", port_file};
    size_t n = 4;
    for (; args && args[n - 4] && n < 31; n++)
        argv[n] = args[n - 4];
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int null = open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (null >= 0)
            dup2(null, 0);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int slot = -1;
    for (int i = 0; i < MAX_CHILDREN && slot < 0; i++)
        if (children[i] == 0)
            slot = i;
    assert_true(slot >= 0);
    children[slot] = pid;
    for (int waited = 0; access(port_file, R_OK) != 0; waited += 20) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            children[slot] = 0;
            char *out = slurp(log, NULL);
            fail_msg("receiver %s exited (status %d) before listening (needs %s with "
                     "python3-aiosmtpd); its output:\n%s",
                     script, status, python(), out ? out : "");
        }
        if (waited > START_TIMEOUT_MS)
            fail_msg("receiver %s wrote no port file in %d ms", script, START_TIMEOUT_MS);
        sleep_ms(20);
    }
    return pid;
}

/* SIGTERM, and the receiver must exit 0 by itself within 10 s. */
static void stop_receiver(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] == pid)
            children[i] = 0;
    assert_int_equal(kill(pid, SIGTERM), 0);
    int status = 0;
    pid_t w = 0;
    for (int waited = 0; waited < 10000 && (w = waitpid(pid, &status, WNOHANG)) == 0; waited += 10)
        sleep_ms(10);
    if (w != pid) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("receiver %d did not exit on SIGTERM", (int)pid);
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Teardown after every test, passed or failed: no receiver outlives its test. */
static int kill_children(void **st)
{
    (void)st;
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (children[i] > 0) {
            kill(children[i], SIGKILL);
            waitpid(children[i], NULL, 0);
            children[i] = 0;
        }
    }
    return 0;
}

/* Waits until the JSON-lines file has at least n lines, returns them (an array). */
static json_t *wait_records(const char *path, size_t n)
{
    for (int waited = 0;; waited += 20) {
        char *text = slurp(path, NULL);
        size_t lines = 0;
        for (char *p = text; p && *p; p++)
            lines += *p == '\n';
        if (lines >= n) {
            json_t *arr = json_array();
            char *save = NULL;
            for (char *line = strtok_r(text, "\n", &save); line;
                 line = strtok_r(NULL, "\n", &save)) {
                json_error_t je;
                json_t *j = json_loads(line, 0, &je);
                if (!j)
                    fail_msg("%s: bad JSON line '%s': %s", path, line, je.text);
                json_array_append_new(arr, j);
            }
            free(text);
            return arr;
        }
        free(text);
        if (waited > 10000)
            fail_msg("%s: %zu records after 10 s, expected %zu", path, lines, n);
        sleep_ms(20);
    }
}

static const char *jstr(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        fail_msg("no string '%s' in the record", key);
    return json_string_value(v);
}

/* ---- the registry and the signature ---- */

static void test_registry(void **st)
{
    (void)st;
    size_t n = 0;
    while (ds_deliverers[n])
        n++;
    assert_int_equal(n, 4);
    assert_ptr_equal(ds_deliverer_find("smtp"), &ds_deliver_smtp);
    assert_ptr_equal(ds_deliverer_find("webhook"), &ds_deliver_webhook);
    assert_ptr_equal(ds_deliverer_find("syslog"), &ds_deliver_syslog);
    assert_ptr_equal(ds_deliverer_find("file"), &ds_deliver_file);
    assert_null(ds_deliverer_find("fax"));
    assert_null(ds_deliverer_find(NULL));
    for (size_t i = 0; i < n; i++) {
        assert_ptr_equal(ds_deliverer_find(ds_deliverers[i]->name), ds_deliverers[i]);
        assert_non_null(ds_deliverers[i]->open);
        assert_non_null(ds_deliverers[i]->send);
        assert_non_null(ds_deliverers[i]->close);
    }
}

static void test_signature(void **st)
{
    (void)st;
    /* computed with: printf '%s' '1700000000.{"id":...}' | openssl dgst -sha256 -hmac KEY */
    static const char body[] = "{\"id\":\"alert-42\",\"org\":\"Example\",\"severity\":\"high\"}";
    char out[100];
    ds_webhook_signature("whsec_darkscope_test", 1700000000, body, strlen(body), out, sizeof out);
    assert_string_equal(
        out, "t=1700000000,v1=155bea14dff5ae6bec763641c350cf8f30c167efed41d0cda678481969abe0b2");
    ds_webhook_signature("k", 1700000000, "", 0, out, sizeof out);
    assert_string_equal(
        out, "t=1700000000,v1=5c2999a43333a6877f49c8003f235c4f6de40f85b1b7414b70bd470a8db53d97");

    /* and against the openssl command on a larger, binary-ish UTF-8 body */
    char path[512], cmd[1024];
    path_in(path, sizeof path, "sig-payload");
    int64_t t = 1733000000;
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fprintf(f, "%lld.", (long long)t);
    fwrite(JSON1, 1, strlen(JSON1), f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "openssl dgst -sha256 -hmac 'sécret key' -r '%s'", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char hex[128] = "";
    assert_int_equal(fscanf(p, "%127s", hex), 1);
    assert_int_equal(pclose(p), 0);
    assert_int_equal(strlen(hex), 64);
    ds_webhook_signature("sécret key", t, JSON1, strlen(JSON1), out, sizeof out);
    char want[128];
    snprintf(want, sizeof want, "t=%lld,v1=%s", (long long)t, hex);
    assert_string_equal(out, want);
    assert_true(strlen(out) < 100);
}

/* ---- file ---- */

struct appender {
    const char *path;
    int thread;
    int failures;
};

static void *append_lines(void *arg)
{
    struct appender *a = arg;
    struct ds_target t = {.channel = "file", .address = a->path};
    struct ds_err err = {0};
    void *state;
    if (ds_deliver_file.open(&state, &t, NULL, &err) < 0) {
        a->failures++;
        return NULL;
    }
    char *json = malloc(8192);
    char pad[6000];
    for (int i = 0; i < 1000; i++) {
        size_t padlen = (size_t)(i * 37 + a->thread * 11) % 5000; /* 0 .. 4999 bytes */
        memset(pad, 'a' + a->thread, padlen);
        pad[padlen] = '\0';
        int n =
            snprintf(json, 8192, "{\"thread\":%d,\"seq\":%d,\"pad\":\"%s\"}", a->thread, i, pad);
        char id[32];
        snprintf(id, sizeof id, "t%d-%d", a->thread, i);
        struct ds_message m = {.id = id, .json = json, .json_len = (size_t)n};
        if (ds_deliver_file.send(state, &m, &err) < 0)
            a->failures++;
    }
    free(json);
    ds_deliver_file.close(state);
    return NULL;
}

static void test_file_threads(void **st)
{
    (void)st;
    char path[512];
    path_in(path, sizeof path, "alerts.jsonl");
    unlink(path);
    pthread_t th[2];
    struct appender a[2] = {{.path = path, .thread = 0}, {.path = path, .thread = 1}};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, append_lines, &a[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(a[0].failures, 0);
    assert_int_equal(a[1].failures, 0);

    size_t len;
    char *text = slurp(path, &len);
    assert_non_null(text);
    assert_true(len > 0 && text[len - 1] == '\n');
    int next[2] = {0, 0}; /* each thread's lines appear whole, once, in its own order */
    size_t lines = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        if (!j)
            fail_msg("line %zu is not JSON (%s): %.80s", lines + 1, je.text, line);
        int th_id = (int)json_integer_value(json_object_get(j, "thread"));
        int seq = (int)json_integer_value(json_object_get(j, "seq"));
        assert_true(th_id == 0 || th_id == 1);
        assert_int_equal(seq, next[th_id]);
        next[th_id]++;
        size_t padlen = (size_t)(seq * 37 + th_id * 11) % 5000;
        assert_int_equal(strlen(json_string_value(json_object_get(j, "pad"))), padlen);
        json_decref(j);
        lines++;
    }
    assert_int_equal(lines, 2000);
    assert_int_equal(next[0], 1000);
    assert_int_equal(next[1], 1000);
    free(text);
}

static void test_file_errors(void **st)
{
    (void)st;
    char path[512];
    path_in(path, sizeof path, "bad.jsonl");
    unlink(path);
    struct ds_target t = {.channel = "file", .address = path};
    struct ds_err err = {0};
    void *state;
    assert_int_equal(ds_deliver_file.open(&state, &t, NULL, &err), 0);
    static const char nl[] = "{\"a\":1,\n\"b\":2}";
    struct ds_message m = {.id = "alert-7", .json = nl, .json_len = strlen(nl)};
    assert_int_equal(ds_deliver_file.send(state, &m, &err), -EINVAL);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "alert-7"));
    static const char cr[] = "{\"a\":\"x\r\"}";
    m.json = cr;
    m.json_len = strlen(cr);
    assert_int_equal(ds_deliver_file.send(state, &m, &err), -EINVAL);
    m.json = NULL;
    m.json_len = 0;
    assert_int_equal(ds_deliver_file.send(state, &m, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "no JSON"));
    m.json = "{\"a\":1}";
    m.json_len = 7;
    assert_int_equal(ds_deliver_file.send(state, &m, &err), 0);
    assert_int_equal(ds_deliver_file.send(state, &m, &err), 0); /* a resend: a second line */
    /* rotated away by rename: the next line starts a new file at the path */
    char rotated[600];
    snprintf(rotated, sizeof rotated, "%s.1", path);
    assert_int_equal(rename(path, rotated), 0);
    m.json = "{\"b\":2}";
    assert_int_equal(ds_deliver_file.send(state, &m, &err), 0);
    ds_deliver_file.close(state);
    char *text = slurp(rotated, NULL);
    assert_string_equal(text, "{\"a\":1}\n{\"a\":1}\n");
    free(text);
    text = slurp(path, NULL);
    assert_string_equal(text, "{\"b\":2}\n");
    free(text);

    /* a directory that does not exist: the error names the path */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no/such/dir/x.jsonl", tmpdir);
    t.address = missing;
    state = NULL;
    assert_int_equal(ds_deliver_file.open(&state, &t, NULL, &err), -ENOENT);
    assert_null(state);
    assert_non_null(strstr(err.msg, missing));
}

/* ---- syslog ---- */

/* Checks one recorded message: "<PRI>1 TIMESTAMP sensor-1.test darkscope - ALERT [SD] ..." */
static void check_syslog(const char *got, int pri, const char *id, const char *json)
{
    char head[16];
    snprintf(head, sizeof head, "<%d>1 ", pri);
    if (strncmp(got, head, strlen(head)) != 0)
        fail_msg("message does not start with '%s': %.60s", head, got);
    const char *ts = got + strlen(head);
    struct tm tm = {0};
    const char *rest = strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm);
    assert_non_null(rest);
    assert_true(rest[0] == '.');
    for (int i = 1; i <= 6; i++)
        assert_true(rest[i] >= '0' && rest[i] <= '9');
    assert_memory_equal(rest + 7, "Z ", 2);
    time_t when = timegm(&tm);
    assert_true(llabs((long long)(when - time(NULL))) < 120);
    char *want = NULL;
    assert_true(asprintf(&want,
                         "sensor-1.test darkscope - ALERT [darkscope@32473 id=\"%s\" "
                         "org=\"Example \\\"Net\\\" \\]Corp\\\\\"] %s %s",
                         id, SUBJECT_JA, json) > 0);
    assert_string_equal(rest + 9, want);
    free(want);
    /* the JSON is the tail from the first '{' */
    const char *brace = strchr(got, '{');
    assert_non_null(brace);
    assert_string_equal(brace, json);
    json_error_t je;
    json_t *j = json_loads(brace, 0, &je);
    assert_non_null(j);
    json_decref(j);
}

static void test_syslog_udp(void **st)
{
    (void)st;
    char pf[512], log[512], addr[64];
    path_in(pf, sizeof pf, "syslog-udp.port");
    path_in(log, sizeof log, "syslog-udp.jsonl");
    unlink(log);
    const char *args[] = {"--log", log, NULL};
    pid_t pid = start_receiver("syslog-udp", "syslog_server.py", pf, args);
    snprintf(addr, sizeof addr, "udp://127.0.0.1:%d", port_of(pf, "udp"));
    struct ds_target t = {.channel = "syslog", .address = addr};
    struct ds_deliver_config cfg = {.hostname = "sensor-1.test", .timeout_ms = 2000};
    struct ds_err err = {0};
    void *state;
    assert_int_equal(ds_deliver_syslog.open(&state, &t, &cfg, &err), 0);
    struct ds_message m = msg1();
    for (int sev = 0; sev <= 3; sev++) { /* low, medium, high, critical */
        m.severity = sev;
        if (ds_deliver_syslog.send(state, &m, &err) < 0)
            fail_msg("%s", err.msg);
    }
    /* too large for a datagram */
    size_t big_len = 70000;
    char *big = malloc(big_len + 1);
    assert_non_null(big);
    memset(big, 'x', big_len);
    big[0] = '{';
    big[big_len] = '\0';
    m.json = big;
    m.json_len = big_len;
    assert_int_equal(ds_deliver_syslog.send(state, &m, &err), -EMSGSIZE);
    assert_non_null(strstr(err.msg, addr));
    free(big);
    ds_deliver_syslog.close(state);

    json_t *recs = wait_records(log, 4);
    assert_int_equal(json_array_size(recs), 4);
    static const int pri[] = {133, 132, 131, 130}; /* local0 * 8 + notice, warning, err, crit */
    for (size_t i = 0; i < 4; i++) {
        json_t *r = json_array_get(recs, i);
        assert_string_equal(jstr(r, "transport"), "udp");
        check_syslog(jstr(r, "msg"), pri[i], "alert-42", JSON1);
    }
    json_decref(recs);
    stop_receiver(pid);
}

static void test_syslog_tcp(void **st)
{
    (void)st;
    char pf[512], log[512], addr[64];
    path_in(pf, sizeof pf, "syslog-tcp.port");
    path_in(log, sizeof log, "syslog-tcp.jsonl");
    unlink(log);
    const char *args[] = {"--log", log, NULL};
    pid_t pid = start_receiver("syslog-tcp", "syslog_server.py", pf, args);
    int port = port_of(pf, "tcp");
    snprintf(addr, sizeof addr, "tcp://localhost:%d", port); /* a name: getaddrinfo */
    struct ds_target t = {.channel = "syslog", .address = addr};
    struct ds_deliver_config cfg = {.hostname = "sensor-1.test", .timeout_ms = 2000};
    struct ds_err err = {0};
    void *state;
    assert_int_equal(ds_deliver_syslog.open(&state, &t, &cfg, &err), 0);
    struct ds_message m = msg1();
    m.severity = 3;
    if (ds_deliver_syslog.send(state, &m, &err) < 0)
        fail_msg("%s", err.msg);
    /* a large message: framing across many segments */
    size_t big_len = 200000;
    char *big = malloc(big_len + 1);
    assert_non_null(big);
    memcpy(big, "{\"pad\":\"", 8);
    memset(big + 8, 'y', big_len - 10);
    memcpy(big + big_len - 2, "\"}", 3);
    struct ds_message mb = msg1();
    mb.id = "alert-43";
    mb.json = big;
    mb.json_len = big_len;
    mb.severity = 0;
    if (ds_deliver_syslog.send(state, &mb, &err) < 0)
        fail_msg("%s", err.msg);
    m.severity = 1;
    if (ds_deliver_syslog.send(state, &m, &err) < 0)
        fail_msg("%s", err.msg);

    json_t *recs = wait_records(log, 3);
    assert_int_equal(json_array_size(recs), 3);
    check_syslog(jstr(json_array_get(recs, 0), "msg"), 130, "alert-42", JSON1);
    check_syslog(jstr(json_array_get(recs, 1), "msg"), 133, "alert-43", big);
    check_syslog(jstr(json_array_get(recs, 2), "msg"), 132, "alert-42", JSON1);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(jstr(json_array_get(recs, i), "transport"), "tcp");
        assert_null(json_object_get(json_array_get(recs, i), "error"));
    }
    /* one connection for all three */
    json_int_t peer = json_integer_value(json_object_get(json_array_get(recs, 0), "peer"));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(recs, 2), "peer")), peer);
    json_decref(recs);

    /* the receiver goes away: an error naming the address; it comes back on the same port:
     * the channel reconnects by itself */
    stop_receiver(pid);
    sleep_ms(100);
    assert_true(ds_deliver_syslog.send(state, &m, &err) < 0);
    assert_non_null(strstr(err.msg, addr));
    unlink(log);
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    const char *args2[] = {"--log", log, "--tcp-port", port_s, NULL};
    pid = start_receiver("syslog-tcp2", "syslog_server.py", pf, args2);
    assert_int_equal(port_of(pf, "tcp"), port);
    m.severity = 2;
    if (ds_deliver_syslog.send(state, &m, &err) < 0)
        fail_msg("after the restart: %s", err.msg);
    recs = wait_records(log, 1);
    assert_int_equal(json_array_size(recs), 1);
    check_syslog(jstr(json_array_get(recs, 0), "msg"), 131, "alert-42", JSON1);
    json_decref(recs);
    ds_deliver_syslog.close(state);
    free(big);
    stop_receiver(pid);
}

static void test_syslog_addresses(void **st)
{
    (void)st;
    static const char *const bad[] = {
        "syslog://127.0.0.1:514", "127.0.0.1:514", "tcp://127.0.0.1:0",
        "udp://127.0.0.1:70000",  "tcp://:514",    "udp://[::1:514",
        "tcp://127.0.0.1:5x"};
    struct ds_deliver_config cfg = {.hostname = "h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ds_target t = {.channel = "syslog", .address = bad[i]};
        struct ds_err err = {0};
        void *state = NULL;
        assert_int_equal(ds_deliver_syslog.open(&state, &t, &cfg, &err), -EINVAL);
        assert_null(state);
        assert_non_null(strstr(err.msg, bad[i]));
    }
    /* nothing listening on a TCP port: connection refused, named */
    char addr[64];
    snprintf(addr, sizeof addr, "tcp://127.0.0.1:%d", free_port());
    struct ds_target t = {.channel = "syslog", .address = addr};
    struct ds_err err = {0};
    void *state;
    assert_int_equal(ds_deliver_syslog.open(&state, &t, &cfg, &err), 0);
    struct ds_message m = msg1();
    assert_int_equal(ds_deliver_syslog.send(state, &m, &err), -ECONNREFUSED);
    assert_non_null(strstr(err.msg, addr));
    ds_deliver_syslog.close(state);

    /* nothing listening on a UDP port: the ICMP error shows on the next send */
    snprintf(addr, sizeof addr, "udp://127.0.0.1:%d", free_port_of(SOCK_DGRAM));
    assert_int_equal(ds_deliver_syslog.open(&state, &t, &cfg, &err), 0);
    assert_int_equal(ds_deliver_syslog.send(state, &m, &err), 0);
    sleep_ms(100);
    assert_int_equal(ds_deliver_syslog.send(state, &m, &err), -ECONNREFUSED);
    assert_non_null(strstr(err.msg, addr));
    ds_deliver_syslog.close(state);
}

/* ---- webhook ---- */

static void start_http(const char *tag, const char *log, const char *const *extra, pid_t *pid,
                       int *port)
{
    char pf[512];
    snprintf(pf, sizeof pf, "%s/%s.port", tmpdir, tag);
    const char *args[12] = {"--log", log};
    size_t n = 2;
    for (; extra && extra[n - 2]; n++)
        args[n] = extra[n - 2];
    args[n] = NULL;
    unlink(log);
    *pid = start_receiver(tag, "http_receiver.py", pf, args);
    *port = port_of(pf, "http");
}

static const char *header(json_t *rec, const char *name)
{
    json_t *h = json_object_get(rec, "headers");
    const char *k;
    json_t *v;
    json_object_foreach(h, k, v)
    {
        if (strcasecmp(k, name) == 0)
            return json_string_value(v);
    }
    return NULL;
}

static void test_webhook(void **st)
{
    (void)st;
    char log[512], url[128];
    path_in(log, sizeof log, "webhook.jsonl");
    pid_t pid;
    int port;
    const char *extra[] = {"--secret", "whsec_darkscope_test", NULL};
    start_http("webhook", log, extra, &pid, &port);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hooks/darkscope", port);

    struct ds_target t = {.channel = "webhook", .address = url, .secret = "whsec_darkscope_test"};
    struct ds_deliver_config cfg = {.timeout_ms = 5000};
    struct ds_err err = {0};
    void *state;
    assert_int_equal(ds_deliver_webhook.open(&state, &t, &cfg, &err), 0);
    struct ds_message m = msg1();
    int64_t before = (int64_t)time(NULL);
    if (ds_deliver_webhook.send(state, &m, &err) < 0)
        fail_msg("%s", err.msg);
    struct ds_message m2 = msg1();
    m2.id = "digest-2024-01-02";
    m2.json = "{\"digest\":true}";
    m2.json_len = strlen(m2.json);
    if (ds_deliver_webhook.send(state, &m2, &err) < 0)
        fail_msg("%s", err.msg);
    if (ds_deliver_webhook.send(state, &m, &err) < 0) /* a resend: the same key */
        fail_msg("%s", err.msg);
    ds_deliver_webhook.close(state);

    json_t *recs = wait_records(log, 3);
    assert_int_equal(json_array_size(recs), 3);
    json_t *r = json_array_get(recs, 0);
    assert_int_equal(json_integer_value(json_object_get(r, "status")), 200);
    assert_true(json_is_true(json_object_get(r, "verified")));
    assert_string_equal(jstr(r, "path"), "/hooks/darkscope");
    assert_string_equal(jstr(r, "body"), JSON1);
    assert_int_equal(json_integer_value(json_object_get(r, "body_len")), strlen(JSON1));
    assert_string_equal(header(r, "Content-Type"), "application/json");
    assert_string_equal(header(r, "Idempotency-Key"), "alert-42");
    assert_string_equal(header(r, "X-Darkscope-Id"), "alert-42");
    /* the signature header is exactly ds_webhook_signature of its timestamp and the body */
    const char *sig = header(r, "X-Darkscope-Signature");
    assert_non_null(sig);
    long long ts = 0;
    assert_int_equal(sscanf(sig, "t=%lld,", &ts), 1);
    assert_true(ts >= before && ts <= (long long)time(NULL));
    char want[100];
    ds_webhook_signature("whsec_darkscope_test", ts, JSON1, strlen(JSON1), want, sizeof want);
    assert_string_equal(sig, want);

    json_t *r2 = json_array_get(recs, 1);
    assert_string_equal(jstr(r2, "body"), "{\"digest\":true}");
    assert_string_equal(header(r2, "Idempotency-Key"), "digest-2024-01-02");
    assert_true(json_is_true(json_object_get(r2, "verified")));
    json_t *r3 = json_array_get(recs, 2);
    assert_string_equal(header(r3, "Idempotency-Key"), "alert-42");
    assert_string_equal(jstr(r3, "body"), JSON1);
    /* one handle per state: the connection is kept between deliveries */
    json_int_t cport = json_integer_value(json_object_get(r, "client_port"));
    assert_int_equal(json_integer_value(json_object_get(r2, "client_port")), cport);
    assert_int_equal(json_integer_value(json_object_get(r3, "client_port")), cport);
    json_decref(recs);

    /* a wrong secret, and no secret: the receiver answers 401, the error names URL and status */
    static const char *const secrets[] = {"wrong-secret", NULL};
    for (int i = 0; i < 2; i++) {
        t.secret = secrets[i];
        assert_int_equal(ds_deliver_webhook.open(&state, &t, &cfg, &err), 0);
        assert_int_equal(ds_deliver_webhook.send(state, &m, &err), -EREMOTEIO);
        assert_non_null(strstr(err.msg, url));
        assert_non_null(strstr(err.msg, "HTTP 401"));
        ds_deliver_webhook.close(state);
    }
    recs = wait_records(log, 5);
    assert_int_equal(json_array_size(recs), 5);
    for (size_t i = 3; i < 5; i++) {
        assert_int_equal(json_integer_value(json_object_get(json_array_get(recs, i), "status")),
                         401);
        assert_false(json_is_true(json_object_get(json_array_get(recs, i), "verified")));
    }
    assert_null(header(json_array_get(recs, 4), "X-Darkscope-Signature"));
    json_decref(recs);
    stop_receiver(pid);
}

static void test_webhook_failures(void **st)
{
    (void)st;
    char log[512], url[128];
    path_in(log, sizeof log, "webhook-500.jsonl");
    pid_t pid;
    int port;
    const char *extra500[] = {"--mode", "500", NULL};
    start_http("webhook-500", log, extra500, &pid, &port);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", port);
    struct ds_target t = {.channel = "webhook", .address = url, .secret = "s"};
    struct ds_deliver_config cfg = {.timeout_ms = 5000};
    struct ds_err err = {0};
    void *state;
    struct ds_message m = msg1();
    assert_int_equal(ds_deliver_webhook.open(&state, &t, &cfg, &err), 0);
    assert_int_equal(ds_deliver_webhook.send(state, &m, &err), -EAGAIN);
    assert_non_null(strstr(err.msg, url));
    assert_non_null(strstr(err.msg, "HTTP 500"));
    assert_non_null(strstr(err.msg, "internal error (test mode)"));
    ds_deliver_webhook.close(state);
    stop_receiver(pid);

    /* an answer slower than the timeout */
    path_in(log, sizeof log, "webhook-slow.jsonl");
    const char *extraslow[] = {"--mode", "slow", NULL};
    start_http("webhook-slow", log, extraslow, &pid, &port);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", port);
    cfg.timeout_ms = 400;
    assert_int_equal(ds_deliver_webhook.open(&state, &t, &cfg, &err), 0);
    double t0 = now_s();
    assert_int_equal(ds_deliver_webhook.send(state, &m, &err), -ETIMEDOUT);
    double took = now_s() - t0;
    assert_true(took >= 0.35 && took < 3.0);
    assert_non_null(strstr(err.msg, url));
    ds_deliver_webhook.close(state);
    stop_receiver(pid);

    /* nobody listening */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", free_port());
    assert_int_equal(ds_deliver_webhook.open(&state, &t, &cfg, &err), 0);
    assert_int_equal(ds_deliver_webhook.send(state, &m, &err), -ECONNREFUSED);
    assert_non_null(strstr(err.msg, url));
    ds_deliver_webhook.close(state);

    /* not an HTTP URL */
    t.address = "ftp://127.0.0.1/x";
    state = NULL;
    assert_int_equal(ds_deliver_webhook.open(&state, &t, &cfg, &err), -EINVAL);
    assert_null(state);
    assert_non_null(strstr(err.msg, "ftp://127.0.0.1/x"));
}

/* ---- smtp ---- */

/* the value of the first header called name in a receiver record ([[name, value], ...]) */
static const char *mail_header(json_t *rec, const char *name, int *count)
{
    const char *found = NULL;
    size_t i;
    json_t *h;
    *count = 0;
    json_array_foreach(json_object_get(rec, "headers"), i, h)
    {
        if (strcasecmp(json_string_value(json_array_get(h, 0)), name) == 0) {
            if (!found)
                found = json_string_value(json_array_get(h, 1));
            (*count)++;
        }
    }
    return found;
}

static void check_mail_header(json_t *rec, const char *name, const char *want)
{
    int count;
    const char *got = mail_header(rec, name, &count);
    if (!got)
        fail_msg("no %s header", name);
    assert_int_equal(count, 1);
    assert_string_equal(got, want);
}

/* Checks saved message K of DIR: parsed by Python's email package, and the raw bytes. */
static json_t *check_mail(const char *dir, int k, const struct ds_message *m)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%d.json", dir, k);
    json_error_t je;
    json_t *rec = json_load_file(path, 0, &je);
    if (!rec)
        fail_msg("%s: %s", path, je.text);
    assert_string_equal(jstr(rec, "mail_from"), "alerts@darkscope.example");
    assert_int_equal(json_array_size(json_object_get(rec, "rcpt_tos")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(rec, "rcpt_tos"), 0)),
                        "soc@org.example");
    assert_int_equal(json_array_size(json_object_get(rec, "defects")), 0);
    check_mail_header(rec, "From", "darkscope <alerts@darkscope.example>");
    check_mail_header(rec, "To", "soc@org.example");
    check_mail_header(rec, "Subject", m->subject);
    check_mail_header(rec, "Date", "Tue, 14 Nov 2023 22:13:20 +0000");
    check_mail_header(rec, "Message-ID", "<alert-42@darkscope.example>");
    check_mail_header(rec, "X-Darkscope-Alert-Id", "alert-42");
    check_mail_header(rec, "X-Darkscope-Org", ORG);
    check_mail_header(rec, "MIME-Version", "1.0");
    assert_string_equal(jstr(rec, "content_type"), "multipart/mixed");
    json_t *parts = json_object_get(rec, "parts");
    assert_int_equal(json_array_size(parts), 2);
    json_t *text = json_array_get(parts, 0), *att = json_array_get(parts, 1);
    assert_string_equal(jstr(text, "content_type"), "text/plain");
    assert_string_equal(jstr(text, "charset"), "utf-8");
    assert_string_equal(jstr(text, "transfer_encoding"), "base64");
    /* the text in canonical form: CRLF line breaks */
    char crlf[4096];
    size_t o = 0;
    for (const char *c = m->text; *c && o < sizeof crlf - 3; c++) {
        if (*c == '\n')
            crlf[o++] = '\r';
        crlf[o++] = *c;
    }
    crlf[o] = '\0';
    assert_string_equal(jstr(text, "payload"), crlf);
    assert_string_equal(jstr(att, "content_type"), "application/json");
    assert_string_equal(jstr(att, "disposition"), "attachment");
    assert_string_equal(jstr(att, "filename"), "alert-42.json");
    assert_string_equal(jstr(att, "payload"), m->json);
    assert_int_equal(json_integer_value(json_object_get(att, "payload_len")), m->json_len);

    /* raw: CRLF lines of at most 78 characters, the subject as RFC 2047 encoded-words */
    snprintf(path, sizeof path, "%s/%d.eml", dir, k);
    size_t len;
    char *raw = slurp(path, &len);
    assert_non_null(raw);
    assert_non_null(strstr(raw, "\r\nSubject: =?UTF-8?B?"));
    assert_non_null(strstr(raw, "\r\nMessage-ID: <alert-42@darkscope.example>\r\n"));
    assert_non_null(strstr(raw, "\r\nX-Darkscope-Alert-Id: alert-42\r\n"));
    size_t col = 0;
    for (size_t i = 0; i < len; i++) {
        if (raw[i] == '\n') {
            assert_true(i > 0 && raw[i - 1] == '\r');
            col = 0;
        } else if (++col > 79) { /* 78 and the CR */
            fail_msg("%s: line longer than 78 characters at byte %zu", path, i);
        }
        assert_true((unsigned char)raw[i] < 128); /* 7-bit: both parts are base64 */
    }
    free(raw);
    return rec;
}

static void smtp_cfg(struct ds_deliver_config *cfg, char *url, size_t cap, int port)
{
    snprintf(url, cap, "smtp://127.0.0.1:%d", port);
    *cfg = (struct ds_deliver_config){
        .smtp_url = url,
        .smtp_from = "darkscope <alerts@darkscope.example>",
        .timeout_ms = 10000,
        .hostname = "sensor-1.test",
    };
}

static int count_files(const char *dir, const char *suffix)
{
    int n = 0;
    char path[600];
    for (int k = 1; k < 100; k++) {
        snprintf(path, sizeof path, "%s/%d%s", dir, k, suffix);
        n += access(path, F_OK) == 0;
    }
    return n;
}

static void test_smtp_plain(void **st)
{
    (void)st;
    char pf[512], dir[512], url[64];
    path_in(pf, sizeof pf, "smtp-plain.port");
    path_in(dir, sizeof dir, "mail-plain");
    assert_int_equal(mkdir(dir, 0755), 0);
    const char *args[] = {"--out-dir", dir, NULL};
    pid_t pid = start_receiver("smtp-plain", "smtp_server.py", pf, args);
    struct ds_deliver_config cfg;
    smtp_cfg(&cfg, url, sizeof url, port_of(pf, "smtp"));
    struct ds_target t = {.channel = "smtp", .address = "soc@org.example"};
    struct ds_err err = {0};
    void *state;
    assert_int_equal(ds_deliver_smtp.open(&state, &t, &cfg, &err), 0);
    struct ds_message m = msg1();
    if (ds_deliver_smtp.send(state, &m, &err) < 0)
        fail_msg("%s", err.msg);
    if (ds_deliver_smtp.send(state, &m, &err) < 0) /* a resend */
        fail_msg("%s", err.msg);
    ds_deliver_smtp.close(state);
    stop_receiver(pid);

    assert_int_equal(count_files(dir, ".eml"), 2);
    json_t *rec = check_mail(dir, 1, &m);
    assert_false(json_is_true(json_object_get(rec, "tls")));
    assert_true(json_is_null(json_object_get(rec, "user")));
    json_decref(rec);
    json_decref(check_mail(dir, 2, &m));
    /* the resend is byte for byte the same message: receivers dedupe on its Message-ID */
    char p1[600], p2[600];
    snprintf(p1, sizeof p1, "%s/1.eml", dir);
    snprintf(p2, sizeof p2, "%s/2.eml", dir);
    size_t l1, l2;
    char *a = slurp(p1, &l1), *b = slurp(p2, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(a, b, l1);
    free(a);
    free(b);
}

static void test_smtp_starttls_auth(void **st)
{
    (void)st;
    char pf[512], dir[512], url[64], cert[512], key[512], cmd[2048];
    path_in(pf, sizeof pf, "smtp-tls.port");
    path_in(dir, sizeof dir, "mail-tls");
    path_in(cert, sizeof cert, "cert.pem");
    path_in(key, sizeof key, "key.pem");
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout '%s' -out '%s' -days 2 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 >'%s/openssl.log' 2>&1",
             key, cert, tmpdir);
    assert_int_equal(system(cmd), 0);
    const char *args[] = {"--out-dir", dir,     "--tls-cert", cert,          "--tls-key", key,
                          "--user",    "alice", "--password", "s3cret pass", NULL};
    pid_t pid = start_receiver("smtp-tls", "smtp_server.py", pf, args);
    struct ds_deliver_config cfg;
    smtp_cfg(&cfg, url, sizeof url, port_of(pf, "smtp"));
    cfg.smtp_starttls = true;
    cfg.smtp_user = "alice";
    cfg.smtp_password = "s3cret pass";
    cfg.ca_file = cert;
    struct ds_target t = {.channel = "smtp", .address = "soc@org.example"};
    struct ds_err err = {0};
    void *state;
    struct ds_message m = msg1();

    /* STARTTLS, the certificate checked against its own CA file, AUTH */
    assert_int_equal(ds_deliver_smtp.open(&state, &t, &cfg, &err), 0);
    if (ds_deliver_smtp.send(state, &m, &err) < 0)
        fail_msg("%s", err.msg);
    ds_deliver_smtp.close(state);

    /* a wrong password: refused, the error names the server and the recipient */
    cfg.smtp_password = "wrong";
    assert_int_equal(ds_deliver_smtp.open(&state, &t, &cfg, &err), 0);
    assert_int_equal(ds_deliver_smtp.send(state, &m, &err), -EACCES);
    assert_non_null(strstr(err.msg, url));
    assert_non_null(strstr(err.msg, "soc@org.example"));
    assert_non_null(strstr(err.msg, "Login denied"));
    ds_deliver_smtp.close(state);
    cfg.smtp_password = "s3cret pass";

    /* the self-signed certificate without its CA file: not trusted */
    cfg.ca_file = NULL;
    assert_int_equal(ds_deliver_smtp.open(&state, &t, &cfg, &err), 0);
    assert_int_equal(ds_deliver_smtp.send(state, &m, &err), -EPROTO);
    assert_non_null(strstr(err.msg, url));
    ds_deliver_smtp.close(state);

    /* ... unless certificate checks are off */
    cfg.tls_insecure = true;
    assert_int_equal(ds_deliver_smtp.open(&state, &t, &cfg, &err), 0);
    if (ds_deliver_smtp.send(state, &m, &err) < 0)
        fail_msg("%s", err.msg);
    ds_deliver_smtp.close(state);

    /* without STARTTLS the server refuses to go on */
    cfg.smtp_starttls = false;
    cfg.smtp_user = NULL;
    assert_int_equal(ds_deliver_smtp.open(&state, &t, &cfg, &err), 0);
    assert_true(ds_deliver_smtp.send(state, &m, &err) < 0);
    assert_non_null(strstr(err.msg, url));
    ds_deliver_smtp.close(state);
    stop_receiver(pid);

    assert_int_equal(count_files(dir, ".eml"), 2);
    for (int k = 1; k <= 2; k++) {
        json_t *rec = check_mail(dir, k, &m);
        assert_true(json_is_true(json_object_get(rec, "tls")));
        assert_string_equal(jstr(rec, "user"), "alice");
        json_decref(rec);
    }
}

static void test_smtp_down(void **st)
{
    (void)st;
    char url[64];
    struct ds_deliver_config cfg;
    smtp_cfg(&cfg, url, sizeof url, free_port());
    cfg.timeout_ms = 700;
    struct ds_target t = {.channel = "smtp", .address = "soc@org.example"};
    struct ds_err err = {0};
    void *state;
    struct ds_message m = msg1();

    /* no listener: refused at once */
    assert_int_equal(ds_deliver_smtp.open(&state, &t, &cfg, &err), 0);
    double t0 = now_s();
    assert_int_equal(ds_deliver_smtp.send(state, &m, &err), -ECONNREFUSED);
    assert_true(now_s() - t0 < 2.0);
    assert_non_null(strstr(err.msg, url));
    assert_non_null(strstr(err.msg, "soc@org.example"));
    ds_deliver_smtp.close(state);

    /* a listener that never greets: the timeout ends the attempt */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    smtp_cfg(&cfg, url, sizeof url, ntohs(sa.sin_port));
    cfg.timeout_ms = 700;
    assert_int_equal(ds_deliver_smtp.open(&state, &t, &cfg, &err), 0);
    t0 = now_s();
    assert_int_equal(ds_deliver_smtp.send(state, &m, &err), -ETIMEDOUT);
    double took = now_s() - t0;
    assert_true(took >= 0.6 && took < 3.0);
    assert_non_null(strstr(err.msg, url));
    assert_non_null(strstr(err.msg, "Timeout"));
    ds_deliver_smtp.close(state);
    close(fd);

    /* bad settings fail open() with the value named */
    cfg.smtp_url = "http://127.0.0.1:25";
    state = NULL;
    assert_int_equal(ds_deliver_smtp.open(&state, &t, &cfg, &err), -EINVAL);
    assert_null(state);
    assert_non_null(strstr(err.msg, "http://127.0.0.1:25"));
    smtp_cfg(&cfg, url, sizeof url, 25);
    t.address = "soc@org.example\r\nBcc: x@y";
    assert_int_equal(ds_deliver_smtp.open(&state, &t, &cfg, &err), -EINVAL);
    t.address = "soc@org.example";
    cfg.smtp_from = "nobody";
    assert_int_equal(ds_deliver_smtp.open(&state, &t, &cfg, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "nobody"));
    assert_null(state);
}

/* ---- setup ---- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int group_setup(void **st)
{
    (void)st;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/ds-deliver-XXXXXX", base && base[0] ? base : "/tmp");
    if (!mkdtemp(tmpdir))
        return -1;
    /* DS_TEST_DATA is tests/data; the receivers are beside it */
    snprintf(receivers, sizeof receivers, "%s", DS_TEST_DATA);
    char *slash = strrchr(receivers, '/');
    if (!slash)
        return -1;
    snprintf(slash, sizeof receivers - (size_t)(slash - receivers), "/receivers");
    return 0;
}

static int group_teardown(void **st)
{
    kill_children(st);
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

int main(void)
{
    /* only 127.0.0.1 is ever contacted: no proxy from the environment */
    static const char *const proxies[] = {"http_proxy",  "https_proxy", "HTTP_PROXY",
                                          "HTTPS_PROXY", "all_proxy",   "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
        unsetenv(proxies[i]);
    setenv("no_proxy", "*", 1);
    setenv("PYTHONDONTWRITEBYTECODE", "1", 1); /* nothing written into tests/receivers */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_registry, kill_children),
        cmocka_unit_test_teardown(test_signature, kill_children),
        cmocka_unit_test_teardown(test_file_threads, kill_children),
        cmocka_unit_test_teardown(test_file_errors, kill_children),
        cmocka_unit_test_teardown(test_syslog_udp, kill_children),
        cmocka_unit_test_teardown(test_syslog_tcp, kill_children),
        cmocka_unit_test_teardown(test_syslog_addresses, kill_children),
        cmocka_unit_test_teardown(test_webhook, kill_children),
        cmocka_unit_test_teardown(test_webhook_failures, kill_children),
        cmocka_unit_test_teardown(test_smtp_plain, kill_children),
        cmocka_unit_test_teardown(test_smtp_starttls_auth, kill_children),
        cmocka_unit_test_teardown(test_smtp_down, kill_children),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
