#include "rag_index.h"
#include "rag_search.h"
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

static rag_index *
build(const doc *docs, size_t n, uint32_t dims, const char *name)
{
    char path[256], err[256];
    rag_index_writer *w = rag_index_writer_new(dims);
    rag_index *ix;

    for (size_t i = 0; i < n; i++) {
        rag_index_input in = {(int64_t) (100 + i), "u", "", "",
                              docs[i].body, docs[i].vec};
        if (rag_index_writer_add(w, &in) != 0)
            return NULL;
    }
    snprintf(path, sizeof(path), "%s/%s.idx", dir, name);
    if (rag_index_writer_write(w, path, 1, err, sizeof(err)) != 0) {
        fprintf(stderr, "write: %s\n", err);
        rag_index_writer_free(w);
        return NULL;
    }
    rag_index_writer_free(w);
    ix = rag_index_open(path, err, sizeof(err));
    if (ix == NULL)
        fprintf(stderr, "open: %s\n", err);
    return ix;
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
    rag_index *ix = build(docs, 3, 0, "bm25");
    rag_hit h[10];
    rag_query q = {"cat", 3, NULL, 10, RAG_SEARCH_HYBRID};

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
    q.mode = (enum rag_search_mode) 9;
    CHECK_INT(rag_search(ix, &q, h), -1);
    CHECK_INT(rag_search(NULL, &q, h), -1);
    rag_index_close(ix);
}

static void
test_ties(void)
{
    static const doc docs[] = {
        {"other words", NULL}, {"same text", NULL}, {"same text", NULL},
        {"same text", NULL},
    };
    rag_index *ix = build(docs, 4, 0, "ties");
    rag_hit h[10];
    rag_query q = {"same", 4, NULL, 2, RAG_SEARCH_BM25};

    CHECK(ix != NULL);
    if (ix == NULL)
        return;
    CHECK_INT(rag_search(ix, &q, h), 2);
    CHECK_INT(h[0].rec, 1); /* equal scores: lower record first */
    CHECK_INT(h[1].rec, 2);
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
        {"cat cat dog", v0}, {"cat dog dog", v1}, {"bird fish fish", v2},
    };
    static const float qv[] = {2, 0}; /* normalised by the search */
    rag_index *ix = build(docs, 3, 2, "rrf");
    rag_hit h[10];
    rag_query q = {"cat", 3, qv, 10, RAG_SEARCH_HYBRID};

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
        {"cat", NULL}, {"dog", v0}, {"bird", v2},
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
        rag_query q = {a->queries[i], strlen(a->queries[i]), NULL, 5,
                       RAG_SEARCH_BM25};
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

static void
test_threads(void)
{
    static const doc docs[] = {
        {"cat dog cat", NULL},     {"cat fish", NULL},
        {"dog fish fish bird", NULL}, {"bird bird cat", NULL},
        {"fish and chips", NULL},  {"dog days", NULL},
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
        rag_query q = {queries[i], strlen(queries[i]), NULL, 5,
                       RAG_SEARCH_BM25};
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

static uint64_t rng = 88172645463325252ull;

static double
rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double) (rng >> 11) / 9007199254740992.0;
}

static double
gauss(void)
{
    double u = rnd() + 1e-12, v = rnd();
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
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
        vecs[i] = (float) gauss();
    for (int i = 0; i < N; i++) {
        rag_index_input in = {i, "u", "", "", "x", vecs + (size_t) i * D};
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
            qv[j] = (float) gauss();
            qn += (double) qv[j] * qv[j];
        }
        for (int i = 0; i < N; i++) {
            double d = 0, vn = 0;
            for (int j = 0; j < D; j++) {
                d += (double) qv[j] * vecs[i * D + j];
                vn += (double) vecs[i * D + j] * vecs[i * D + j];
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
        rag_query q = {NULL, 0, qv, K, RAG_SEARCH_VECTOR};
        int n = rag_search(ix, &q, h), same = n == K;
        for (int r = 0; same && r < K; r++)
            same = (int) h[r].rec == best[r] &&
                   fabs(h[r].cosine - sc[best[r]]) < 1e-5;
        exact_ok += same;
    }
    CHECK_INT(exact_ok, Q);
    rag_index_close(ix);
done:
    free(vecs);
}

static int
valid_utf8(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *) s;
    for (size_t i = 0; i < n;) {
        size_t k = p[i] < 0x80 ? 1 : p[i] >= 0xf0 ? 4 : p[i] >= 0xe0 ? 3
                                                               : p[i] >= 0xc2 ? 2 : 0;
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
        all_ok &= n < cap && out[n] == '\0' && strlen(out) == n &&
                  valid_utf8(out, n);
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
    RUN(test_threads);
    RUN(test_rrf);
    RUN(test_vector_recall);
    RUN(test_snippet);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
    UNIT_DONE();
}
