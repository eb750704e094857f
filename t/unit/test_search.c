#include "rag_index.h"
#include "rag_search.h"
#include "rag_terms.h"
#include "rag_vec.h"
#include "test_rng.h"
#include "test_ix.h"
#include "unit.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/test_search_XXXXXX";

typedef struct {
    const char *body;
    const float *vec;
} doc;

/* urls NULL: every record at "u", one page */
static rag_index *
build_at(const doc *docs, const char *const *urls, size_t n, uint32_t dims,
         const char *name)
{
    rag_index_writer *w = rag_index_writer_new(dims);

    for (size_t i = 0; i < n; i++) {
        rag_index_input in = {(int64_t)(100 + i), urls ? urls[i] : "u", "", "",
                              docs[i].body,       docs[i].vec};
        if (rag_index_writer_add(w, &in) != 0) {
            rag_index_writer_free(w);
            return NULL;
        }
    }
    return test_ix_write_open(w, dir, name);
}

static rag_index *
build(const doc *docs, size_t n, uint32_t dims, const char *name)
{
    return build_at(docs, NULL, n, dims, name);
}

static int
near(double a, double b)
{
    return fabs(a - b) < 1e-5;
}

/* BM25 k1 = 1.2, b = 0.75, N = 3, avgdl = 3; expected values worked out
 * by hand: idf(df=2) = ln(1 + 1.5/2.5) = ln 1.6 = 0.470004,
 * idf(df=1) = ln(1 + 2.5/1.5) = 0.980829.
 * "cat": d0 tf 2, dl 3: 0.470004 * 2 * 2.2 / (2 + 1.2) = 0.646255
 *        d1 tf 1, dl 2: 0.470004 * 2.2 / (1 + 1.2 * (0.25 + 0.5)) = 0.544215
 * "fish bird": d2 dl 4 (norm 1.2 * 1.25 = 1.5):
 *        0.470004 * 4.4 / 3.5 + 0.980829 * 2.2 / 2.5 = 1.453991
 *        d1: 0.544215 */
static void
test_bm25(void)
{
    static const doc docs[] = {
        {"cat dog cat", NULL},
        {"cat fish", NULL},
        {"dog fish fish bird", NULL},
    };
    /* three pages: a page's other chunks (page evidence) would add to
     * the scores worked out here */
    static const char *const urls[] = {"u0", "u1", "u2"};
    rag_index *ix = build_at(docs, urls, 3, 0, "bm25");
    rag_hit h[10];
    rag_query q = {"cat", 3, NULL, 10, RAG_SEARCH_HYBRID, 0};

    CHECK(ix != NULL);
    if (ix == NULL)
        return;
    CHECK(near(rag_index_avgdl(ix), 3.0));
    CHECK_INT(rag_search(ix, &q, h), 2);
    CHECK_INT(h[0].rec, 0);
    CHECK_INT(h[0].chunk_id, 100);
    CHECK(near(h[0].bm25, 0.646255));
    CHECK(near(h[0].score, 0.646255));
    CHECK_INT(h[0].bm25_rank, 1);
    CHECK_INT(h[1].rec, 1);
    CHECK(near(h[1].bm25, 0.544215));

    q.text = "Fish, birds!";
    q.text_len = strlen(q.text);
    CHECK_INT(rag_search(ix, &q, h), 2);
    CHECK_INT(h[0].rec, 2);
    CHECK(near(h[0].bm25, 1.453991));
    CHECK_INT(h[1].rec, 1);
    CHECK(near(h[1].bm25, 0.544215));

    /* k bounds the output; repeated query terms count once */
    q.text = "cat cat cat";
    q.text_len = strlen(q.text);
    q.k = 1;
    CHECK_INT(rag_search(ix, &q, h), 1);
    CHECK(near(h[0].bm25, 0.646255));
    q.text = "zebra the";
    q.text_len = strlen(q.text);
    CHECK_INT(rag_search(ix, &q, h), 0);

    /* bad arguments */
    q.k = 0;
    CHECK_INT(rag_search(ix, &q, h), -1);
    q.k = RAG_SEARCH_MAX_K + 1;
    CHECK_INT(rag_search(ix, &q, h), -1);
    q.k = 5;
    q.mode = RAG_SEARCH_VECTOR; /* no vectors, no qvec */
    CHECK_INT(rag_search(ix, &q, h), -1);
    q.mode = (enum rag_search_mode)9;
    CHECK_INT(rag_search(ix, &q, h), -1);
    CHECK_INT(rag_search(NULL, &q, h), -1);
    rag_index_close(ix);
}

static void
test_ties(void)
{
    static const doc docs[] = {
        {"other words", NULL},
        {"same text", NULL},
        {"same text", NULL},
        {"same text", NULL},
    };
    rag_index *ix = build(docs, 4, 0, "ties");
    rag_hit h[10];
    rag_query q = {"same", 4, NULL, 2, RAG_SEARCH_BM25, 0};

    CHECK(ix != NULL);
    if (ix == NULL)
        return;
    CHECK_INT(rag_search(ix, &q, h), 2);
    CHECK_INT(h[0].rec, 1); /* equal scores: lower record first */
    CHECK_INT(h[1].rec, 2);
    rag_index_close(ix);
}

/* Page diversity: page a's three chunks outscore b's and c's. By
 * default no page comes twice before every matching page came once; its
 * further chunks follow, best first. */
static void
test_per_page(void)
{
    static const doc docs[] = {
        {"lock lock lock row", NULL},
        {"lock lock row", NULL},
        {"lock lock lock row row", NULL},
        {"lock and some other words here", NULL},
        {"row and some other words here too", NULL},
        {"nothing to see", NULL},
    };
    static const char *const urls[] = {
        "http://x/a.html#one", "http://x/a.html#two", "http://x/a.html",
        "http://x/b.html#b",   "http://x/c.html",     "http://x/d.html",
    };
    rag_index *ix = build_at(docs, urls, 6, 0, "perpage");
    rag_hit h[10];
    rag_query q = {
        "lock row", 8, NULL, 10, RAG_SEARCH_BM25, RAG_SEARCH_PER_PAGE_ANY};
    int order[5];

    CHECK(ix != NULL);
    if (ix == NULL)
        return;
    /* plain chunk order: page a takes the first three places */
    CHECK_INT(rag_search(ix, &q, h), 5);
    for (int i = 0; i < 5; i++)
        order[i] = (int)h[i].rec;
    CHECK(order[0] <= 2 && order[1] <= 2 && order[2] <= 2);
    CHECK(order[3] >= 3 && order[4] >= 3);
    /* default: a's best, then b and c, then a's other two in order */
    q.per_page = 0;
    CHECK_INT(rag_search(ix, &q, h), 5);
    CHECK_INT(h[0].rec, order[0]);
    CHECK_INT(h[1].rec, order[3]);
    CHECK_INT(h[2].rec, order[4]);
    CHECK_INT(h[3].rec, order[1]);
    CHECK_INT(h[4].rec, order[2]);
    CHECK_INT(h[1].bm25_rank, 4);
    /* two per page */
    q.per_page = 2;
    CHECK_INT(rag_search(ix, &q, h), 5);
    CHECK_INT(h[0].rec, order[0]);
    CHECK_INT(h[1].rec, order[1]);
    CHECK_INT(h[2].rec, order[3]);
    CHECK_INT(h[3].rec, order[4]);
    CHECK_INT(h[4].rec, order[2]);
    /* k cuts the diversified list, not the chunk list */
    q.per_page = 0;
    q.k = 2;
    CHECK_INT(rag_search(ix, &q, h), 2);
    CHECK_INT(h[1].rec, order[3]);
    rag_index_close(ix);
}

