/*
 * test_rng.h — deterministic pseudo-random test data for the unit tests
 * and benches: xorshift64 (Marsaglia), uniform and normal draws.
 *
 * The caller owns the state and picks the seed, so each program keeps
 * its own sequence (and its figures) whatever else uses this header.
 * Header-only (static inline): each test or bench is one program.
 * Never for anything but test data: it is not a cryptographic source.
 */
#ifndef RAG_TEST_RNG_H
#define RAG_TEST_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct {
    uint64_t s; /* never 0 */
} test_rng;

static inline uint64_t
test_rng_next(test_rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

/* uniform in [0, 1), 53 bits */
static inline double
test_rng_unit(test_rng *r)
{
    return (double)(test_rng_next(r) >> 11) / 9007199254740992.0;
}

/* standard normal (Box-Muller, one of the pair) */
static inline double
test_rng_gauss(test_rng *r)
{
    double u = test_rng_unit(r) + 1e-12, v = test_rng_unit(r);
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

#endif
