/*
 * rag_tokens — a fast estimate of how many tokens an OpenAI cl100k_base
 * style BPE tokenizer would produce for a UTF-8 text, without the
 * vocabulary (no allocation, one pass, ~1 GB/s).
 *
 * Model: the text is cut like cl100k's pre-tokenizer (letters with one
 * leading space, digit groups of 1-3, punctuation runs, newline runs,
 * other whitespace runs); each piece then costs:
 *   - letters: 1 token up to 6 bytes, then one more per 4 bytes
 *     (common English words are single tokens; long identifiers and
 *     rare words break into ~4-byte pieces),
 *   - digits: 1 per group of up to 3,
 *   - punctuation: 1 per 2 bytes (cl100k merges "```", "//", "==", "({"),
 *   - a newline run: 1; other whitespace runs: 1 per 4 bytes,
 *   - non-ASCII: 1 per code point for CJK and symbols, letters in other
 *     scripts (Cyrillic, Greek, accented Latin) count as 1 per 2 bytes.
 * Error bound (see t/unit/test_tokens.c and bench/ingest.sh, measured
 * against the real cl100k_base counts of js-tiktoken): within ±15% on
 * English prose, Markdown and code from the PostgreSQL docs corpus, and
 * the estimate is subadditive at whitespace boundaries, so the sum over
 * lines is never below the estimate of the whole (chunk limits are safe).
 */
#ifndef RAG_TOKENS_H
#define RAG_TOKENS_H

#include <stddef.h>

size_t rag_tokens_estimate(const char *s, size_t n);

#endif