/* One page with more matching chunks than the diversified pool
 * (RAG_SEARCH_POOL): its chunks outscore every other page's, and page
 * evidence lifts them all alike. The other pages still take the places
 * after its best (the pool was cut to its chunks before diversity: on
 * the Python manual io.html took places 1 and 3 to 6 of a question
 * about CPU cores). */
static void
test_per_page_pool(void)
{
    enum { NA = RAG_SEARCH_POOL + 10, NB = 5, N = NA + NB };
    static doc docs[N];
    static char urls_buf[N][32];
    const char *urls[N];
    rag_hit h[10];
    rag_query q = {"lock row", 8, NULL, 1 + NB, RAG_SEARCH_BM25, 0};
    rag_index *ix;

    for (size_t i = 0; i < N; i++) {
        docs[i].body = i < NA ? "lock lock row" : "lock and other words here";
        snprintf(urls_buf[i], sizeof(urls_buf[i]),
                 i < NA ? "http://x/a#%zu" : "http://x/p%zu", i);
        urls[i] = urls_buf[i];
    }
    ix = build_at(docs, urls, N, 0, "perpagepool");
    CHECK(ix != NULL);
    if (ix == NULL)
        return;
    CHECK_INT(rag_search(ix, &q, h), 1 + NB);
    CHECK(h[0].rec < NA);
    for (int i = 1; i <= NB; i++)
        CHECK(h[i].rec >= NA);
    rag_index_close(ix);
}

/* BM25 "cat": d0 rank 1, d1 rank 2, d2 absent.
 * Vector q = (1, 0): d2 cos 1 rank 1, d1 cos 0.8 rank 2, d0 cos 0 rank 3.
 * RRF: d0 1/61 + 1/63 = 0.0322665, d1 2/62 = 0.0322581, d2 1/61. */
static void
test_rrf(void)
{
    static const float v0[] = {0, 1}, v1[] = {0.8f, 0.6f}, v2[] = {1, 0};
    static const doc docs[] = {
        {"cat cat dog", v0},
        {"cat dog dog", v1},
        {"bird fish fish", v2},
    };
    static const float qv[] = {2, 0}; /* normalised by the search */
    static const char *const urls[] = {"u0", "u1", "u2"}; /* no page evidence */
    rag_index *ix = build_at(docs, urls, 3, 2, "rrf");
    rag_hit h[10];
    rag_query q = {"cat", 3, qv, 10, RAG_SEARCH_HYBRID, 0};

    CHECK(ix != NULL);
    if (ix == NULL)
        return;
    CHECK_INT(rag_search(ix, &q, h), 3);
    CHECK_INT(h[0].rec, 0);
    CHECK(near(h[0].score, 1.0 / 61 + 1.0 / 63));
    CHECK_INT(h[0].bm25_rank, 1);
    CHECK_INT(h[0].vec_rank, 3);
    CHECK(near(h[0].cosine, 0));
    CHECK_INT(h[1].rec, 1);
    CHECK(near(h[1].score, 2.0 / 62));
    CHECK(near(h[1].cosine, 0.8));
    CHECK(h[1].bm25 > 0);
    CHECK_INT(h[2].rec, 2);
    CHECK(near(h[2].score, 1.0 / 61));
    CHECK_INT(h[2].bm25_rank, 0);
    CHECK(near(h[2].bm25, 0));

    q.mode = RAG_SEARCH_VECTOR;
    CHECK_INT(rag_search(ix, &q, h), 3);
    CHECK_INT(h[0].rec, 2);
    CHECK(near(h[0].score, 1.0));
    CHECK_INT(h[1].rec, 1);
    CHECK_INT(h[2].rec, 0);
    q.mode = RAG_SEARCH_BM25;
    CHECK_INT(rag_search(ix, &q, h), 2);
    CHECK_INT(h[0].rec, 0);
    q.mode = RAG_SEARCH_HYBRID;
    q.qvec = NULL; /* no query embedding: BM25 only */
    CHECK_INT(rag_search(ix, &q, h), 2);
    CHECK(near(h[0].score, h[0].bm25));
    rag_index_close(ix);

    /* a tie in RRF (d0 only lexical, d2 only vector, both rank 1):
     * broken by record number */
    static const doc docs2[] = {
        {"cat", NULL},
        {"dog", v0},
        {"bird", v2},
    };
    ix = build(docs2, 3, 2, "rrf2");
    q.qvec = qv;
    CHECK_INT(rag_search(ix, &q, h), 3);
    CHECK_INT(h[0].rec, 0);
    CHECK_INT(h[1].rec, 2);
    CHECK(near(h[0].score, h[1].score));
    CHECK_INT(h[2].rec, 1);
    rag_index_close(ix);
}

/* many threads searching one index at once get the same answers as one
 * thread alone */
typedef struct {
    rag_index *ix;
    const char *const *queries;
    int nq;
    rag_hit (*want)[5];
    int *wantn;
    int mismatches;
} mt_arg;

static void *
mt_worker(void *p)
{
    mt_arg *a = p;
    rag_hit h[5];

    for (int round = 0; round < 200; round++) {
        int i = round % a->nq;
        rag_query q = {
            a->queries[i], strlen(a->queries[i]), NULL, 5, RAG_SEARCH_BM25, 0};
        int n = rag_search(a->ix, &q, h);
        if (n != a->wantn[i])
            a->mismatches++;
        for (int j = 0; j < n && j < a->wantn[i]; j++)
            if (h[j].rec != a->want[i][j].rec ||
                h[j].score != a->want[i][j].score)
                a->mismatches++;
    }
    return NULL;
}

/* An index in a collection's language: the query is stemmed with the
 * index's Snowball stemmer (German here), so "Haus" finds "Häuser";
 * the light English stemmer would not. Searched from several threads at
 * once (a stemmer is not thread-safe: one per query). */
