/* err.h - the one error convention: 0 or a negative errno-style code, plus a message. */
#ifndef DS_ERR_H
#define DS_ERR_H

#include <errno.h>
#include <stddef.h>

/*
 * Functions that can fail return 0 (or a positive count) on success and a negative
 * errno-style code on failure, and describe the failure in a caller-owned struct ds_err.
 * The message names the offending value and where it came from (file:line, file:offset,
 * option name). A NULL struct ds_err pointer is allowed: the message is then dropped.
 */
struct ds_err {
    int code;      /* the negative code last set, 0 if none */
    char msg[512]; /* human-readable, no trailing newline */
};

/* Sets err (if not NULL) and returns code, so callers can write `return ds_err_set(...)`. */
int ds_err_set(struct ds_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to an existing message (for adding context on the way up). */
int ds_err_wrap(struct ds_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
