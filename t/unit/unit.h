/*
 * unit.h — a tiny table-friendly test harness for lib/.
 *
 * Each t/unit/test_*.c is its own program: call CHECK()/CHECK_STR() from
 * test functions, list them in main() with RUN(), and end with
 * UNIT_DONE(), which prints "N passed, N failed" and sets the exit code.
 * Counters are file-static on purpose: one test program, one tally.
 */
#ifndef RAG_UNIT_H
#define RAG_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (cond) {                                                            \
            unit_passed++;                                                     \
        } else {                                                               \
            unit_failed++;                                                     \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
        }                                                                      \
    } while (0)

#define CHECK_STR(got, want)                                                   \
    do {                                                                       \
        const char *g_ = (got), *w_ = (want);                                  \
        if (g_ && w_ && strcmp(g_, w_) == 0) {                                 \
            unit_passed++;                                                     \
        } else {                                                               \
            unit_failed++;                                                     \
            fprintf(stderr, "%s:%d: got \"%s\", want \"%s\"\n", __FILE__,      \
                    __LINE__, g_ ? g_ : "(null)", w_ ? w_ : "(null)");         \
        }                                                                      \
    } while (0)

#define CHECK_INT(got, want)                                                   \
    do {                                                                       \
        long long g_ = (long long)(got), w_ = (long long)(want);               \
        if (g_ == w_) {                                                        \
            unit_passed++;                                                     \
        } else {                                                               \
            unit_failed++;                                                     \
            fprintf(stderr, "%s:%d: %s = %lld, want %lld\n", __FILE__,         \
                    __LINE__, #got, g_, w_);                                   \
        }                                                                      \
    } while (0)

#define RUN(fn)                                                                \
    do {                                                                       \
        fn();                                                                  \
    } while (0)

#define UNIT_DONE()                                                            \
    do {                                                                       \
        printf("%s: %d passed, %d failed\n", __FILE__, unit_passed,            \
               unit_failed);                                                   \
        return unit_failed ? 1 : 0;                                            \
    } while (0)

#endif
