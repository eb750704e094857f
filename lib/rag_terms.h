/*
 * rag_terms — BM25 term extraction, shared by the index writer and the
 * query side so both produce exactly the same terms.
 *
 * Text is split into words (letters and digits, any non-ASCII letter
 * counts as a letter); words joined by '_', '.', '-', ':' or '/' with no
 * space form an identifier ("pg_dump", "max_connections", "pg_stat.foo"),
 * which yields the whole identifier (lowercased, not stemmed) and each
 * part. Two upper-case words in a row form a phrase term as well
 * ("CREATE INDEX" -> "creat", "index", "create index"), so pasted SQL
 * matches SQL in the docs closely. camelCase parts are split too
 * ("getElementById" -> "get", "element", "by", "id" besides "getelementbyid").
 * Words are lowercased (ASCII fast path; Latin-1, Latin Extended-A, Greek and
 * Cyrillic capitals folded), stopwords dropped, and a light conservative
 * English stemmer is applied to purely alphabetic ASCII words (plurals, -ing,
 * -ed, final e). Terms longer than RAG_TERM_MAX bytes are skipped (hashes,
 * base64 blobs).
 *
 * No allocation: terms are handed to a callback in a stack buffer that is
 * only valid during the call.
 */
#ifndef RAG_TERMS_H
#define RAG_TERMS_H

#include <stddef.h>

#define RAG_TERM_MAX 64 /* bytes of one term, after lowercasing */

/* Called for each term. src_off/src_len locate the source word (or
 * identifier) in the input text. Return non-zero to stop. */
typedef int (*rag_term_cb)(void *ud, const char *term, size_t len,
                           size_t src_off, size_t src_len);

/* Emits the terms of text in order. Returns the number emitted, or -1 if
 * the callback stopped the walk. Invalid UTF-8 bytes act as separators. */
long rag_terms_each(const char *text, size_t len, rag_term_cb cb, void *ud);

/* Stems one lowercased word in place; returns its new length. Exposed for
 * tests. */
size_t rag_term_stem(char *w, size_t len);

/* 1 when the lowercased word is a stopword. */
int rag_term_is_stopword(const char *w, size_t len);

#endif
