/* rag_time — see rag_time.h. */
#include "rag_time.h"

#include <errno.h>

/* Process-wide, set once at start-up before threads exist. */
static int rag_time_no_sleep;

void
rag_time_forbid_sleep(void)
{
    rag_time_no_sleep = 1;
}

int
rag_time_may_sleep(void)
{
    return !rag_time_no_sleep;
}

long
rag_time_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

double
rag_time_mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
rag_time_sleep_ms(long ms)
{
    struct timespec ts;

    if (ms <= 0 || rag_time_no_sleep)
        return;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void
rag_time_sleep_until_stop(long ms, volatile sig_atomic_t *stop)
{
    long end = rag_time_mono_ms() + ms, left;

    if (rag_time_no_sleep)
        return;
    while (!*stop && (left = end - rag_time_mono_ms()) > 0)
        rag_time_sleep_ms(left > 100 ? 100 : left);
}

struct timespec
rag_time_abs_after_ms(long ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}
