/*
 * test_search_page — lib/rag_search_page: the page part of a URL, the
 * page map (numbers in order of first appearance, ids and strings,
 * growth), the PAGEID section the writer adds, and an index written
 * before it (t/fixtures/index/pages.idx): it opens without page ids and
 * ranks exactly as the same records written with them.
 */
#include "rag_index.h"
#include "rag_search.h"
#include "rag_search_page.h"

#include "test_ix.h"
#include "unit.h"

#include "../fixtures/index/pages_corpus.h"

#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/test_search_page_XXXXXX";

static void
test_page_len(void)
{
    CHECK_INT(rag_page_len("https://x/a.html#s1", 19), 16);
    CHECK_INT(rag_page_len("https://x/a.html", 16), 16);
    CHECK_INT(rag_page_len("https://x/a.html#", 17), 16);
    CHECK_INT(rag_page_len("#top", 4), 0);
    CHECK_INT(rag_page_len("", 0), 0);
    /* only the first '#' counts */
    CHECK_INT(rag_page_len("a#b#c", 5), 1);
}

static void
test_map_str(void)
{
    rag_page_map m;
    char key[32];

    CHECK_INT(rag_page_map_init(&m, 2), 0);
    CHECK_INT(rag_page_map_str(&m, "a", 1), 0);
    CHECK_INT(rag_page_map_str(&m, "b", 1), 1);
    CHECK_INT(rag_page_map_str(&m, "a", 1), 0);
    CHECK_INT(rag_page_map_str(&m, "", 0), 2);
    CHECK_INT(rag_page_map_str(&m, "ab", 2), 3);
    CHECK_INT(rag_page_map_str(&m, "", 0), 2);
    /* past the size it was made for: it grows and keeps every number */
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(key, sizeof(key), "page%d", i);
        CHECK_INT(rag_page_map_str(&m, key, (size_t)n), 4 + i);
    }
    for (int i = 999; i >= 0; i--) {
        int n = snprintf(key, sizeof(key), "page%d", i);
        if (rag_page_map_str(&m, key, (size_t)n) != 4 + i) {
            CHECK(!"number kept after growth");
            break;
        }
    }
    CHECK_INT(rag_page_map_str(&m, "ab", 2), 3);
    CHECK_INT(m.n, 1004);
    rag_page_map_free(&m);
}

static void
test_map_id(void)
{
    rag_page_map m;
    int ok = 1;

    CHECK_INT(rag_page_map_init(&m, 0), 0);
    CHECK_INT(rag_page_map_id(&m, 7), 0);
    CHECK_INT(rag_page_map_id(&m, 0), 1);
    CHECK_INT(rag_page_map_id(&m, 7), 0);
    CHECK_INT(rag_page_map_id(&m, UINT32_MAX), 2);
    for (uint32_t i = 100; i < 5100; i++)
        if (rag_page_map_id(&m, i) != (long)(i - 100 + 3))
            ok = 0;
    for (uint32_t i = 100; i < 5100; i++)
        if (rag_page_map_id(&m, i) != (long)(i - 100 + 3))
            ok = 0;
    CHECK(ok);
    CHECK_INT(rag_page_map_id(&m, 0), 1);
    rag_page_map_free(&m);
}

static rag_index *
write_corpus(const char *name)
{
    rag_index_writer *w = rag_index_writer_new(0);

    if (w == NULL || pages_corpus_add(w) != 0)
        return NULL;
    return test_ix_write_open(w, dir, name);
}

/* The writer's page ids agree with the URLs: same id exactly when the
 * page parts are the same bytes, numbered in order of first appearance. */
static void
test_writer_ids(void)
{
    rag_index *ix = write_corpus("ids");
    const uint32_t *ids;
    rag_page_map m;
    int ok = 1;

    CHECK(ix != NULL);
    if (ix == NULL)
        return;
    ids = rag_index_page_ids(ix);
    CHECK(ids != NULL);
    CHECK_INT(rag_page_map_init(&m, 0), 0);
    for (uint32_t i = 0; ids && i < rag_index_count(ix); i++) {
        rag_index_chunk c;
        if (rag_index_chunk_get(ix, i, &c) != 0 ||
            (long)ids[i] !=
                rag_page_map_str(&m, c.url.p, rag_page_len(c.url.p, c.url.len)))
            ok = 0;
    }
    CHECK(ok);
    /* 40 pages; "p14.html" and "p14.html#" are one page */
    CHECK_INT(m.n, 40);
    rag_page_map_free(&m);
    /* rag_page_map_rec reads the ids: the same numbers */
    CHECK_INT(rag_page_map_init(&m, 0), 0);
    ok = 1;
    for (uint32_t i = 0; ids && i < rag_index_count(ix); i++)
        if (rag_page_map_rec(&m, ix, i) != (long)ids[i])
            ok = 0;
    CHECK(ok);
    rag_page_map_free(&m);
    rag_index_close(ix);
}

static int
same_hits(const rag_hit *a, int na, const rag_hit *b, int nb)
{
    if (na != nb)
        return 0;
    for (int i = 0; i < na; i++)
        if (a[i].rec != b[i].rec || a[i].chunk_id != b[i].chunk_id ||
            a[i].score != b[i].score || a[i].bm25 != b[i].bm25 ||
            a[i].bm25_rank != b[i].bm25_rank)
            return 0;
    return 1;
}