static void
test_language(void)
{
    static const char *const bodies[] = {"Die H\xc3\xa4user der Altstadt",
                                         "Ein Auto f\xc3\xa4hrt schnell",
                                         "Stra\xc3\x9f"
                                         "en und Wege",
                                         "Das Auto und die Stra\xc3\x9f"
                                         "e"};
    static const char *const urls[] = {"u1", "u2", "u3", "u4"};
    static const char *const queries[] = {"Haus", "STRASSE", "Auto",
                                          "h\xc3\xa4usern", "Wegen"};
    static const int first[] = {100, -1, -1, 100, 102};
    char path[256], err[512];
    rag_index_writer *w = rag_index_writer_new(0);
    rag_index *ix;
    rag_hit h[5], want[5][5];
    int wantn[5], bad = 0;
    pthread_t th[4];
    mt_arg args[4];

    CHECK_INT(rag_index_writer_set_language(w, "german", err, sizeof(err)), 0);
    for (int i = 0; i < 4; i++) {
        rag_index_input in = {100 + i, urls[i], "", "", bodies[i], NULL};
        CHECK_INT(rag_index_writer_add(w, &in), 0);
    }
    snprintf(path, sizeof(path), "%s/german.idx", dir);
    CHECK_INT(rag_index_writer_write(w, path, 1, err, sizeof(err)), 0);
    rag_index_writer_free(w);
    ix = rag_index_open(path, err, sizeof(err));
    CHECK(ix != NULL);
    if (ix == NULL)
        return;
    for (int i = 0; i < 5; i++) {
        rag_query q = {queries[i], strlen(queries[i]), NULL,
                       5,          RAG_SEARCH_BM25,    0};
        wantn[i] = rag_search(ix, &q, want[i]);
        if (first[i] >= 0) {
            CHECK(wantn[i] >= 1 && want[i][0].chunk_id == first[i]);
        }
    }
    CHECK_INT(wantn[0], 1);
    CHECK_INT(wantn[1], 2); /* Straßen, Straße */
    CHECK_INT(wantn[2], 2); /* Auto twice */
    for (int t = 0; t < 4; t++) {
        args[t] = (mt_arg){ix, queries, 5, want, wantn, 0};
        pthread_create(&th[t], NULL, mt_worker, &args[t]);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        bad += args[t].mismatches;
    }
    CHECK_INT(bad, 0);
    rag_index_close(ix);

    /* the same records stemmed by the light English stemmer: "Haus"
     * does not meet "Häuser" */
    w = rag_index_writer_new(0);
    for (int i = 0; i < 4; i++) {
        rag_index_input in = {100 + i, urls[i], "", "", bodies[i], NULL};
        CHECK_INT(rag_index_writer_add(w, &in), 0);
    }
    CHECK_INT(rag_index_writer_write(w, path, 2, err, sizeof(err)), 0);
    rag_index_writer_free(w);
    ix = rag_index_open(path, err, sizeof(err));
    CHECK(ix != NULL);
    if (ix) {
        rag_query q = {"Haus", 4, NULL, 5, RAG_SEARCH_BM25, 0};
        CHECK_INT(rag_search(ix, &q, h), 0);
        rag_index_close(ix);
    }
}

/* Pseudo-relevance feedback: the words the best records share (here
 * "skip locked") join the query, so a record naming the feature without
 * any of the user's words is found; the first pass's best stays first;
 * terms in a tenth or more of the records are not taken. */
static void
test_prf(void)
{
    enum { NF = 44 };
    static char bodies[NF][96];
    static const char *urls[NF];
    static char ubuf[NF][16];
    doc docs[NF];
    rag_hit h[10], h0[10], h2[10];
    rag_search_opts off = {.ft = RAG_SEARCH_FT_AUTO, .prf = RAG_SEARCH_PRF_OFF},
                    on = {.ft = RAG_SEARCH_FT_AUTO, .prf = RAG_SEARCH_PRF_ON};
    rag_query q = {
        "two servers grab the same row", 29, NULL, 10, RAG_SEARCH_BM25, 0};

    snprintf(bodies[0], 96, "servers grab row row: use skip locked");
    snprintf(bodies[1], 96, "two servers grab a row; skip locked rows");
    snprintf(bodies[2], 96, "same row grabbed by servers, skip locked");
    snprintf(bodies[3], 96, "the skip locked clause of select for update");
    for (int i = 4; i < NF; i++)
        snprintf(bodies[i], 96, "filler w%dq number x%dz", i, i);
    for (int i = 0; i < NF; i++) {
        snprintf(ubuf[i], 16, "p%d", i);
        urls[i] = ubuf[i];
        docs[i] = (doc){bodies[i], NULL};
    }
    rag_index *ix = build_at(docs, urls, NF, 0, "prf");
    CHECK(ix != NULL);
    if (ix == NULL)
        return;
    int n0 = rag_search_ex(ix, &q, &off, h0);
    int n1 = rag_search_ex(ix, &q, &on, h);
    CHECK_INT(rag_search(ix, &q, h2), n0); /* the default: off */
    CHECK_INT(n0, 3); /* the records with the user's words */
    CHECK_INT(n1, 4); /* and the one naming the feature */
    CHECK(n0 > 0 && n1 > 0 && h[0].rec == h0[0].rec);
    int found = 0;
    for (int i = 0; i < n1; i++)
        found |= h[i].chunk_id == 103;
    CHECK(found);
    CHECK(n1 == 4 && h[3].chunk_id == 103 && h[3].bm25 > 0);
    for (int i = 0; i + 1 < n1; i++)
        CHECK(h[i].score >= h[i + 1].score);
    rag_index_close(ix);

    /* "skip" and "locked" in 4 of 5 records: too common to add */
    ix = build_at(docs, urls, 5, 0, "prf5");
    CHECK(ix != NULL);
    if (ix) {
        CHECK_INT(rag_search_ex(ix, &q, &on, h), 3);
        rag_index_close(ix);
    }
}

static void
test_threads(void)
{
    static const doc docs[] = {
        {"cat dog cat", NULL},        {"cat fish", NULL},
        {"dog fish fish bird", NULL}, {"bird bird cat", NULL},
        {"fish and chips", NULL},     {"dog days", NULL},
    };
    static const char *const queries[] = {"cat", "fish bird", "dog",
                                          "chips cat", "bird"};
    rag_index *ix = build(docs, 6, 0, "mt");
    rag_hit want[5][5];
    int wantn[5];
    pthread_t th[4];
    mt_arg args[4];
    int bad = 0;

    CHECK(ix != NULL);
    if (ix == NULL)
        return;
    for (int i = 0; i < 5; i++) {
        rag_query q = {queries[i], strlen(queries[i]), NULL,
                       5,          RAG_SEARCH_BM25,    0};
        wantn[i] = rag_search(ix, &q, want[i]);
    }
    for (int t = 0; t < 4; t++) {
        args[t] = (mt_arg){ix, queries, 5, want, wantn, 0};
        pthread_create(&th[t], NULL, mt_worker, &args[t]);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        bad += args[t].mismatches;
    }
    CHECK_INT(bad, 0);
    rag_index_close(ix);
}

static test_rng rng = {88172645463325252ull};

static double
rnd(void)
{
    return test_rng_unit(&rng);
}

static double
gauss(void)
{
    return test_rng_gauss(&rng);
}

