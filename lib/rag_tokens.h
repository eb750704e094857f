/*
 * rag_tokens — a fast estimate of how many tokens an OpenAI cl100k_base
 * style BPE tokenizer would produce for a UTF-8 text, without the
 * vocabulary (no allocation, one pass, ~1 GB/s).
 *
 * Model: the text is cut like cl100k's pre-tokenizer (letters with one
 * leading space or punctuation character, digit groups of 1-3,
 * punctuation runs with their trailing newlines, newline runs, other
 * whitespace runs); each piece then costs:
 *   - letters: 1 token up to 7 bytes, then one more per 4 bytes
 *     (common English words are single tokens; long identifiers and
 *     rare words break into ~4-byte pieces),
 *   - digits: 1 per group of up to 3,
 *   - punctuation: 1 per 2 bytes (cl100k merges "```", "//", "==", "({"),
 *   - a newline run: 1; other whitespace runs: 1 per 4 bytes,
 *   - non-ASCII: 1 per code point for CJK, emoji and invalid bytes; other
 *     scripts (Cyrillic, Greek, accented Latin) 1 per 4 bytes.
 *
 * Error bound, measured against the real cl100k_base counts (js-tiktoken,
 * bench/ingest_tokens.js): on 30 PostgreSQL 15 doc pages converted to
 * Markdown (88,278 real tokens) the total is within +1.3% and every page
 * within -10.8%..+6%; C, Perl and MkDocs/Docusaurus Markdown within
 * -5%..+5%; Chinese +6%, Russian +20%. So budgets should keep ~12% of
 * headroom below hard API limits (the chunker's 500 default is far below
 * the 8,192 per-input limit). The estimate is subadditive at whitespace
 * boundaries, so the sum over lines is never below the estimate of the
 * whole (chunk limits computed from lines are safe).
 */
#ifndef RAG_TOKENS_H
#define RAG_TOKENS_H

#include <stddef.h>

size_t rag_tokens_estimate(const char *s, size_t n);

#endif
