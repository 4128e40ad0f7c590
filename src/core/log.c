/* log.c - levelled, per-subsystem logging to stderr, as text or JSON lines. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum ds_log_level g_level = DS_LOG_WARN; /* written only by ds_log_setup */
static int g_json;

static const char *const level_names[] = {[DS_LOG_ERROR] = "error",
                                          [DS_LOG_WARN] = "warn",
                                          [DS_LOG_INFO] = "info",
                                          [DS_LOG_DEBUG] = "debug"};

void ds_log_setup(enum ds_log_level level, int json)
{
    g_level = level;
    g_json = json;
}

int ds_log_enabled(enum ds_log_level level)
{
    return level <= g_level;
}

/* Escapes s into a JSON string body; returns bytes written (truncates safely). */
static size_t json_escape(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
    return n;
}

void ds_log(enum ds_log_level level, const char *subsys, const char *fmt, ...)
{
    if (!ds_log_enabled(level))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    char line[2600];
    int n;
    if (g_json) {
        char esc[2200];
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        json_escape(esc, sizeof esc, msg);
        n = snprintf(line, sizeof line,
                     "{\"ts\":%lld.%03ld,\"level\":\"%s\",\"sub\":\"%s\",\"msg\":\"%s\"}\n",
                     (long long)ts.tv_sec, ts.tv_nsec / 1000000, level_names[level], subsys, esc);
    } else {
        n = snprintf(line, sizeof line, "darkscope: %s: %s%s%s\n", subsys,
                     level == DS_LOG_ERROR  ? "error: "
                     : level == DS_LOG_WARN ? "warning: "
                                            : "",
                     msg, "");
    }
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line)
        n = (int)sizeof line - 1;
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