/* int8 scan + float32 rescoring must find the exact float32 top 10 */
static void
test_vector_recall(void)
{
    enum { N = 3000, D = 100, Q = 25, K = 10 }; /* D: 6 AVX2 steps + a tail */
    float *vecs = malloc(sizeof(float) * N * D), qv[D];
    char path[256], err[256];
    rag_index_writer *w = rag_index_writer_new(D);
    rag_index *ix;
    rag_hit h[K];
    int exact_ok = 0;

    for (int i = 0; i < N * D; i++)
        vecs[i] = (float)gauss();
    for (int i = 0; i < N; i++) {
        rag_index_input in = {i, "u", "", "", "x", vecs + (size_t)i * D};
        rag_index_writer_add(w, &in);
    }
    snprintf(path, sizeof(path), "%s/vec.idx", dir);
    CHECK_INT(rag_index_writer_write(w, path, 1, err, sizeof(err)), 0);
    rag_index_writer_free(w);
    ix = rag_index_open(path, err, sizeof(err));
    CHECK(ix != NULL);
    if (ix == NULL)
        goto done;
    for (int qi = 0; qi < Q; qi++) {
        double sc[N], qn = 0;
        int best[K];
        for (int j = 0; j < D; j++) {
            qv[j] = (float)gauss();
            qn += (double)qv[j] * qv[j];
        }
        for (int i = 0; i < N; i++) {
            double d = 0, vn = 0;
            for (int j = 0; j < D; j++) {
                d += (double)qv[j] * vecs[i * D + j];
                vn += (double)vecs[i * D + j] * vecs[i * D + j];
            }
            sc[i] = d / sqrt(qn * vn);
        }
        for (int r = 0; r < K; r++) { /* exact top 10 by selection */
            int bi = -1;
            for (int i = 0; i < N; i++) {
                int used = 0;
                for (int u = 0; u < r; u++)
                    used |= best[u] == i;
                if (!used && (bi < 0 || sc[i] > sc[bi]))
                    bi = i;
            }
            best[r] = bi;
        }
        rag_query q = {
            NULL, 0, qv, K, RAG_SEARCH_VECTOR, RAG_SEARCH_PER_PAGE_ANY};
        int n = rag_search(ix, &q, h), same = n == K;
        for (int r = 0; same && r < K; r++)
            same = (int)h[r].rec == best[r] &&
                   fabs(h[r].cosine - sc[best[r]]) < 1e-5;
        exact_ok += same;
    }
    CHECK_INT(exact_ok, Q);
    rag_index_close(ix);
done:
    free(vecs);
}

/* ---- pruned BM25 == exhaustive BM25 ------------------------------------
 * A generated corpus (Zipf-distributed words, lengths 1-300, title and
 * heading fields, and many exact duplicates so equal scores straddle the
 * k-th place) is scored here the plain way: every record, every term,
 * from the text itself (rag_terms, the writer's field rules), with the
 * formula documented in rag_search.c rounded to 2^-40 units. The index's
 * pruned search must return the same records, in the same order, with
 * the same scores, for random queries at several k. */

#define EQ_DOCS 12000
#define EQ_VOCAB 400

typedef struct {
    char *text[EQ_VOCAB];
    size_t len[EQ_VOCAB];
} eq_vocab;

typedef struct {
    /* distinct terms of the record: frequency in all (title + heading
     * twice + body, plain BM25's bag), in the title, in the heading */
    uint32_t *term, *tf, *tt, *th;
    uint32_t n, dl;
    uint32_t flen[RAG_INDEX_FIELDS];
} eq_doc;

typedef struct {
    eq_vocab *v;
    uint32_t *tf, *tt, *th; /* per vocabulary word, in this record */
    uint32_t *seen, nseen;
    uint32_t dl;
    int field, rep; /* being read: RAG_FIELD_*, heading's second pass */
    uint32_t flen[RAG_INDEX_FIELDS];
    int unknown;
} eq_ctx;

static int
eq_word(const eq_vocab *v, const char *t, size_t n)
{
    for (int i = 0; i < EQ_VOCAB; i++)
        if (v->len[i] == n && memcmp(v->text[i], t, n) == 0)
            return i;
    return -1;
}

static int
eq_cb(void *ud, const char *t, size_t n, size_t off, size_t len)
{
    eq_ctx *c = ud;
    int w = eq_word(c->v, t, n);

    c->dl++;
    if (c->rep == 0)
        c->flen[c->field]++;
    if (w < 0) {
        c->unknown = 1;
        return 0;
    }
    if (c->tf[w]++ == 0)
        c->seen[c->nseen++] = (uint32_t)w;
    if (c->field == RAG_FIELD_TITLE)
        c->tt[w]++;
    else if (c->field == RAG_FIELD_HEADING && c->rep == 0)
        c->th[w]++;
    return 0;
}

/* k-th record of a Zipf(1) draw over n */
static int
zipf(int n)
{
    static double cdf[EQ_VOCAB];
    static int ready;
    double u;

    if (!ready) {
        double z = 0;
        for (int i = 0; i < EQ_VOCAB; i++)
            z += 1.0 / (i + 1);
        for (int i = 0, acc = 0; i < EQ_VOCAB; i++) {
            cdf[i] = (i ? cdf[i - 1] : 0) + 1.0 / (i + 1) / z;
            (void)acc;
        }
        ready = 1;
    }
    u = rnd();
    for (int i = 0; i < n; i++)
        if (u <= cdf[i])
            return i;
    return n - 1;
}

typedef struct {
    int64_t s;
    uint32_t rec;
} eq_scored;

static int
eq_cmp(const void *a, const void *b)
{
    const eq_scored *x = a, *y = b;
    if (x->s != y->s)
        return x->s > y->s ? -1 : 1;
    return (x->rec > y->rec) - (x->rec < y->rec);
}

/* The reference score of term i of record dc (fixed point), plain BM25
 * (bf NULL) or BM25F with bf and the fields' average lengths. */
static int64_t
eq_score(const eq_doc *dc, uint32_t i, double idf, double avgdl,
         const rag_index_bm25f *bf, const double *avg)
{
    double k1 = 1.2, b = 0.75;

    if (bf == NULL) {
        double t = dc->tf[i];
        double norm = k1 * (1 - b + b * dc->dl / avgdl);
        return (int64_t)(idf * t * (k1 + 1) / (t + norm) * 1099511627776.0 +
                         0.5);
    }
    uint32_t tt = dc->tt[i], th = dc->th[i], tb = dc->tf[i] - tt - 2 * th;
    double x = 0;
    if (tb)
        x += tb *
             rag_bm25f_wnorm(bf->weight[RAG_FIELD_BODY], bf->b[RAG_FIELD_BODY],
                             dc->flen[RAG_FIELD_BODY], avg[RAG_FIELD_BODY]);
    if (th)
        x += th * rag_bm25f_wnorm(
                      bf->weight[RAG_FIELD_HEADING], bf->b[RAG_FIELD_HEADING],
                      dc->flen[RAG_FIELD_HEADING], avg[RAG_FIELD_HEADING]);
    if (tt)
        x += tt * rag_bm25f_wnorm(
                      bf->weight[RAG_FIELD_TITLE], bf->b[RAG_FIELD_TITLE],
                      dc->flen[RAG_FIELD_TITLE], avg[RAG_FIELD_TITLE]);
    return (int64_t)(idf * (x * (bf->k1 + 1) / (x + bf->k1)) * 1099511627776.0 +
                     0.5);
}

