/*
 * rag_time — the one clock of the daemons and lib/.
 *
 * Durations and deadlines use the monotonic clock (never the wall clock,
 * which jumps). Sleeps resume after EINTR until the full time has passed,
 * except rag_time_sleep_until_stop(), which also returns early once *stop
 * is set (for loops that must notice SIGTERM). Nothing here allocates.
 *
 * Never sleep on an nginx thread or event loop: the module calls
 * rag_time_forbid_sleep() when a worker process starts, and code shared
 * with the daemons (rag_http's retries) asks rag_time_may_sleep() before
 * waiting and gives up instead.
 */
#ifndef RAG_TIME_H
#define RAG_TIME_H

#include <signal.h>
#include <time.h>

/* Monotonic milliseconds / seconds since an arbitrary origin. */
long rag_time_mono_ms(void);
double rag_time_mono_s(void);

/* Sleeps ms (no-op when ms <= 0). */
void rag_time_sleep_ms(long ms);

/* Sleeps ms in slices of at most 100 ms, returning early when *stop
 * becomes non-zero. */
void rag_time_sleep_until_stop(long ms, volatile sig_atomic_t *stop);

/* From now on this process must not sleep (nginx: every thread is the
 * event loop or a pool thread owed back to it). Set once at start-up;
 * afterwards the sleeps above return at once. */
void rag_time_forbid_sleep(void);
/* 1 unless rag_time_forbid_sleep() was called. */
int rag_time_may_sleep(void);

/* Wall-clock time ms from now, for pthread_cond_timedwait(). */
struct timespec rag_time_abs_after_ms(long ms);

#endif
