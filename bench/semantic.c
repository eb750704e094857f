/*
 * semantic — the in-process semantic leg on a real collection, figures
 * for bench/semantic.sh:
 *
 *   semantic IN.idx OUT.idx [--bin MODEL.bin] [--seed N] [--epoch N]
 *            [--bucket N] [--queries FILE.jsonl]
 *
 * Rewrites the index IN (any collection rag-ingest wrote) with a fastText
 * model: trained on its records exactly as the worker does at reindex
 * (worker/ft_train.c: the `fasttext` program, one thread, bounded), or
 * read from an existing .bin (--bin). Prints the training's time and
 * peak memory, the model and index sizes, the time to embed the records
 * at write, and, with --queries, the time to embed each question
 * in-process and to run the in-process leg and the hybrid search (one
 * core, best of 5 rounds) beside BM25 alone measured in the same run.
 */
#include "ft_train.h"
#include "rag_ft.h"
#include "rag_index.h"
#include "rag_search.h"
#include "rag_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#define MAXQ 1000

static double
now_s(void)
{
    return rag_time_mono_s();
}

static int
load_queries(const char *path, char **qs, size_t *n)
{
    FILE *f = fopen(path, "r");
    char line[65536];

    *n = 0;
    if (f == NULL)
        return -1;
    while (*n < MAXQ && fgets(line, sizeof(line), f)) {
        const char *qp[] = {"q", NULL};
        char e[128];
        yajl_val root = yajl_tree_parse(line, e, sizeof(e)), v;
        if (root == NULL)
            continue;
        v = yajl_tree_get(root, qp, yajl_t_string);
        if (v) /* typed lookup: v is a string */
            qs[(*n)++] = strdup(v->u.string);
        yajl_tree_free(root);
    }
    fclose(f);
    return 0;
}

/* best-of-5 mean time per call of one search mode over all questions */
static double
time_search(const rag_index *ix, char **qs, size_t nq, enum rag_search_mode m)
{
    rag_hit hits[10];
    double best = 1e9;

    for (int round = 0; round < 5; round++) {
        double t0 = now_s();
        for (size_t i = 0; i < nq; i++) {
            rag_query q = {
                .text = qs[i], .text_len = strlen(qs[i]), .k = 10, .mode = m};
            rag_search(ix, &q, hits);
        }
        double t = (now_s() - t0) / (double)nq;
        if (t < best)
            best = t;
    }
    return best;
}