static void
test_pruned_equals_exhaustive(void)
{
    static eq_vocab voc;
    static char body[4096], title[256], heading[256];
    eq_doc *docs = calloc(EQ_DOCS, sizeof(eq_doc));
    uint32_t *df = calloc(EQ_VOCAB, sizeof(uint32_t));
    eq_scored *all = malloc(EQ_DOCS * sizeof(eq_scored));
    eq_scored *div = malloc(EQ_DOCS * sizeof(eq_scored));
    eq_scored *late = malloc(EQ_DOCS * sizeof(eq_scored));
    int64_t *acc = calloc(EQ_DOCS, sizeof(int64_t));
    uint8_t *hit = calloc(EQ_DOCS, 1);
    eq_ctx ctx = {&voc,
                  calloc(EQ_VOCAB, 4),
                  calloc(EQ_VOCAB, 4),
                  calloc(EQ_VOCAB, 4),
                  calloc(EQ_VOCAB, 4),
                  0,
                  0,
                  0,
                  0,
                  {0},
                  0};
    /* [0] plain BM25, [1] BM25F (the default) */
    rag_index_writer *w[2] = {rag_index_writer_new(0), rag_index_writer_new(0)};
    rag_index *ixs[2] = {NULL, NULL};
    rag_index_bm25f bf;
    char path[256], err[256];
    uint64_t total = 0, ftotal[RAG_INDEX_FIELDS] = {0};
    double favg[RAG_INDEX_FIELDS];
    int add_fail = 0;
    int queries = 0, same = 0, tie_at_k = 0, pruned_k = 0, distinct = 0;
    int titled = 0;

    rag_index_bm25f_defaults(&bf);
    CHECK_INT(rag_index_writer_set_bm25f(w[0], NULL), 0);
    /* words: "qa".."zz" style, never stopwords, stable under stemming
     * (the index and this scorer both use rag_terms anyway) */
    for (int i = 0; i < EQ_VOCAB; i++) {
        char wbuf[16];
        snprintf(wbuf, sizeof(wbuf), "k%c%c%cx", 'a' + i % 26,
                 'a' + (i / 26) % 26, 'a' + i / 676);
        voc.text[i] = strdup(wbuf);
        voc.len[i] = strlen(wbuf);
    }
    for (uint32_t d = 0; d < EQ_DOCS; d++) {
        size_t o = 0;
        char url[32];
        /* pages of three chunks: record d is on page d / 3 */
        snprintf(url, sizeof(url), "p%u#s%u", d / 3, d % 3);
        /* every 7th record repeats an earlier one: equal scores */
        if (d > 100 && d % 7 == 0) {
            uint32_t src = (uint32_t)(rnd() * (d - 1));
            eq_doc *dc = &docs[d];
            *dc = docs[src];
            dc->term = malloc(dc->n * 4 + 4);
            dc->tf = malloc(dc->n * 4 + 4);
            dc->tt = calloc(dc->n + 1, 4);
            dc->th = calloc(dc->n + 1, 4);
            memcpy(dc->term, docs[src].term, dc->n * 4);
            memcpy(dc->tf, docs[src].tf, dc->n * 4);
            /* the writer needs the text: regenerate from the stored
             * bag of words (order does not matter to BM25), all of it
             * in the body */
            title[0] = heading[0] = '\0';
            for (uint32_t i = 0; i < dc->n; i++)
                for (uint32_t r = 0; r < dc->tf[i]; r++)
                    o += (size_t)snprintf(body + o, sizeof(body) - o, "%s ",
                                          voc.text[dc->term[i]]);
            dc->flen[RAG_FIELD_TITLE] = dc->flen[RAG_FIELD_HEADING] = 0;
            dc->flen[RAG_FIELD_BODY] = dc->dl;
        } else {
            int nw = 1 + (int)(rnd() * rnd() * 300);
            for (int i = 0; i < nw && o < sizeof(body) - 16; i++)
                o += (size_t)snprintf(body + o, sizeof(body) - o, "%s ",
                                      voc.text[zipf(EQ_VOCAB)]);
            /* titles of one or two words, some of them body words */
            snprintf(title, sizeof(title), "%s %s",
                     d % 3 ? "" : voc.text[zipf(EQ_VOCAB)],
                     d % 6 ? "" : voc.text[(int)(rnd() * EQ_VOCAB)]);
            snprintf(heading, sizeof(heading), "%s %s",
                     d % 5 ? "" : voc.text[zipf(EQ_VOCAB)],
                     d % 5 ? "" : voc.text[zipf(EQ_VOCAB)]);
            /* the reference: the writer's fields, heading twice for
             * plain BM25, once in its field for BM25F */
            ctx.nseen = 0;
            ctx.dl = 0;
            memset(ctx.flen, 0, sizeof(ctx.flen));
            ctx.rep = 0;
            ctx.field = RAG_FIELD_TITLE;
            rag_terms_each(title, strlen(title), eq_cb, &ctx);
            ctx.field = RAG_FIELD_HEADING;
            rag_terms_each(heading, strlen(heading), eq_cb, &ctx);
            ctx.rep = 1;
            rag_terms_each(heading, strlen(heading), eq_cb, &ctx);
            ctx.rep = 0;
            ctx.field = RAG_FIELD_BODY;
            rag_terms_each(body, o, eq_cb, &ctx);
            eq_doc *dc = &docs[d];
            dc->n = ctx.nseen;
            dc->dl = ctx.dl;
            memcpy(dc->flen, ctx.flen, sizeof(ctx.flen));
            dc->term = malloc(ctx.nseen * 4 + 4);
            dc->tf = malloc(ctx.nseen * 4 + 4);
            dc->tt = malloc(ctx.nseen * 4 + 4);
            dc->th = malloc(ctx.nseen * 4 + 4);
            for (uint32_t i = 0; i < ctx.nseen; i++) {
                uint32_t v = ctx.seen[i];
                dc->term[i] = v;
                dc->tf[i] = ctx.tf[v];
                dc->tt[i] = ctx.tt[v];
                dc->th[i] = ctx.th[v];
                titled += dc->tt[i] > 0 && dc->tt[i] < dc->tf[i];
                ctx.tf[v] = ctx.tt[v] = ctx.th[v] = 0;
            }
        }
        body[o] = '\0';
        for (int m = 0; m < 2; m++) {
            rag_index_input in = {d, url, title, heading, body, NULL};
            add_fail += rag_index_writer_add(w[m], &in) != 0;
        }
        total += docs[d].dl;
        for (int f = 0; f < RAG_INDEX_FIELDS; f++)
            ftotal[f] += docs[d].flen[f];
        for (uint32_t i = 0; i < docs[d].n; i++)
            df[docs[d].term[i]]++;
    }
    CHECK(!ctx.unknown);
    CHECK_INT(add_fail, 0);
    CHECK(titled > 1000); /* terms in the title and the body */
    for (int m = 0; m < 2; m++) {
        snprintf(path, sizeof(path), "%s/eq%d.idx", dir, m);
        CHECK_INT(rag_index_writer_write(w[m], path, 1, err, sizeof(err)), 0);
        rag_index_writer_free(w[m]);
        ixs[m] = rag_index_open(path, err, sizeof(err));
        CHECK(ixs[m] != NULL);
        if (ixs[m] == NULL) {
            fprintf(stderr, "open: %s\n", err);
            return;
        }
        CHECK(rag_index_avgdl(ixs[m]) == (double)total / EQ_DOCS);
    }
    CHECK(rag_index_fields_get(ixs[0]) == NULL);
    const rag_index_fields *F = rag_index_fields_get(ixs[1]);
    CHECK(F != NULL);
    if (F == NULL)
        return;
    for (int f = 0; f < RAG_INDEX_FIELDS; f++) {
        favg[f] = (double)ftotal[f] / EQ_DOCS;
        CHECK(F->avglen[f] == favg[f]);
        CHECK(F->p.weight[f] == bf.weight[f] && F->p.b[f] == bf.b[f]);
    }
    CHECK(F->p.k1 == bf.k1);

    double avgdl = (double)total / EQ_DOCS;
    static const size_t ks[] = {1, 3, 10, 40, 100};
    for (int qi = 0; qi < 400; qi++) {
        char qtext[512];
        size_t qo = 0;
        int nq = 1 + (int)(rnd() * 8), qw[16], nqw = 0;
        size_t k = ks[qi % 5];
        rag_hit h[RAG_SEARCH_MAX_K];

        for (int i = 0; i < nq; i++) {
            /* a mix of frequent and rare words, repeats, and an unknown
             * word now and then */
            int wi = qi % 3 == 0 ? zipf(EQ_VOCAB) : (int)(rnd() * EQ_VOCAB);
            if (rnd() < 0.05) {
                qo += (size_t)snprintf(qtext + qo, sizeof(qtext) - qo,
                                       "zzunknownzz ");
                continue;
            }
            qo += (size_t)snprintf(qtext + qo, sizeof(qtext) - qo, "%s ",
                                   voc.text[wi]);
            int dup = 0;
            for (int j = 0; j < nqw; j++)
                dup |= qw[j] == wi;
            if (!dup)
                qw[nqw++] = wi;
        }
        for (int m = 0; m < 2; m++) {
            /* exhaustive: every posting of every query term */
            memset(acc, 0, EQ_DOCS * sizeof(int64_t));
            memset(hit, 0, EQ_DOCS);
            for (uint32_t d = 0; d < EQ_DOCS; d++) {
                for (uint32_t i = 0; i < docs[d].n; i++) {
                    for (int j = 0; j < nqw; j++) {
                        if ((int)docs[d].term[i] != qw[j])
                            continue;
                        double n = EQ_DOCS, dfj = df[qw[j]];
                        double idf = log(1.0 + (n - dfj + 0.5) / (dfj + 0.5));
                        acc[d] += eq_score(&docs[d], i, idf, avgdl,
                                           m ? &bf : NULL, favg);
                        hit[d] = 1;
                    }
                }
            }
            size_t nall = 0;
            for (uint32_t d = 0; d < EQ_DOCS; d++)
                if (hit[d])
                    all[nall++] = (eq_scored){acc[d], d};
            qsort(all, nall, sizeof(eq_scored), eq_cmp);
            size_t want = nall < k ? nall : k;
            if (want > 0 && want < nall && all[want - 1].s == all[want].s)
                tie_at_k++;
            if (nall > 4 * k)
                pruned_k++;

            /* feedback off: BM25 of the query's own terms exactly */
            /* and no page evidence or question-word weights: the
             * plain BM25 the reference computes */
            rag_search_opts noprf = {.ft = RAG_SEARCH_FT_AUTO,
                                     .prf = RAG_SEARCH_PRF_OFF,
                                     .qwords = RAG_SEARCH_SW_OFF,
                                     .page_blend = RAG_SEARCH_SW_OFF};
            rag_query q = {
                qtext, qo, NULL, k, RAG_SEARCH_BM25, RAG_SEARCH_PER_PAGE_ANY};
            int got = rag_search_ex(ixs[m], &q, &noprf, h),
                ok = got == (int)want;
            for (int i = 0; ok && i < got; i++)
                ok = h[i].rec == all[i].rec &&
                     h[i].bm25 == all[i].s / 1099511627776.0 &&
                     h[i].chunk_id == (int64_t)all[i].rec;
            /* diversified (the default): the exhaustive best max(4k,
             * pool) in order, a page's second and later chunks moved
             * behind */
            size_t pool = 4 * k > RAG_SEARCH_POOL ? 4 * k : RAG_SEARCH_POOL;
            size_t nd = 0, nl = 0;
            if (pool > nall)
                pool = nall;
            for (size_t i = 0; i < pool; i++) {
                int first = 1;
                for (size_t j = 0; j < i && first; j++)
                    first = all[j].rec / 3 != all[i].rec / 3;
                if (first)
                    div[nd++] = all[i];
                else
                    late[nl++] = all[i];
            }
            memcpy(div + nd, late, nl * sizeof(eq_scored));
            q.per_page = 0;
            got = rag_search_ex(ixs[m], &q, &noprf, h);
            ok = ok && got == (int)(want < pool ? want : pool);
            for (int i = 0; ok && i < got; i++)
                ok = h[i].rec == div[i].rec &&
                     h[i].bm25 == div[i].s / 1099511627776.0;
            for (int i = 0; ok && i + 1 < got; i++)
                for (int j = i + 1; ok && j < got && (size_t)j < nd; j++)
                    ok = h[i].rec / 3 != h[j].rec / 3;
            distinct += ok && nd < pool;
            if (!ok && same == queries)
                fprintf(stderr,
                        "%s query %d \"%s\" k=%zu: got %d, want "
                        "%zu; first: rec %u vs %u\n",
                        m ? "BM25F" : "BM25", qi, qtext, k, got, want,
                        got > 0 ? h[0].rec : 0, want ? all[0].rec : 0);
            same += ok;
            queries++;
        }
    }
    CHECK_INT(same, queries);
    /* the corpus did exercise what it is for */
    CHECK(tie_at_k >= 40);
    CHECK(pruned_k >= 400);
    CHECK(distinct >= 200); /* pages did repeat in the pool */
    fprintf(stderr,
            "  pruned == exhaustive on %d queries, BM25 and BM25F "
            "(%d with a tie at the k-th place)\n",
            queries, tie_at_k);
    rag_index_close(ixs[0]);
    rag_index_close(ixs[1]);
    for (uint32_t d = 0; d < EQ_DOCS; d++) {
        free(docs[d].term);
        free(docs[d].tf);
        free(docs[d].tt);
        free(docs[d].th);
    }
    for (int i = 0; i < EQ_VOCAB; i++)
        free(voc.text[i]);
    free(docs);
    free(df);
    free(all);
    free(div);
    free(late);
    free(acc);
    free(hit);
    free(ctx.tf);
    free(ctx.tt);
    free(ctx.th);
    free(ctx.seen);
}

