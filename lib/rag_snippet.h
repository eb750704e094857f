/*
 * rag_snippet — a short plain-text excerpt of a chunk's Markdown body
 * around the first place a query term occurs, for search results.
 *
 * Cheap by construction, so /search can make ten of them on nginx's
 * event loop: the query is parsed once (rag_snippet_query_init), the
 * body is searched for the terms' leading bytes (case-folded, one pass
 * stopping at the first hit, each hit confirmed by rag_terms on the
 * surrounding word only), and Markdown is stripped from a window of
 * about twice the snippet's size around it, not from the whole body.
 * A query with a term that has no ASCII lead (a word in Greek, say)
 * tokenises at most the body's first RAG_SNIPPET_SCAN bytes instead.
 *
 * The search keys assume what rag_terms' stemmer guarantees: a term
 * keeps its source word's beginning (all but its last byte are a prefix
 * of the lowercased word); t/unit/test_snippet.c checks it.
 *
 * No allocation; a rag_snippet_query is plain data (about 4.5 KB) the
 * caller owns, read-only once initialised (any number of threads may
 * share one).
 */
#ifndef RAG_SNIPPET_H
#define RAG_SNIPPET_H

#include <stddef.h>

#define RAG_SNIPPET_MAX_TERMS 64
#define RAG_SNIPPET_TERM_MAX 64 /* = RAG_TERM_MAX */
#define RAG_SNIPPET_SCAN 8192   /* bytes tokenised without keys */
#define RAG_SNIPPET_MAX 1024    /* longest snippet, bytes */

typedef struct {
    char term[RAG_SNIPPET_MAX_TERMS][RAG_SNIPPET_TERM_MAX];
    unsigned char len[RAG_SNIPPET_MAX_TERMS];
    unsigned char keylen[RAG_SNIPPET_MAX_TERMS]; /* 0: no ASCII lead */
    unsigned char lead[256]; /* per byte: 1 a key's first byte (either
                                case), 2 a lower-case letter or digit */
    size_t n;
    int scan; /* some term has no key: tokenise */
} rag_snippet_query;

/* Parses query's terms (rag_terms, duplicates once). */
void rag_snippet_query_init(rag_snippet_query *sq, const char *query,
                            size_t query_len);

/* Writes a plain-text snippet of body (<= outlen - 1 bytes, at most
 * RAG_SNIPPET_MAX, UTF-8 safe, NUL terminated): the whole text when it
 * fits, else a window around the first query term (its start when none
 * occurs) with "…" where text was cut. Returns its length. */
size_t rag_snippet_make(const rag_snippet_query *sq, const char *body,
                        size_t body_len, char *out, size_t outlen);

/* rag_snippet_query_init + rag_snippet_make, for one-off callers. */
size_t rag_snippet(const char *body, size_t body_len, const char *query,
                   size_t query_len, char *out, size_t outlen);

#endif