int
main(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *bin = NULL, *qfile = NULL;
    char err[512], stats[512] = "";
    ft_train_conf tc;
    ft_corpus corpus;
    rag_index *ix, *nx;
    rag_index_writer *w;
    rag_index_buf zb = {0};
    void *model = NULL;
    size_t mlen = 0;
    double t0;

    ft_train_conf_load(&tc, NULL);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bin") == 0 && i + 1 < argc)
            bin = argv[++i];
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            tc.seed = (uint32_t)atoi(argv[++i]);
        else if (strcmp(argv[i], "--epoch") == 0 && i + 1 < argc)
            tc.epoch = (uint32_t)atoi(argv[++i]);
        else if (strcmp(argv[i], "--bucket") == 0 && i + 1 < argc)
            tc.bucket = (uint32_t)atoi(argv[++i]);
        else if (strcmp(argv[i], "--queries") == 0 && i + 1 < argc)
            qfile = argv[++i];
        else if (in == NULL)
            in = argv[i];
        else if (out == NULL)
            out = argv[i];
    }
    if (in == NULL || out == NULL) {
        fprintf(stderr, "usage: semantic IN.idx OUT.idx [--bin M.bin] "
                        "[--seed N] [--epoch N] [--bucket N] "
                        "[--queries F.jsonl]\n");
        return 2;
    }
    ix = rag_index_open(in, err, sizeof(err));
    if (ix == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (ft_corpus_open(&corpus, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    w = rag_index_writer_new(0);
    for (uint32_t i = 0; i < rag_index_count(ix); i++) {
        rag_index_chunk c;
        rag_str b;
        char *u, *t, *h, *bd;
        rag_index_chunk_get(ix, i, &c);
        rag_index_chunk_body(ix, i, &zb, &b);
        u = strndup(c.url.p, c.url.len);
        t = strndup(c.title.p, c.title.len);
        h = strndup(c.heading_path.p, c.heading_path.len);
        bd = strndup(b.p, b.len);
        rag_index_input ri = {c.chunk_id, u, t, h, bd, NULL};
        const char *parts[3] = {t, h, bd};
        size_t lens[3] = {c.title.len, c.heading_path.len, b.len};
        rag_index_writer_add(w, &ri);
        ft_corpus_add(&corpus, parts, lens, 3);
        free(u);
        free(t);
        free(h);
        free(bd);
    }
    if (ft_corpus_close(&corpus, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("corpus: %u records, %llu tokens\n", rag_index_count(ix),
           (unsigned long long)corpus.tokens);
    t0 = now_s();
    if (bin != NULL) {
        rag_ft_model prov;
        memset(&prov, 0, sizeof(prov));
        if (ft_model_from_bin(bin, &prov, &model, &mlen, err, sizeof(err))) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        printf("model: read %s in %.2f s\n", bin, now_s() - t0);
    } else {
        if (ft_train(&tc, &corpus, 1, &model, &mlen, stats, sizeof(stats), err,
                     sizeof(err)) != 0) {
            fprintf(stderr, "training: %s\n", err);
            return 1;
        }
        printf("training: %s\n", stats);
    }
    ft_corpus_free(&corpus);
    if (rag_index_writer_set_ft(w, model, mlen) != 0) {
        fprintf(stderr, "%s\n", rag_index_writer_error(w));
        return 1;
    }
    t0 = now_s();
    if (rag_index_writer_write(w, out, rag_index_generation(ix) + 1, err,
                               sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("index: written in %.2f s (records embedded, component "
           "removed)\n",
           now_s() - t0);
    rag_index_writer_free(w);
    free(model);
    t0 = now_s();
    nx = rag_index_open(out, err, sizeof(err));
    if (nx == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    {
        size_t ml;
        FILE *f = fopen(in, "r"), *g = fopen(out, "r");
        long a, b;
        fseek(f, 0, SEEK_END);
        fseek(g, 0, SEEK_END);
        a = ftell(f);
        b = ftell(g);
        fclose(f);
        fclose(g);
        rag_index_ft_model_bytes(nx, &ml);
        printf("sizes: index %.1f MB -> %.1f MB (model %.1f MB); opened "
               "and validated in %.3f s\n",
               a / 1048576.0, b / 1048576.0, ml / 1048576.0, now_s() - t0);
    }
    if (qfile != NULL) {
        char *qs[MAXQ];
        size_t nq;
        float v[RAG_FT_MAX_DIM];
        const rag_ft_model *m = rag_index_ft_model(nx);
        double best = 1e9;
        if (load_queries(qfile, qs, &nq) != 0 || nq == 0) {
            fprintf(stderr, "%s: no questions\n", qfile);
            return 1;
        }
        for (int round = 0; round < 5; round++) {
            double t1 = now_s();
            for (int rep = 0; rep < 20; rep++)
                for (size_t i = 0; i < nq; i++)
                    rag_ft_embed(m, rag_index_ft_pc(nx), qs[i], strlen(qs[i]),
                                 v);
            double t = (now_s() - t1) / (20.0 * (double)nq);
            if (t < best)
                best = t;
        }
        printf("query embedding: %.1f us per question (%zu questions, "
               "best of 5)\n",
               best * 1e6, nq);
        printf("search, per question: bm25 %.3f ms, fasttext leg %.3f ms, "
               "hybrid %.3f ms\n",
               time_search(nx, qs, nq, RAG_SEARCH_BM25) * 1e3,
               time_search(nx, qs, nq, RAG_SEARCH_FASTTEXT) * 1e3,
               time_search(nx, qs, nq, RAG_SEARCH_HYBRID) * 1e3);
        for (size_t i = 0; i < nq; i++)
            free(qs[i]);
    }
    rag_index_buf_free(&zb);
    rag_index_close(ix);
    rag_index_close(nx);
    return 0;
}
