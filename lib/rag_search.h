/*
 * rag_search — hybrid retrieval over one rag_index: BM25 over the
 * postings (dynamic pruning, results identical to scoring every
 * posting), optional vector similarity (int8 scan of all vectors or of
 * the nearest k-means lists, float32 rescore), and the semantic leg
 * trained on the collection (rag_ft: the query embedded in-process,
 * cosine with every record's vector), fused with reciprocal rank fusion
 * (k = 60; the in-process leg's list at weight 0.5).
 *
 * Pure computation, no I/O: safe to call from any thread on a shared
 * read-only rag_index. Embeddings-endpoint query vectors are obtained by
 * the caller; the in-process leg needs nothing from it.
 */
#ifndef RAG_SEARCH_H
#define RAG_SEARCH_H

#include "rag_index.h"

#include <stddef.h>

enum rag_search_mode {
    RAG_SEARCH_HYBRID = 0, /* BM25 + the semantic legs (rag_search_ft) */
    RAG_SEARCH_BM25,
    RAG_SEARCH_VECTOR,  /* the embeddings endpoint's vectors alone */
    RAG_SEARCH_FASTTEXT /* the in-process leg alone */
};

/* Which semantic legs a hybrid search fuses with BM25. The in-process
 * leg (fastText, when the index has a model) is the default semantic
 * leg; a query vector from an embeddings endpoint replaces it (AUTO):
 * a real embedding model is the stronger of the two, and whether adding
 * the weaker leg helps or hurts it has not been measured with a real
 * model yet (rag-admin eval reports every combination to decide). */
enum rag_search_ft {
    RAG_SEARCH_FT_AUTO = 0, /* in-process leg unless qvec is given */
    RAG_SEARCH_FT_OFF,      /* never the in-process leg */
    RAG_SEARCH_FT_ALWAYS    /* also beside qvec: three-way fusion */
};

#define RAG_SEARCH_MAX_K 100

/* rag_query.per_page: 0 is the default, one hit per page; this asks for
 * every chunk in score order (several of one page may follow). */
#define RAG_SEARCH_PER_PAGE_ANY ((unsigned)-1)
#define RAG_SEARCH_POOL 50 /* candidates diversified, at least (or 4k) */

typedef struct {
    const char *text; /* query text (BM25) */
    size_t text_len;
    const float *qvec; /* rag_index_dims() floats, or NULL */
    size_t k;          /* results wanted, 1..RAG_SEARCH_MAX_K */
    enum rag_search_mode mode;
    /* Page diversity over the best candidates (RAG_SEARCH_POOL at
     * least): the hits are those candidates in score order, skipping a
     * page's (its URL without the #anchor) chunks past its first
     * per_page; when that gives fewer than k, the skipped ones follow,
     * best first. 0 = 1 (the default: no page twice while other pages
     * matched), RAG_SEARCH_PER_PAGE_ANY = plain chunk order. */
    unsigned per_page;
} rag_query;

typedef struct {
    uint32_t rec; /* record number for rag_index_chunk_get */
    int64_t chunk_id;
    double score;     /* fused score (RRF) or the single leg's score */
    double bm25;      /* BM25 score, 0 if not matched lexically */
    double cosine;    /* the semantic leg's cosine similarity: the
                         endpoint vector's when qvec was used, else the
                         in-process leg's; 0 if neither ran */
    double ft_cosine; /* the in-process leg's cosine, 0 if it did not run */
    int bm25_rank;    /* 1-based, 0 = not in that leg's list */
    int vec_rank;
    int ft_rank;
} rag_hit;

/* Fills up to q->k hits, best first; returns the number, or -1 on bad
 * arguments (or out of memory). */
int rag_search(const rag_index *ix, const rag_query *q, rag_hit *hits);

/* Pseudo-relevance feedback on the BM25 leg when it runs alone (no
 * vector or in-process semantic leg; lib/rag_search.c, prf_expand). Off
 * by default: it gained on eval/sets but lost two questions at 5 on the
 * holdout set; `rag-admin eval --prf` measures it. */
enum rag_search_prf { RAG_SEARCH_PRF_OFF = 0, RAG_SEARCH_PRF_ON };

/* A lexical technique's switch (issue 16.1): DEFAULT is the product's
 * choice for it (lib/rag_search.c says which and why); ON and OFF let
 * `rag-admin eval` measure both. */
enum rag_search_switch {
    RAG_SEARCH_SW_DEFAULT = 0,
    RAG_SEARCH_SW_ON,
    RAG_SEARCH_SW_OFF
};

typedef struct {
    uint32_t n_probe; /* vector lists scanned: 0 = the index's default,
                         >= its list count = every vector (exact) */
    enum rag_search_ft ft;
    enum rag_search_prf prf;
    /* query words that phrase the question ("want", "way", "possible":
     * rag_term_is_question_word) weigh QWORD_WEIGHT of a topic word */
    enum rag_search_switch qwords;
    /* page evidence: a BM25 hit gains a share of the scores of its
     * page's other matching chunks (lib/rag_search.c, page_blend) */
    enum rag_search_switch page_blend;
} rag_search_opts;

/* The in-process leg's fusion and its lexical use; rag_search_fuse(). */
typedef struct {
    /* 0 everywhere: the defaults (rag-admin eval --ft-opt measures
     * the others) */
    double ft_weight;     /* its RRF weight; 0 = RAG_SEARCH_FT_WEIGHT */
    double rrf_k;         /* RRF's k; 0 = 60 */
    int fuse_pages;       /* 1: RRF over each leg's page ranks (a page's
                             rank: where its first chunk is in that leg's
                             list), chunks of a page by their own RRF;
                             -1: over chunk ranks; 0: the default */
    unsigned ft_rerank;   /* the leg ranks only BM25's best N (every
                             record when BM25 found none); 0 =
                             RAG_SEARCH_FT_RERANK, RAG_SEARCH_FT_SCAN:
                             every record */
    unsigned ft_expand;   /* > 0: each query word's nearest neighbours in
                             the model (up to N) join BM25's query at
                             ft_expand_w times a query word's weight */
    double ft_expand_w;   /* 0 = 0.1 */
    double ft_expand_cos; /* neighbours at least this close; 0 = 0.7 */
    int ft_only_expand;   /* 1: the expansion without the vector leg */
    unsigned fuse_pool;   /* > 0: each fused leg's list is this long */
} rag_search_fusion;

/* The defaults, measured on eval/sets and eval/postgresql.jsonl (README,
 * "Semantic search without an API key"): the leg reorders BM25's best
 * 20 at weight 0.3, chunk ranks, k 60. */
#define RAG_SEARCH_FT_WEIGHT 0.3
#define RAG_SEARCH_FT_RERANK 20
#define RAG_SEARCH_FT_SCAN ((unsigned)-1) /* ft_rerank: every record */

/* rag_search with tuning; opts may be NULL (defaults). */
int rag_search_ex(const rag_index *ix, const rag_query *q,
                  const rag_search_opts *opts, rag_hit *hits);

/* rag_search_ex with the in-process leg's settings; fo may be NULL. */
int rag_search_fuse(const rag_index *ix, const rag_query *q,
                    const rag_search_opts *opts, const rag_search_fusion *fo,
                    rag_hit *hits);

/* Snippets of result bodies: rag_snippet.h. */
#include "rag_snippet.h"

#endif
