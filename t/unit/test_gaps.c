/*
 * Unit tests for the gap report's pure parts (lib/rag_gaps.c): term sets,
 * Jaccard similarity and the deterministic single-link clustering.
 */
#include "unit.h"

#include "rag_gaps.h"

#include <math.h>
#include <stdlib.h>

static double
jac(const char *a, const char *b)
{
    rag_termset x, y;
    double j;

    if (rag_termset_build(a, strlen(a), &x) != 0 ||
        rag_termset_build(b, strlen(b), &y) != 0)
        return -1;
    j = rag_termset_jaccard(&x, &y);
    rag_termset_free(&x);
    rag_termset_free(&y);
    return j;
}

static void
test_termset(void)
{
    rag_termset s;

    /* duplicates, case and stopwords collapse; stems unify plurals */
    CHECK(rag_termset_build("The Slots, the SLOT and slots!", 29, &s) == 0);
    CHECK_INT(s.n, 1);
    rag_termset_free(&s);
    CHECK(rag_termset_build("", 0, &s) == 0);
    CHECK_INT(s.n, 0);
    rag_termset_free(&s);
    /* identifiers give the whole and the parts */
    CHECK(rag_termset_build("max_connections", 15, &s) == 0);
    CHECK_INT(s.n, 3);
    rag_termset_free(&s);
}

static void
test_jaccard(void)
{
    static const struct {
        const char *a, *b;
        double want;
    } t[] = {
        {"replication slots standby", "standby replication slots", 1.0},
        {"replication slots", "backup restore", 0.0},
        /* {replication, slot} vs {replication, slot, standby, server} */
        {"replication slots", "replication slots standby server", 0.5},
        {"", "", 0.0},
        {"", "anything", 0.0},
    };
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        double j = jac(t[i].a, t[i].b);
        if (fabs(j - t[i].want) > 1e-9)
            fprintf(stderr, "jaccard(%s | %s) = %f, want %f\n", t[i].a, t[i].b,
                    j, t[i].want);
        CHECK(fabs(j - t[i].want) < 1e-9);
        /* symmetric */
        CHECK(fabs(jac(t[i].b, t[i].a) - j) < 1e-12);
    }
}

static void
test_cluster(void)
{
    static const char *q[] = {
        "How do I configure replication slots for a standby?", /* 0 */
        "Backup fails with permission denied",                 /* 1 */
        "replication slot on the standby server configure",    /* 2 */
        "pg_dump backup permission denied error",              /* 3 */
        "What is the meaning of life?",                        /* 4 */
        "",                                                    /* 5 */
    };
    int cl[6], k;

    k = rag_gaps_cluster(q, 6, 0.3, cl);
    CHECK_INT(k, 4);
    CHECK_INT(cl[0], 0);
    CHECK_INT(cl[2], 0);
    CHECK_INT(cl[1], 1);
    CHECK_INT(cl[3], 1);
    CHECK_INT(cl[4], 2);
    CHECK_INT(cl[5], 3); /* no terms: never linked, its own cluster */

    /* threshold above every pair: all singletons, numbered in order */
    k = rag_gaps_cluster(q, 6, 1.01, cl);
    CHECK_INT(k, 6);
    CHECK_INT(cl[3], 3);

    CHECK_INT(rag_gaps_cluster(q, 0, 0.3, cl), 0);
}

static void
test_single_link_chain(void)
{
    /* a~b and b~c link a and c even though a and c share little:
     * single-link, and the result does not depend on pair order */
    static const char *q[] = {
        "alpha beta gamma delta",
        "gamma delta epsilon zeta",
        "epsilon zeta eta theta",
        "iota kappa",
    };
    const char *r[4];
    int cl[4], k;

    r[0] = q[2];
    r[1] = q[3];
    r[2] = q[1];
    r[3] = q[0];

    k = rag_gaps_cluster(q, 4, 0.3, cl);
    CHECK_INT(k, 2);
    CHECK(cl[0] == cl[1] && cl[1] == cl[2]);
    CHECK(cl[3] != cl[0]);
    k = rag_gaps_cluster(r, 4, 0.3, cl);
    CHECK_INT(k, 2);
    CHECK_INT(cl[0], 0); /* numbered by first member */
    CHECK_INT(cl[1], 1);
    CHECK_INT(cl[2], 0);
    CHECK_INT(cl[3], 0);
}

int
main(void)
{
    RUN(test_termset);
    RUN(test_jaccard);
    RUN(test_cluster);
    RUN(test_single_link_chain);
    UNIT_DONE();
}
