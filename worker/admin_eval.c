/*
 * rag-admin eval FILE — retrieval quality over a collection's index:
 * recall@1/5/10 and MRR for BM25, vector (when the index has vectors and
 * embed_* is configured) and hybrid. See eval.h for the definitions.
 *
 *   rag-admin eval FILE [--collection X] [--index-dir DIR] [--k 10]
 *                       [--base URL] [--min-recall5 X] [--verbose]
 */
#include "admin.h"
#include "eval.h"
#include "rag_embed.h"
#include "rag_index.h"
#include "rag_reindex.h"
#include "rag_search.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_MODES 3

static const char *mode_name[EVAL_MODES] = {"bm25", "vector", "hybrid"};
static const enum rag_search_mode mode_val[EVAL_MODES] = {
    RAG_SEARCH_BM25, RAG_SEARCH_VECTOR, RAG_SEARCH_HYBRID};

const char *
admin_index_dir(rag_conf *conf)
{
    return rag_conf_get(conf, "index_dir", "/var/lib/ngx_rag/index");
}

/* Embeds every question in one batched call (rag_embed batches by size).
 * Returns a malloc'd n*dims array or NULL (vectors skipped, reason in
 * err). */
static float *
embed_questions(rag_conf *conf, const eval_set *s, uint32_t want_dims,
                char *err, size_t errlen)
{
    rag_embed_conf ec;
    const char **texts;
    float *vecs = NULL;
    uint32_t dims = 0;
    size_t i;

    rag_embed_conf_load(&ec, conf);
    if (!rag_embed_enabled(&ec)) {
        snprintf(err, errlen, "no embeddings endpoint (embed_base_url)");
        return NULL;
    }
    texts = calloc(s->n, sizeof(*texts));
    if (texts == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (i = 0; i < s->n; i++)
        texts[i] = s->v[i].q;
    if (rag_embed(&ec, texts, s->n, &vecs, &dims, err, errlen) != 0)
        vecs = NULL;
    else if (dims != want_dims) {
        snprintf(err, errlen, "query vectors have %u dims, index %u", dims,
                 want_dims);
        free(vecs);
        vecs = NULL;
    }
    free(texts);
    return vecs;
}

int
admin_eval(rag_conf *conf, int argc, char **argv)
{
    const char *file = NULL, *coll = "docs", *dir = NULL, *base = "";
    char path[PATH_MAX], err[512];
    double min_r5 = -1;
    size_t k = 10, i, m, j;
    int verbose = 0, rc = 1, have_vec = 0, a;
    eval_set set = {0};
    eval_score score[EVAL_MODES];
    rag_index *ix = NULL;
    rag_hit *hits = NULL;
    float *qvecs = NULL;
    uint32_t dims;
    const char **urls = NULL;
    size_t *lens = NULL;

    memset(score, 0, sizeof(score));
    for (a = 0; a < argc; a++) {
        const char *v = a + 1 < argc ? argv[a + 1] : NULL;
        if (strcmp(argv[a], "--verbose") == 0 || strcmp(argv[a], "-v") == 0)
            verbose = 1;
        else if (argv[a][0] == '-' && v == NULL) {
            fprintf(stderr, "rag-admin eval: %s needs a value\n", argv[a]);
            return 2;
        } else if (strcmp(argv[a], "--collection") == 0)
            coll = argv[++a];
        else if (strcmp(argv[a], "--index-dir") == 0)
            dir = argv[++a];
        else if (strcmp(argv[a], "--base") == 0)
            base = argv[++a];
        else if (strcmp(argv[a], "--k") == 0) {
            k = (size_t)strtoul(argv[++a], NULL, 10);
        } else if (strcmp(argv[a], "--min-recall5") == 0)
            min_r5 = strtod(argv[++a], NULL);
        else if (argv[a][0] == '-' || file != NULL) {
            fprintf(stderr, "rag-admin eval: unexpected %s\n", argv[a]);
            return 2;
        } else
            file = argv[a];
    }
    if (file == NULL) {
        fprintf(stderr, "usage: rag-admin eval FILE [--collection X]"
                        " [--index-dir DIR] [--k 10] [--base URL]"
                        " [--min-recall5 X] [--verbose]\n");
        return 2;
    }
    if (k < 10)
        k = 10; /* recall@10 needs ten */
    if (k > RAG_SEARCH_MAX_K)
        k = RAG_SEARCH_MAX_K;
    if (dir == NULL)
        dir = admin_index_dir(conf);
    if (rag_index_path(path, sizeof(path), dir, coll) != 0) {
        fprintf(stderr, "rag-admin eval: bad collection name %s\n", coll);
        return 2;
    }
    if (eval_set_load(file, &set, err, sizeof(err)) != 0) {
        fprintf(stderr, "rag-admin eval: %s\n", err);
        return 1;
    }
    ix = rag_index_open(path, err, sizeof(err));
    if (ix == NULL) {
        fprintf(stderr, "rag-admin eval: %s: %s\n", path, err);
        goto done;
    }
    dims = rag_index_dims(ix);
    if (dims > 0) {
        qvecs = embed_questions(conf, &set, dims, err, sizeof(err));
        if (qvecs == NULL)
            fprintf(stderr, "rag-admin eval: vector leg skipped: %s\n", err);
        have_vec = qvecs != NULL;
    }
    hits = calloc(k, sizeof(*hits));
    urls = calloc(k, sizeof(*urls));
    lens = calloc(k, sizeof(*lens));
    if (hits == NULL || urls == NULL || lens == NULL) {
        fprintf(stderr, "rag-admin eval: out of memory\n");
        goto done;
    }
    for (i = 0; i < set.n; i++) {
        const eval_item *it = &set.v[i];
        for (m = 0; m < EVAL_MODES; m++) {
            rag_query q;
            int nh, rank;
            if (mode_val[m] == RAG_SEARCH_VECTOR && !have_vec)
                continue;
            memset(&q, 0, sizeof(q));
            q.text = it->q;
            q.text_len = strlen(it->q);
            q.qvec = have_vec ? qvecs + (size_t)dims * i : NULL;
            q.k = k;
            q.mode = mode_val[m];
            nh = rag_search(ix, &q, hits);
            if (nh < 0) {
                fprintf(stderr, "rag-admin eval: search failed\n");
                goto done;
            }
            for (j = 0; j < (size_t)nh; j++) {
                rag_index_chunk c;
                if (rag_index_chunk_get(ix, hits[j].rec, &c) != 0) {
                    urls[j] = "";
                    lens[j] = 0;
                    continue;
                }
                urls[j] = c.url.p;
                lens[j] = c.url.len;
            }
            rank = eval_first_rank(it, urls, lens, (size_t)nh, base);
            eval_score_add(&score[m], rank);
            if (verbose && mode_val[m] != RAG_SEARCH_VECTOR &&
                (rank == 0 || rank > 5) && (m == EVAL_MODES - 1 || !have_vec))
                printf("miss@5 %-6s rank=%d q=\"%s\" want=%s got=%.*s\n",
                       mode_name[m], rank, it->q, it->urls[0],
                       nh > 0 ? (int)lens[0] : 0, nh > 0 ? urls[0] : "");
        }
    }
    printf("eval: %zu questions, collection %s, generation %llu,"
           " %u chunks, k=%zu\n",
           set.n, coll, (unsigned long long)rag_index_generation(ix),
           rag_index_count(ix), k);
    printf("%-7s %9s %9s %9s %7s\n", "mode", "recall@1", "recall@5",
           "recall@10", "MRR");
    for (m = 0; m < EVAL_MODES; m++) {
        const eval_score *s = &score[m];
        if (s->n == 0) {
            printf("%-7s %9s %9s %9s %7s\n", mode_name[m], "-", "-", "-", "-");
            continue;
        }
        printf("%-7s %9.3f %9.3f %9.3f %7.3f\n", mode_name[m],
               (double)s->at1 / s->n, (double)s->at5 / s->n,
               (double)s->at10 / s->n, s->rr_sum / s->n);
    }
    rc = 0;
    if (min_r5 >= 0) {
        /* hybrid without a query vector is BM25; gate on what ran */
        const eval_score *g = &score[EVAL_MODES - 1];
        double r5 = (double)g->at5 / g->n;
        if (r5 < min_r5) {
            fprintf(stderr, "rag-admin eval: %s recall@5 %.3f below %.3f\n",
                    have_vec ? "hybrid" : "bm25", r5, min_r5);
            rc = 3;
        }
    }
done:
    free(hits);
    free(urls);
    free(lens);
    free(qvecs);
    if (ix)
        rag_index_close(ix);
    eval_set_free(&set);
    return rc;
}
