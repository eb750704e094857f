/*
 * snippet — what /search's snippets cost, through lib's API on one
 * thread: the PostgreSQL manual's chunks (bench/search_corpus.c) in one
 * index, BM25 top 10 for each query, then the ten results' snippets
 * (240 bytes, as /search makes them) timed over ROUNDS rounds. Uses only
 * rag_snippet(), which every revision has, so bench/snippet.sh builds it
 * against this tree and against the previous implementation and compares
 * them in one run; with rag_snippet.h (this tree) it also times the way
 * /search calls it now: the query parsed once, then ten
 * rag_snippet_make().
 *
 *   snippet CORPUS.tsv INDEX QUERIES.txt SNIPPETS.txt
 *
 * Prints "key value" lines (CPU microseconds per snippet and per query
 * of ten; the share of snippets holding a query term); SNIPPETS gets
 * every snippet, one per line, for the comparison.
 */
#include "rag_index.h"
#include "rag_search.h"
#include "rag_terms.h"

#include "bench_corpus.h"

#define ROUNDS 20
#define SNIP 240

typedef struct {
    const char *q;
    size_t qlen;
    int hits;
    int found;
} has_ctx;

static int
term_cb(void *ud, const char *t, size_t n, size_t off, size_t len)
{
    char(*terms)[RAG_TERM_MAX + 1] = ud;
    for (int i = 0; i < 64; i++) {
        if (terms[i][0] == '\0') {
            memcpy(terms[i], t, n);
            terms[i][n] = '\0';
            return 0;
        }
        if (strlen(terms[i]) == n && memcmp(terms[i], t, n) == 0)
            return 0;
    }
    return 1;
}

static int
snip_cb(void *ud, const char *t, size_t n, size_t off, size_t len)
{
    char(*terms)[RAG_TERM_MAX + 1] = ud;
    for (int i = 0; i < 64 && terms[i][0]; i++)
        if (strlen(terms[i]) == n && memcmp(terms[i], t, n) == 0)
            return 1;
    return 0;
}

int
main(int argc, char **argv)
{
    size_t nc, nq = 0, qcap = 0, lcap = 0, nsnip = 0, with_term = 0;
    bench_chunk *v;
    rag_index_writer *w;
    rag_index *ix;
    rag_index_buf zb = {NULL, 0, NULL};
    char err[256], *line = NULL, **qs = NULL, out[SNIP + 1];
    ssize_t len;
    FILE *qf, *sf;
    double c0, t_old;

    if (argc != 5) {
        fprintf(stderr, "usage: %s CORPUS INDEX QUERIES SNIPPETS\n", argv[0]);
        return 2;
    }
    if ((v = load_corpus(argv[1], &nc)) == NULL || nc == 0)
        return 1;
    w = rag_index_writer_new(0);
    for (size_t i = 0; i < nc; i++) {
        rag_index_input in = {(int64_t)i + 1, v[i].f[0], v[i].f[1],
                              v[i].f[2],      v[i].f[3], NULL};
        if (rag_index_writer_add(w, &in) != 0)
            return 1;
    }
    if (rag_index_writer_write(w, argv[2], 1, err, sizeof(err)) != 0 ||
        (ix = rag_index_open(argv[2], err, sizeof(err))) == NULL) {
        fprintf(stderr, "index: %s\n", err);
        return 1;
    }
    rag_index_writer_free(w);
    if ((qf = fopen(argv[3], "r")) == NULL ||
        (sf = fopen(argv[4], "w")) == NULL)
        return 1;
    while ((len = getline(&line, &lcap, qf)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        if (nq == qcap)
            qs = realloc(qs, (qcap = qcap ? 2 * qcap : 64) * sizeof(char *));
        qs[nq++] = strdup(line);
    }

    /* each query's ten bodies, decompressed once, outside the timing */
    rag_str(*bodies)[10] = calloc(nq, sizeof(*bodies));
    int *nb = calloc(nq, sizeof(int));
    for (size_t q = 0; q < nq; q++) {
        rag_query rq = {.text = qs[q],
                        .text_len = strlen(qs[q]),
                        .k = 10,
                        .mode = RAG_SEARCH_BM25};
        rag_hit hits[10];
        nb[q] = rag_search(ix, &rq, hits);
        for (int i = 0; i < nb[q]; i++) {
            rag_str b;
            rag_index_chunk_body(ix, hits[i].rec, &zb, &b);
            bodies[q][i].p = memcpy(malloc(b.len + 1), b.p, b.len);
            bodies[q][i].len = b.len;
        }
    }

    /* the API every revision has: rag_snippet per result */
    c0 = cpu_s();
    for (int r = 0; r < ROUNDS; r++)
        for (size_t q = 0; q < nq; q++)
            for (int i = 0; i < nb[q]; i++)
                rag_snippet(bodies[q][i].p, bodies[q][i].len, qs[q],
                            strlen(qs[q]), out, sizeof(out));
    t_old = cpu_s() - c0;
    for (size_t q = 0; q < nq; q++) {
        char terms[64][RAG_TERM_MAX + 1];
        memset(terms, 0, sizeof(terms));
        rag_terms_each(qs[q], strlen(qs[q]), term_cb, terms);
        for (int i = 0; i < nb[q]; i++) {
            size_t n = rag_snippet(bodies[q][i].p, bodies[q][i].len, qs[q],
                                   strlen(qs[q]), out, sizeof(out));
            fprintf(sf, "%s\n", out);
            nsnip++;
            with_term += rag_terms_each(out, n, snip_cb, terms) < 0;
        }
    }
    printf("queries %zu\nsnippets %zu\n", nq, nsnip);
    printf("us_per_snippet %.2f\n", t_old * 1e6 / ROUNDS / nsnip);
    printf("us_per_query %.2f\n", t_old * 1e6 / ROUNDS / nq);
    printf("with_term_pct %.1f\n", 100.0 * with_term / nsnip);
#ifdef RAG_SNIPPET_H
    /* as /search calls it: the query parsed once per request */
    c0 = cpu_s();
    for (int r = 0; r < ROUNDS; r++)
        for (size_t q = 0; q < nq; q++) {
            rag_snippet_query sq;
            rag_snippet_query_init(&sq, qs[q], strlen(qs[q]));
            for (int i = 0; i < nb[q]; i++)
                rag_snippet_make(&sq, bodies[q][i].p, bodies[q][i].len, out,
                                 sizeof(out));
        }
    printf("us_per_query_parsed_once %.2f\n",
           (cpu_s() - c0) * 1e6 / ROUNDS / nq);
#endif
    rag_index_buf_free(&zb);
    rag_index_close(ix);
    fclose(sf);
    return 0;
}
