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
 * With a Snowball stemmer (rag_stemmer, Debian's libstemmer) instead of
 * the light English one, every word of letters only (any script) is
 * stemmed by the collection's language's algorithm, and the English
 * stopwords are dropped only when that language is English.
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

/* A Snowball stemmer for one language. Not thread-safe: one per thread
 * (or per call; creating one costs a few small allocations). */
typedef struct rag_stemmer rag_stemmer;

/* The Snowball algorithm named language (lower case, a canonical name
 * libstemmer lists: "english", "german", "french", ...). NULL with err
 * filled (naming the languages there are) when there is no such one or
 * on out of memory. The caller frees it with rag_stemmer_free. */
rag_stemmer *rag_stemmer_new(const char *language, char *err, size_t errlen);
void rag_stemmer_free(rag_stemmer *st);
const char *rag_stemmer_language(const rag_stemmer *st);

/* 1 when language is one of libstemmer's canonical algorithm names. */
int rag_stem_language_ok(const char *language);

/* The languages, comma-separated, into out (truncated to outlen). */
void rag_stem_languages(char *out, size_t outlen);

/* rag_terms_each with st's stemmer; st NULL: the light English one
 * (exactly rag_terms_each). */
long rag_terms_each_stem(rag_stemmer *st, const char *text, size_t len,
                         rag_term_cb cb, void *ud);

/* Stems one lowercased word in place; returns its new length. Exposed for
 * tests. */
size_t rag_term_stem(char *w, size_t len);

/* 1 when the lowercased word is a stopword. */
int rag_term_is_stopword(const char *w, size_t len);

/* 1 when the word (any case, as written) phrases a question rather than
 * names a topic ("want", "need", "way", "possible", ...: a fixed English
 * list, lib/rag_terms.c). The query side weighs such words low. */
int rag_term_is_question_word(const char *w, size_t len);

/* 1 when the word is a bare number ("200", "30"; not "15.2", "utf8"):
 * in a question mostly an example quantity ("20 at a time", "after 30
 * seconds", "200 URLs"), which the docs' numbers match by chance. The
 * query side weighs it as a question word. */
int rag_term_is_number(const char *w, size_t len);

#endif
