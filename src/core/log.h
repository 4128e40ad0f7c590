/* log.h - levelled, per-subsystem logging to stderr, as text or JSON lines. */
#ifndef DS_LOG_H
#define DS_LOG_H

enum ds_log_level { DS_LOG_ERROR = 0, DS_LOG_WARN = 1, DS_LOG_INFO = 2, DS_LOG_DEBUG = 3 };

/* Process-wide settings, set once from main before threads start (read-only afterwards). */
void ds_log_setup(enum ds_log_level level, int json);
int ds_log_enabled(enum ds_log_level level);

/* Thread-safe: each call writes one whole line with a single write(2). */
void ds_log(enum ds_log_level level, const char *subsys, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define ds_error(sub, ...) ds_log(DS_LOG_ERROR, sub, __VA_ARGS__)
#define ds_warn(sub, ...) ds_log(DS_LOG_WARN, sub, __VA_ARGS__)
#define ds_info(sub, ...)                                                                          \
    do {                                                                                           \
        if (ds_log_enabled(DS_LOG_INFO))                                                           \
            ds_log(DS_LOG_INFO, sub, __VA_ARGS__);                                                 \
    } while (0)
#define ds_debug(sub, ...)                                                                         \
    do {                                                                                           \
        if (ds_log_enabled(DS_LOG_DEBUG))                                                          \
            ds_log(DS_LOG_DEBUG, sub, __VA_ARGS__);                                                \
    } while (0)

#endif