/* A body longer than 65534 terms: the search's 16-bit copy of the body
 * lengths sends it to FLDLEN; its score must be the formula's all the
 * same (BM25F, body field only). */
static void
test_long_body(void)
{
    enum { LONG = 70000 };
    char *big = malloc((size_t)LONG * 6 + 16);
    rag_index_bm25f bf;
    size_t o = 0;

    for (int i = 0; i < LONG; i++) {
        memcpy(big + o, "kzzzx ", 6);
        o += 6;
    }
    memcpy(big + o, "klongx", 7);
    doc d[3] = {{big, NULL}, {"klongx kzzzx", NULL}, {"kother", NULL}};
    rag_index *ix = build(d, 3, 0, "longbody");
    CHECK(ix != NULL);
    if (ix == NULL) {
        free(big);
        return;
    }
    const rag_index_fields *F = rag_index_fields_get(ix);
    CHECK(F != NULL && F->max_len[RAG_FIELD_BODY] == LONG + 1);
    CHECK(F != NULL && F->body_len16[0] == RAG_INDEX_LEN16_MORE &&
          F->body_len16[1] == 2);
    rag_index_bm25f_defaults(&bf);
    double avg = (LONG + 1 + 2 + 1) / 3.0;
    double idf = log(1.0 + (3 - 2 + 0.5) / (2 + 0.5));
    double want[2];
    uint32_t lens[2] = {LONG + 1, 2};
    for (int i = 0; i < 2; i++) {
        double x = 0;
        x += 1 * rag_bm25f_wnorm(bf.weight[RAG_FIELD_BODY],
                                 bf.b[RAG_FIELD_BODY], lens[i], avg);
        want[i] =
            (int64_t)(idf * (x * (bf.k1 + 1) / (x + bf.k1)) * 1099511627776.0 +
                      0.5) /
            1099511627776.0;
    }
    rag_hit h[3];
    rag_query q = {
        "klongx", 6, NULL, 3, RAG_SEARCH_BM25, RAG_SEARCH_PER_PAGE_ANY};
    CHECK_INT(rag_search(ix, &q, h), 2);
    CHECK_INT(h[0].rec, 1);
    CHECK(h[0].bm25 == want[1]);
    CHECK_INT(h[1].rec, 0);
    CHECK(h[1].bm25 == want[0]);
    CHECK(want[0] > 0 && want[0] < want[1]);
    rag_index_close(ix);
    free(big);
}

