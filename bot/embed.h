/*
 * embed — pure text-to-Discord-JSON helpers for the bot: splitting long
 * answers into embeds within Discord's limits without breaking code
 * fences, the Sources embed, the thread controller embeds, and the
 * per-reply nonce. No I/O; unit-tested and fuzzable.
 *
 * Returned arrays and strings are malloc'd and owned by the caller
 * (rag_embed_parts_free, rag_buf_free).
 */
#ifndef RAG_BOT_EMBED_H
#define RAG_BOT_EMBED_H

#include "rag_buf.h"

#include <stddef.h>

#define RAG_EMBED_DESC_MAX 4096  /* description */
#define RAG_EMBED_TOTAL_MAX 6000 /* all embeds of one message */
#define RAG_EMBED_PER_MSG 10
#define RAG_EMBED_TITLE_MAX 256
#define RAG_NONCE_LEN 25
#define RAG_REPLY_MAX (200u * 1024) /* longer answers are cut */

#define RAG_COLOR_ANSWER 0x3498db
#define RAG_COLOR_SOURCES 0x2ecc71
#define RAG_COLOR_INFO 0xf1c40f
#define RAG_COLOR_SOLVED 0x2ecc71
#define RAG_COLOR_WARN 0xe67e22
#define RAG_COLOR_CLOSED 0xe74c3c
#define RAG_COLOR_ERROR 0xe74c3c

/* Splits text into parts of at most limit bytes (limit >= 64). Newlines
 * are kept; a split inside a ``` fence closes it and reopens it (with
 * its language) in the next part; long lines break at a space or a
 * UTF-8 boundary. Returns the number of parts (0 for empty text) and
 * sets *parts, or -1 on allocation failure. */
long rag_embed_split(const char *text, size_t len, size_t limit, char ***parts);
void rag_embed_parts_free(char **parts, long n);

/* Renders a sources array ([{n,url,title,heading,anchor,score}]) as
 * numbered Markdown links with scores as percentages, at most
 * RAG_EMBED_DESC_MAX bytes. Returns 0 (empty output for no sources). */
int rag_embed_sources_text(const char *sources_json, rag_buf *out);

/* Builds the JSON bodies of the messages that deliver one reply: answer
 * embeds (first titled), then a Sources embed, each message within
 * 10 embeds / 6000 characters, with "nonce" (part i) and
 * "enforce_nonce": true. An abstained reply's role mentions are repeated
 * in the first message's content (embeds notify nobody). Returns the number of
 * messages, -1 on error; *msgs is an array of rag_buf (free each, then the
 * array). */
long rag_embed_reply_messages(const char *content, const char *sources_json,
                              const char *message_id, int abstained,
                              rag_buf **msgs);

/* Deterministic nonce for part `part` of the reply message_id:
 * base36 part digit + 24 hex chars of SHA-256(message_id). */
void rag_embed_nonce(const char *message_id, unsigned part,
                     char out[RAG_NONCE_LEN + 1]);

typedef struct {
    const char *thread_id;
    const char *author_id;
    const char *bot_id; /* may be NULL before READY */
    int answered;       /* a reply was delivered */
    int open, solved, was_solved;
    const char *nonce; /* set for the first POST, NULL for edits */
} rag_controller;

/* {"embeds":[info, status...]}: the info embed (loading text or the
 * voting instructions) followed by the solved / no-longer-solved and
 * closed status embeds, so edits never lose the status. */
int rag_embed_controller_json(rag_buf *b, const rag_controller *c);

/* Appends {"embeds":[{"title":title,"description":text,"color":color}]}
 * with the text cut to the embed limit. */
int rag_embed_simple(rag_buf *b, const char *title, const char *text,
                     int color);

/* Appends one embed object (no surrounding braces of the message). */
int rag_embed_obj(rag_buf *b, const char *title, const char *desc,
                  size_t desc_len, int color);

#endif