/* An index written before PAGEID opens, has no ids, and every search
 * (page evidence on and off, one hit per page or all, k 1..40) returns
 * exactly what the same records written with ids return. */
static void
test_old_index(void)
{
    char err[256];
    rag_index *old =
        rag_index_open("t/fixtures/index/pages.idx", err, sizeof(err));
    rag_index *cur = write_corpus("cur");
    static const char *const qs[] = {"vacuum",
                                     "index planner",
                                     "replica backup wal",
                                     "lock trigger",
                                     "memory sort",
                                     "hash join cluster",
                                     "extension",
                                     "tuple page buffer stats",
                                     "cost query role",
                                     "archive table"};
    static const enum rag_search_switch blend[] = {RAG_SEARCH_SW_DEFAULT,
                                                   RAG_SEARCH_SW_OFF};
    static const unsigned per[] = {0, 2, RAG_SEARCH_PER_PAGE_ANY};
    static const size_t ks[] = {1, 10, 40};
    rag_hit a[40], b[40];
    int ok = 1, some = 0, grouped = 0;

    if (old == NULL)
        fprintf(stderr, "open pages.idx: %s\n", err);
    CHECK(old != NULL);
    CHECK(cur != NULL);
    if (old == NULL || cur == NULL)
        goto out;
    CHECK(rag_index_page_ids(old) == NULL);
    CHECK(rag_index_page_ids(cur) != NULL);
    CHECK_INT(rag_index_count(old), PAGES_CORPUS_N);
    for (size_t qi = 0; qi < sizeof(qs) / sizeof(qs[0]); qi++)
        for (int bi = 0; bi < 2; bi++)
            for (int pi = 0; pi < 3; pi++)
                for (int ki = 0; ki < 3; ki++) {
                    rag_query q = {qs[qi], strlen(qs[qi]),  NULL,
                                   ks[ki], RAG_SEARCH_BM25, per[pi]};
                    rag_search_opts o = {0};
                    o.page_blend = blend[bi];
                    int na = rag_search_ex(old, &q, &o, a);
                    int nb = rag_search_ex(cur, &q, &o, b);
                    if (!same_hits(a, na, b, nb)) {
                        ok = 0;
                        fprintf(stderr,
                                "differs: \"%s\" blend %d per %u k %zu\n",
                                qs[qi], bi, per[pi], ks[ki]);
                    }
                    some += na > 0;
                    /* diversity did something: pages not in chunk order */
                    if (pi == 0 && ki == 2 && na > 1) {
                        rag_query q2 = q;
                        q2.per_page = RAG_SEARCH_PER_PAGE_ANY;
                        if (rag_search_ex(cur, &q2, &o, b) == na &&
                            !same_hits(a, na, b, na))
                            grouped++;
                    }
                }
    CHECK(ok);
    CHECK(some > 100);
    CHECK(grouped > 5);
out:
    rag_index_close(old);
    rag_index_close(cur);
}

/* With page evidence a hit's bm25 is still its own BM25 score (taken
 * from the pool, or recomputed for a hit outside it): bit for bit what
 * the plain list (evidence off, every chunk) gives that record. */
static void
test_hit_bm25(void)
{
    rag_index *ix = write_corpus("bm25");
    static const char *const qs[] = {"vacuum index", "replica backup wal",
                                     "memory sort hash join", "extension",
                                     "tuple page buffer stats"};
    rag_hit a[40], b[100];
    int ok = 1, checked = 0;

    CHECK(ix != NULL);
    for (size_t qi = 0; ix && qi < sizeof(qs) / sizeof(qs[0]); qi++) {
        rag_query q = {qs[qi], strlen(qs[qi]), NULL, 40, RAG_SEARCH_BM25, 0};
        rag_query qa = {qs[qi], strlen(qs[qi]),  NULL,
                        100,    RAG_SEARCH_BM25, RAG_SEARCH_PER_PAGE_ANY};
        rag_search_opts on = {0}, off = {0};
        off.page_blend = RAG_SEARCH_SW_OFF;
        int na = rag_search_ex(ix, &q, &on, a);
        int nb = rag_search_ex(ix, &qa, &off, b);
        /* (the plain list stops at RAG_SEARCH_MAX_K: a hit from deeper
         * in the pool is not compared) */
        for (int i = 0; i < na; i++)
            for (int j = 0; j < nb; j++)
                if (b[j].rec == a[i].rec) {
                    ok &= b[j].bm25 == a[i].bm25;
                    checked++;
                }
    }
    CHECK(ok);
    CHECK(checked > 50);
    rag_index_close(ix);
}

int
main(void)
{
    char path[256];

    if (mkdtemp(dir) == NULL)
        return 1;
    RUN(test_page_len);
    RUN(test_map_str);
    RUN(test_map_id);
    RUN(test_writer_ids);
    RUN(test_old_index);
    RUN(test_hit_bm25);
    snprintf(path, sizeof(path), "%s/ids.idx", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/cur.idx", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/bm25.idx", dir);
    unlink(path);
    rmdir(dir);
    UNIT_DONE();
}