/* A title and a heading path longer than the search's one-byte copies of
 * their lengths hold (RAG_INDEX_LEN8_MORE): the scores still use the
 * real lengths, as the formula in rag_search.c computes them. */
static void
test_long_fields(void)
{
    enum { TLEN = 300, HLEN = 400 };
    char *title = malloc(TLEN * 6 + 16), *head = malloc(HLEN * 6 + 16);
    char path[256], err[256];
    size_t o = 0;
    rag_index_bm25f bf;
    rag_index_writer *w = rag_index_writer_new(0);

    o = (size_t)sprintf(title, "ktitlex");
    for (int i = 0; i < TLEN; i++)
        o += (size_t)sprintf(title + o, " kpadx");
    o = (size_t)sprintf(head, "kheadx");
    for (int i = 0; i < HLEN; i++)
        o += (size_t)sprintf(head + o, " kpadx");
    rag_index_input in[3] = {
        {100, "a", title, head, "kbodyx", NULL},
        {101, "b", "ktitlex kpadx", "kheadx", "kbodyx kpadx", NULL},
        {102, "c", "", "", "kother", NULL}};
    for (int i = 0; i < 3; i++)
        CHECK_INT(rag_index_writer_add(w, &in[i]), 0);
    snprintf(path, sizeof(path), "%s/longfields.idx", dir);
    CHECK_INT(rag_index_writer_write(w, path, 1, err, sizeof(err)), 0);
    rag_index_writer_free(w);
    rag_index *ix = rag_index_open(path, err, sizeof(err));
    CHECK(ix != NULL);
    const rag_index_fields *F = ix ? rag_index_fields_get(ix) : NULL;
    CHECK(F != NULL);
    if (F == NULL) {
        rag_index_close(ix);
        free(title);
        free(head);
        return;
    }
    CHECK(F->ht_len8[0] == RAG_INDEX_LEN8_MORE &&
          F->ht_len8[1] == RAG_INDEX_LEN8_MORE);
    CHECK(F->ht_len8[2] == 1 && F->ht_len8[3] == 2);
    rag_index_bm25f_defaults(&bf);
    double tl[2] = {TLEN + 1, 2}, hl[2] = {HLEN + 1, 1};
    double tavg = (TLEN + 1 + 2) / 3.0, havg = (HLEN + 1 + 1) / 3.0;
    double idf = log(1.0 + (3 - 2 + 0.5) / (2 + 0.5));
    double want[2];
    for (int i = 0; i < 2; i++) {
        double xt = 0, xh = 0;
        xt += 1 * rag_bm25f_wnorm(bf.weight[RAG_FIELD_TITLE],
                                  bf.b[RAG_FIELD_TITLE], tl[i], tavg);
        xh += 1 * rag_bm25f_wnorm(bf.weight[RAG_FIELD_HEADING],
                                  bf.b[RAG_FIELD_HEADING], hl[i], havg);
        int64_t st = (int64_t)(idf * (xt * (bf.k1 + 1) / (xt + bf.k1)) *
                                   1099511627776.0 +
                               0.5);
        int64_t sh = (int64_t)(idf * (xh * (bf.k1 + 1) / (xh + bf.k1)) *
                                   1099511627776.0 +
                               0.5);
        want[i] = (st + sh) / 1099511627776.0;
    }
    rag_search_opts plain = {.ft = RAG_SEARCH_FT_AUTO,
                             .prf = RAG_SEARCH_PRF_OFF,
                             .qwords = RAG_SEARCH_SW_OFF,
                             .page_blend = RAG_SEARCH_SW_OFF};
    rag_hit h[3];
    rag_query q = {"ktitlex kheadx",       14, NULL, 3, RAG_SEARCH_BM25,
                   RAG_SEARCH_PER_PAGE_ANY};
    CHECK_INT(rag_search_ex(ix, &q, &plain, h), 2);
    CHECK_INT(h[0].rec, 1);
    CHECK(h[0].bm25 == want[1]);
    CHECK_INT(h[1].rec, 0);
    CHECK(h[1].bm25 == want[0]);
    CHECK(want[0] > 0 && want[0] < want[1]);
    rag_index_close(ix);
    free(title);
    free(head);
}

/* ---- vector lists -------------------------------------------------------
 * Clustered vectors (200 centres, spread 0.3): with k-means lists and the
 * default probes, recall@10 against the exact scan stays high; probing
 * every list is the exact scan itself. */
