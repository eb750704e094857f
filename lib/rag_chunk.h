/*
 * rag_chunk — heading-aware Markdown chunker.
 *
 * The document is cut into chunks of at most max_tokens (estimated with
 * rag_tokens), preferring to cut at headings; sections smaller than
 * min_tokens are merged with the following ones. Each chunk carries the
 * breadcrumb of its first section ("Page > Section > Sub") and that
 * section's anchor: the explicit "{#id}" written after the heading (as
 * rag_html emits and Docusaurus/Pandoc accept), else a GitHub-style slug,
 * made unique within the document ("x", "x-1", "x-2").
 *
 * Guarantees (checked by t/unit/test_chunk.c):
 *  - the chunks' own ranges [off, off+len) partition the input: every
 *    byte is in exactly one chunk, in order;
 *  - cuts fall only between lines; a paragraph line longer than the limit
 *    is cut after a space; table rows and code lines are never cut;
 *  - a chunk that starts or ends inside a fenced code block re-opens the
 *    fence with its original line (language included) / closes it, and a
 *    chunk that starts inside a table repeats the header row and
 *    separator, so every chunk is valid Markdown on its own;
 *  - a chunk's text is at most max_tokens, unless its own range is a
 *    single line that cannot be cut;
 *  - consecutive chunks of one section overlap by at most
 *    overlap_tokens (whole lines from the end of the previous chunk).
 *
 * Ownership: rag_chunks owns all strings; free with rag_chunks_free.
 */
#ifndef RAG_CHUNK_H
#define RAG_CHUNK_H

#include <stddef.h>

#define RAG_CHUNK_MAX_INPUT (32u * 1024 * 1024)

typedef struct {
    size_t max_tokens;     /* default 500; clamped to [50, 8000] */
    size_t overlap_tokens; /* default 75 (15%); at most max_tokens / 2 */
    size_t min_tokens;     /* default max_tokens / 5 */
    int explicit_ids;      /* 1: no slugs; a heading without "{#id}" uses
                              its parent's anchor (text converted from
                              HTML, where a made-up slug would not exist) */
} rag_chunk_opts;

typedef struct {
    char *text; /* chunk Markdown: overlap + own lines (+ fences) */
    size_t text_len;
    char *heading_path; /* "Page > Section > Sub" ("Page" before any) */
    char *anchor;       /* "" before the first heading */
    size_t off, len;    /* the input bytes this chunk owns */
    size_t overlap_off; /* where its overlap starts (== off if none) */
    size_t tokens;      /* rag_tokens_estimate(text) */
} rag_chunk;

typedef struct {
    rag_chunk *v;
    size_t n;
} rag_chunks;

void rag_chunk_opts_default(rag_chunk_opts *o);

/* Chunks md[0..len); title heads every breadcrumb (may be NULL/"").
 * Returns 0, or -1 when out of memory or len > RAG_CHUNK_MAX_INPUT. */
int rag_chunk_markdown(const char *md, size_t len, const char *title,
                       const rag_chunk_opts *o, rag_chunks *out);

void rag_chunks_free(rag_chunks *c);

/* GitHub-style heading slug of text[0..n): lowercase, punctuation
 * dropped (except '-' and '_'), spaces to '-', non-ASCII kept. Returns
 * the length written (out always NUL-terminated, truncated to fit). */
size_t rag_slug(const char *text, size_t n, char *out, size_t outlen);

/* Plain heading text of an ATX heading line (without "#"s, "{#id}",
 * links, emphasis and code marks) into out; *id gets the explicit id or
 * "" . Returns the heading level (1-6), 0 if the line is no heading. */
int rag_md_heading(const char *line, size_t n, char *out, size_t outlen,
                   char *id, size_t idlen);

#endif
