/*
 * answer_text — the pure text side of answering (no I/O): the retrieval
 * query built from a conversation, the system prompt and chat messages
 * trimmed to a token budget, the extractive (offline) answer, the abstain
 * reply, citation parsing and "not covered" detection. Unit-tested in
 * t/unit/test_answer.c.
 *
 * Inputs are borrowed. Outputs go into caller-owned rag_bufs, or into a
 * rag_prompt that owns its strings until rag_prompt_free().
 */
#ifndef RAG_ANSWER_TEXT_H
#define RAG_ANSWER_TEXT_H

#include "llm.h"
#include "rag_buf.h"

#include <stddef.h>
#include <stdint.h>

#define RAG_ANSWER_MAX_K 20
#define RAG_PROMPT_MAX_MSGS 64

typedef struct {
    int from_bot;
    const char *content;
} rag_turn;

typedef struct {
    int n; /* citation number, 1-based */
    int64_t chunk_id;
    const char *url; /* with #anchor */
    const char *title;
    const char *heading;
    const char *body;
    size_t body_len;
    double score; /* fused retrieval score */
    double bm25;
    double cosine;
    int community; /* from the guild's community answers */
} rag_passage;

typedef struct {
    size_t budget_tokens;  /* whole prompt (system + turns) */
    size_t passage_tokens; /* cap per passage */
    size_t turn_tokens;    /* cap per conversation turn */
    size_t max_turns;      /* earlier turns kept at most */
} rag_prompt_limits;

typedef struct {
    rag_llm_msg msgs[RAG_PROMPT_MAX_MSGS];
    char *owned[RAG_PROMPT_MAX_MSGS];
    size_t n;
    size_t passages_used; /* passages 1..passages_used made it in */
    size_t turns_used;    /* conversation turns included */
    size_t tokens;        /* estimated prompt tokens */
} rag_prompt;

/* Token estimate used for budgets (rag_tokens when available). */
size_t rag_answer_tokens(const char *s, size_t n);

/* Length of the longest prefix of s (<= max_bytes) that ends at a
 * sentence boundary ('.', '!', '?' then space/newline, or a blank line);
 * falls back to a word boundary, then to a UTF-8 character boundary.
 * Returns len when s fits. */
size_t rag_answer_cut(const char *s, size_t len, size_t max_bytes);

/* Retrieval query: the title, the latest user turn twice (weighted), then
 * earlier user turns newest first, each cut to 300 bytes, until
 * max_bytes. Bot turns are left out (they would pull retrieval towards
 * passages already used). */
int rag_answer_query(const char *title, const rag_turn *turns, size_t n,
                     size_t max_bytes, rag_buf *out);

/* System prompt + conversation (user turns "user", bot turns
 * "assistant") within limits: the latest turn always goes in (cut to
 * turn_tokens), then passages in rank order (each cut to
 * passage_tokens, at least one), then earlier turns newest first while
 * the budget lasts. product names what the docs are about (the
 * collection's description or name). 0 or -1 (out of memory). */
int rag_answer_prompt(const char *product, const char *title,
                      const rag_turn *turns, size_t n, const rag_passage *ps,
                      size_t np, const rag_prompt_limits *lim, rag_prompt *out);
void rag_prompt_free(rag_prompt *p);

/* Bit n-1 set for every [n] (1 <= n <= np <= 32) cited in text; also
 * understands "[1, 2]" and "[1][2]". */
uint32_t rag_answer_citations(const char *text, size_t np);

/* 1 when the model's reply says the passages do not cover the question
 * (the phrase the prompt asks for, or close variants) and cites nothing. */
int rag_answer_says_not_covered(const char *text, size_t np);

/* Offline answer: the best passages quoted (each cut at a sentence
 * boundary to quote_bytes) with their numbered links. */
int rag_answer_extractive(const char *product, const rag_passage *ps, size_t np,
                          size_t quote_bytes, rag_buf *out);

/* The honest "not in the docs" reply, pinging role_id (a Discord role
 * snowflake) when given. */
int rag_answer_abstain_text(const char *product, const char *role_id,
                            rag_buf *out);

/* The sentence the prompt asks the model to use when it cannot answer. */
extern const char rag_answer_not_covered[];

#endif
