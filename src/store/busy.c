/* busy.c - waiting for the store's write lock (see busy.h). The handler keeps its timeout in
 * the pointer SQLite hands back and the start of a wait in a thread-local: safe on any thread. */
#include "store/busy.h"

#include <sqlite3.h>
#include <stdint.h>
#include <time.h>

#define POLL_NS 1000000L /* 1 ms */

static void sleep_ns(long ns)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = ns};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* When the current wait began: a thread waits on one connection at a time, and SQLite calls
 * the handler with tries = 0 at the start of each wait. */
static _Thread_local int64_t wait_start_ms;

static int handler(void *ctx, int tries)
{
    intptr_t timeout_ms = (intptr_t)ctx;
    int64_t now = mono_ms();
    if (tries == 0)
        wait_start_ms = now;
    if (now - wait_start_ms >= timeout_ms)
        return 0;
    sleep_ns(POLL_NS);
    return 1;
}

void ds_db_busy_wait(sqlite3 *db, int timeout_ms)
{
    sqlite3_busy_handler(db, handler, (void *)(intptr_t)(timeout_ms > 0 ? timeout_ms : 0));
}

void ds_db_yield(void)
{
    sleep_ns(3 * POLL_NS);
}