static void
test_vector_lists(void)
{
    enum { N = 6000, D = 24, C = 200, Q = 40, K = 10 };
    float *vecs = malloc(sizeof(float) * N * D),
          *cent = malloc(sizeof(float) * C * D);
    char path[256], err[256];
    rag_index *ix;
    rag_hit h[K], e[K];
    int found = 0, exact_same = 0;

    for (int i = 0; i < C * D; i++)
        cent[i] = (float)gauss();
    for (int i = 0; i < N; i++) {
        int c = (int)(rnd() * C);
        for (int j = 0; j < D; j++)
            vecs[i * D + j] = cent[c * D + j] + 0.3f * (float)gauss();
    }
    rag_index_writer *w = rag_index_writer_new(D);
    rag_index_writer_set_vector_lists(w, 64, 8);
    for (int i = 0; i < N; i++) {
        rag_index_input in = {
            i, "u", "", "", "x", i % 97 == 5 ? NULL : vecs + (size_t)i * D};
        rag_index_writer_add(w, &in);
    }
    snprintf(path, sizeof(path), "%s/ivf.idx", dir);
    CHECK_INT(rag_index_writer_write(w, path, 1, err, sizeof(err)), 0);
    rag_index_writer_free(w);
    ix = rag_index_open(path, err, sizeof(err));
    CHECK(ix != NULL);
    if (ix == NULL) {
        fprintf(stderr, "%s\n", err);
        goto done;
    }
    uint32_t probe, lists = rag_index_vec_lists(ix, &probe), total = 0;
    CHECK_INT(lists, 64);
    CHECK_INT(probe, 8);
    CHECK_INT(rag_index_vec_count(ix), N - (N + 91) / 97);
    for (uint32_t l = 0; l < lists; l++) {
        uint32_t first, n;
        rag_index_vec_list(ix, l, &first, &n);
        CHECK(first == total);
        total += n;
    }
    CHECK_INT(total, rag_index_vec_count(ix));
    float sc;
    CHECK(rag_index_vec_i8(ix, 5, &sc) == NULL); /* no embedding */
    CHECK(rag_index_vec_i8(ix, 6, &sc) != NULL);
    for (int qi = 0; qi < Q; qi++) {
        float qv[D];
        int c = (int)(rnd() * C);
        for (int j = 0; j < D; j++)
            qv[j] = cent[c * D + j] + 0.3f * (float)gauss();
        rag_query q = {
            NULL, 0, qv, K, RAG_SEARCH_VECTOR, RAG_SEARCH_PER_PAGE_ANY};
        rag_search_opts all = {.n_probe = lists}, def = {.n_probe = 0};
        int ne = rag_search_ex(ix, &q, &all, e);
        int nd = rag_search_ex(ix, &q, &def, h);
        CHECK_INT(ne, K);
        CHECK_INT(nd, K);
        for (int i = 0; i < K; i++)
            for (int j = 0; j < K; j++)
                found += h[i].rec == e[j].rec;
        /* the exact scan through the lists == the plain exact scan */
        rag_search_opts more = {.n_probe = lists + 5};
        rag_hit x[K];
        rag_search_ex(ix, &q, &more, x);
        int eq = 1;
        for (int i = 0; i < K; i++)
            eq &= x[i].rec == e[i].rec && x[i].cosine == e[i].cosine;
        exact_same += eq;
    }
    CHECK_INT(exact_same, Q);
    CHECK(found >= Q * K * 95 / 100);
    fprintf(stderr, "  lists: recall@10 %.3f at 8 of 64 lists\n",
            found / (double)(Q * K));
    rag_index_close(ix);

    /* below RAG_INDEX_IVF_MIN the writer keeps the exact scan */
    w = rag_index_writer_new(D);
    for (int i = 0; i < 1000; i++) {
        rag_index_input in = {i, "u", "", "", "x", vecs + (size_t)i * D};
        rag_index_writer_add(w, &in);
    }
    CHECK_INT(rag_index_writer_write(w, path, 2, err, sizeof(err)), 0);
    rag_index_writer_free(w);
    ix = rag_index_open(path, err, sizeof(err));
    CHECK(ix != NULL && rag_index_vec_lists(ix, NULL) == 0);
    rag_index_close(ix);
done:
    free(vecs);
    free(cent);
}

/* the scan kernel (VNNI where the CPU has it) gives the portable dot's
 * integers, at every length and for extreme values */
static void
test_dots_i8(void)
{
    static int8_t q[1100], rows[8][1100];
    int32_t out[8];
    int bad = 0;
    rag_vec_dot_i8_fn dot = rag_vec_dot_i8_impl();

    for (uint32_t n = 1; n <= 1100; n += (n < 130 ? 1 : 97)) {
        for (uint32_t i = 0; i < n; i++) {
            q[i] = (int8_t)(rnd() < 0.1 ? -127 : (int)(rnd() * 255) - 127);
            for (int r = 0; r < 8; r++)
                rows[r][i] =
                    (int8_t)(rnd() < 0.1 ? 127 : (int)(rnd() * 255) - 127);
        }
        int8_t *flat = malloc(8 * (size_t)n);
        for (int r = 0; r < 8; r++)
            memcpy(flat + r * n, rows[r], n);
        rag_vec_dots_i8(q, flat, 8, n, out);
        for (int r = 0; r < 8; r++) {
            int32_t want = 0;
            for (uint32_t i = 0; i < n; i++)
                want += (int32_t)q[i] * rows[r][i];
            bad += out[r] != want || dot(q, flat + r * n, n) != want;
        }
        free(flat);
    }
    CHECK_INT(bad, 0);
}

static int
valid_utf8(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = p[i] < 0x80    ? 1
                   : p[i] >= 0xf0 ? 4
                   : p[i] >= 0xe0 ? 3
                   : p[i] >= 0xc2 ? 2
                                  : 0;
        if (k == 0 || i + k > n)
            return 0;
        for (size_t j = 1; j < k; j++)
            if ((p[i + j] & 0xc0) != 0x80)
                return 0;
        i += k;
    }
    return 1;
}

static void
test_snippet(void)
{
    char out[400], body[4000];
    size_t n, o = 0;

    static const char md[] = "# Title\n\n**bold** `code` [link](http://x/y)"
                             " and\n- item | cell |\n```sql\nSELECT 1;\n```\n";
    n = rag_snippet(md, strlen(md), "zzz", 3, out, sizeof(out));
    CHECK_STR(out, "Title bold code link and item cell SELECT 1;");
    CHECK_INT(n, strlen(out));

    /* a long body of 2- and 3-byte characters, the match in the middle */
    for (int i = 0; i < 300; i++) {
        const char *w = i % 3 ? "\xc3\xa9t\xc3\xa9 " : "\xe2\x82\xac ";
        memcpy(body + o, w, strlen(w));
        o += strlen(w);
    }
    memcpy(body + o, "pg_dump ", 8);
    o += 8;
    for (int i = 0; i < 200; i++) {
        memcpy(body + o, "\xc3\xbc ", 3);
        o += 3;
    }
    int all_ok = 1, found = 0;
    for (size_t cap = 1; cap < 200; cap++) {
        memset(out, 'X', sizeof(out));
        n = rag_snippet(body, o, "PG_DUMP", 7, out, cap);
        all_ok &=
            n < cap && out[n] == '\0' && strlen(out) == n && valid_utf8(out, n);
        if (cap >= 40)
            found += strstr(out, "pg_dump") != NULL;
    }
    CHECK(all_ok);
    CHECK_INT(found, 160); /* the match is inside every snippet >= 40 */
    n = rag_snippet(body, o, "pg_dump", 7, out, 100);
    CHECK(strncmp(out, "\xe2\x80\xa6", 3) == 0); /* leading ellipsis */
    CHECK(n >= 3 && strcmp(out + n - 3, "\xe2\x80\xa6") == 0);
    /* no match: the start of the body */
    n = rag_snippet(body, o, "absent", 6, out, 50);
    CHECK(strncmp(out, "\xe2\x82\xac", 3) == 0);
    /* invalid UTF-8 in the body is not cut further, and never overflows */
    n = rag_snippet("\xff\xfe abc", 6, "abc", 3, out, 4);
    CHECK(n < 4);
    CHECK_INT(rag_snippet("abc", 3, "a", 1, out, 0), 0);
    CHECK_INT(rag_snippet(NULL, 0, "a", 1, out, 10), 0);
}

int
main(void)
{
    if (mkdtemp(dir) == NULL)
        return 1;
    RUN(test_bm25);
    RUN(test_ties);
    RUN(test_per_page);
    RUN(test_per_page_pool);
    RUN(test_threads);
    RUN(test_prf);
    RUN(test_language);
    RUN(test_rrf);
    RUN(test_vector_recall);
    RUN(test_pruned_equals_exhaustive);
    RUN(test_long_fields);
    RUN(test_long_body);
    RUN(test_vector_lists);
    RUN(test_dots_i8);
    RUN(test_snippet);
    test_ix_rmdir(dir);
    UNIT_DONE();
}
