/*
 * rag_search — hybrid retrieval over one rag_index: BM25 over the
 * postings (dynamic pruning, results identical to scoring every
 * posting), optional vector similarity (int8 scan of all vectors or of
 * the nearest k-means lists, float32 rescore), fused with reciprocal rank
 * fusion (k = 60).
 *
 * Pure computation, no I/O: safe to call from any thread on a shared
 * read-only rag_index. Query embeddings are obtained by the caller.
 */
#ifndef RAG_SEARCH_H
#define RAG_SEARCH_H

#include "rag_index.h"

#include <stddef.h>

enum rag_search_mode {
    RAG_SEARCH_HYBRID = 0, /* BM25 + vector when qvec given, else BM25 */
    RAG_SEARCH_BM25,
    RAG_SEARCH_VECTOR
};

#define RAG_SEARCH_MAX_K 100

typedef struct {
    const char *text;          /* query text (BM25) */
    size_t text_len;
    const float *qvec;         /* rag_index_dims() floats, or NULL */
    size_t k;                  /* results wanted, 1..RAG_SEARCH_MAX_K */
    enum rag_search_mode mode;
} rag_query;

typedef struct {
    uint32_t rec;      /* record number for rag_index_chunk_get */
    int64_t chunk_id;
    double score;      /* fused score (RRF) or the single leg's score */
    double bm25;       /* BM25 score, 0 if not matched lexically */
    double cosine;     /* cosine similarity, 0 if no vectors */
    int bm25_rank;     /* 1-based, 0 = not in that leg's list */
    int vec_rank;
} rag_hit;

/* Fills up to q->k hits, best first; returns the number, or -1 on bad
 * arguments (or out of memory). */
int rag_search(const rag_index *ix, const rag_query *q, rag_hit *hits);

typedef struct {
    uint32_t n_probe; /* vector lists scanned: 0 = the index's default,
                         >= its list count = every vector (exact) */
} rag_search_opts;

/* rag_search with tuning; opts may be NULL (defaults). */
int rag_search_ex(const rag_index *ix, const rag_query *q,
                  const rag_search_opts *opts, rag_hit *hits);

/* Snippets of result bodies: rag_snippet.h. */
#include "rag_snippet.h"

#endif
