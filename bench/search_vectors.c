/*
 * search_vectors — latency of the vector leg (int8 scan of every vector +
 * float32 rescoring of the best 4k) and of BM25 on one core, plus recall
 * of int8+rescore against exact float32 search. Prints figures.
 *
 *   bench/search_vectors.sh [N=100000] [DIMS=1536] [QUERIES=50]
 *
 * Vectors are random Gaussian (a hard case for quantisation: no
 * clusters); the index file is written to $TMPDIR and removed at exit.
 */
#include "rag_index.h"
#include "rag_search.h"
#include "test_rng.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static test_rng rng = {0x9e3779b97f4a7c15ull};

static double
rnd(void)
{
    return test_rng_unit(&rng);
}

static float
gauss(void)
{
    return (float)test_rng_gauss(&rng);
}

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const char *words[] = {
    "index", "vacuum",      "replication", "backup",     "restore",
    "table", "query",       "planner",     "checkpoint", "wal",
    "lock",  "transaction", "trigger",     "function",   "role",
    "grant", "schema",      "sequence",    "json",       "array",
};

int
main(int argc, char **argv)
{
    uint32_t n = argc > 1 ? (uint32_t)atoi(argv[1]) : 100000;
    uint32_t dims = argc > 2 ? (uint32_t)atoi(argv[2]) : 1536;
    int nq = argc > 3 ? atoi(argv[3]) : 50;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char path[512], err[256], body[256];
    float *v = malloc(sizeof(float) * dims), *all = NULL, *qv;
    double *lat = malloc(sizeof(double) * nq), *blat;
    double t0;
    rag_index_writer *w;
    rag_index *ix;
    rag_hit hits[10];
    int recall_hits = 0, exact_queries = nq < 10 ? nq : 10;

    snprintf(path, sizeof(path), "%s/search_vectors.%ld.idx", tmp,
             (long)getpid());
    /* keep the first vectors for the exact comparison */
    all = malloc(sizeof(float) * (size_t)dims * n);
    if (!v || !all || !lat) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    t0 = now_ms();
    w = rag_index_writer_new(dims);
    for (uint32_t i = 0; i < n; i++) {
        size_t o = 0;
        for (uint32_t j = 0; j < dims; j++)
            all[(size_t)i * dims + j] = gauss();
        for (int k = 0; k < 40; k++)
            o += (size_t)snprintf(body + o, sizeof(body) - o, "%s ",
                                  words[(size_t)(rnd() * 20) % 20]);
        rag_index_input in = {i,   "https://x/p", "T",
                              "H", body,          all + (size_t)i * dims};
        if (rag_index_writer_add(w, &in) != 0) {
            fprintf(stderr, "add failed\n");
            return 1;
        }
    }
    if (rag_index_writer_write(w, path, 1, err, sizeof(err)) != 0) {
        fprintf(stderr, "write: %s\n", err);
        return 1;
    }
    rag_index_writer_free(w);
    printf("index: %u x %u-d, written in %.0f ms\n", n, dims, now_ms() - t0);
    t0 = now_ms();
    ix = rag_index_open(path, err, sizeof(err));
    if (ix == NULL) {
        fprintf(stderr, "open: %s\n", err);
        return 1;
    }
    printf("open + full validation (CRC, tables): %.0f ms\n", now_ms() - t0);

    qv = malloc(sizeof(float) * dims);
    for (int q = 0; q < nq; q++) {
        rag_query rq = {
            NULL, 0, qv, 10, RAG_SEARCH_VECTOR, RAG_SEARCH_PER_PAGE_ANY};
        for (uint32_t j = 0; j < dims; j++)
            qv[j] = gauss();
        t0 = now_ms();
        int got = rag_search(ix, &rq, hits);
        lat[q] = now_ms() - t0;
        if (q < exact_queries && got == 10) {
            /* exact float32 top 10 */
            double best[10];
            uint32_t bi[10];
            int nb = 0;
            double qn = 0;
            for (uint32_t j = 0; j < dims; j++)
                qn += (double)qv[j] * qv[j];
            for (uint32_t i = 0; i < n; i++) {
                const float *x = all + (size_t)i * dims;
                double d = 0, xn = 0;
                for (uint32_t j = 0; j < dims; j++) {
                    d += (double)qv[j] * x[j];
                    xn += (double)x[j] * x[j];
                }
                d /= sqrt(qn * xn);
                if (nb < 10 || d > best[nb - 1]) {
                    int p = nb < 10 ? nb++ : 9;
                    while (p > 0 && best[p - 1] < d) {
                        best[p] = best[p - 1];
                        bi[p] = bi[p - 1];
                        p--;
                    }
                    best[p] = d;
                    bi[p] = i;
                }
            }
            for (int a = 0; a < 10; a++)
                for (int b = 0; b < 10; b++)
                    recall_hits += hits[a].rec == bi[b];
        }
    }
    qsort(lat, nq, sizeof(double), cmp_d);
    printf("vector leg (int8 scan + f32 rescore of 40), 1 thread: "
           "p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
           lat[nq / 2], lat[(int)(nq * 0.99)], lat[nq - 1]);
    printf("recall@10 vs exact float32 (%d queries): %.3f\n", exact_queries,
           recall_hits / (10.0 * exact_queries));

    blat = malloc(sizeof(double) * nq);
    for (int q = 0; q < nq; q++) {
        char text[128];
        snprintf(text, sizeof(text), "%s %s %s", words[q % 20],
                 words[(q * 7) % 20], words[(q * 13) % 20]);
        rag_query rq = {text, strlen(text),    NULL,
                        10,   RAG_SEARCH_BM25, RAG_SEARCH_PER_PAGE_ANY};
        t0 = now_ms();
        rag_search(ix, &rq, hits);
        blat[q] = now_ms() - t0;
    }
    qsort(blat, nq, sizeof(double), cmp_d);
    printf("BM25 leg (3 terms, each in ~87%% of %u docs: worst case), "
           "1 thread: p50 %.2f ms, p99 %.2f ms\n",
           n, blat[nq / 2], blat[(int)(nq * 0.99)]);
    rag_index_close(ix);
    unlink(path);
    free(all);
    free(v);
    free(qv);
    free(lat);
    free(blat);
    return 0;
}
