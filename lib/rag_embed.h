/*
 * rag_embed — embeddings through any OpenAI-compatible /v1/embeddings
 * endpoint (base URL, key, model, dimensions), over rag_http.
 *
 * Requests are batched by a token budget (<= 2048 inputs and <= 300k
 * estimated tokens per request), retried on 429/5xx honouring
 * Retry-After. Vectors are L2-normalised so cosine = dot product.
 */
#ifndef RAG_EMBED_H
#define RAG_EMBED_H

#include "rag_buf.h"
#include "rag_conf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *base_url; /* e.g. http://127.0.0.1:8080/v1 ; NULL/"" = off */
    const char *api_key;  /* bearer token or NULL */
    const char *model;    /* e.g. text-embedding-3-small */
    uint32_t dimensions;  /* 0: the model's default (sent only if > 0) */
    long timeout_ms;
    int max_retries;
    size_t max_inputs; /* per request, <= 2048 */
    size_t max_tokens; /* per request, <= 300000 */
} rag_embed_conf;

/* Reads embed_base_url, embed_api_key, embed_model, embed_dimensions,
 * embed_timeout_ms, embed_max_retries from conf (borrowed strings). */
/* The embed_* keys (rag_conf.h tables): what rag_embed_conf_load reads. */
extern const rag_conf_section rag_conf_embed;

void rag_embed_conf_load(rag_embed_conf *ec, rag_conf *conf);

/* 1 when an endpoint is configured. */
int rag_embed_enabled(const rag_embed_conf *ec);

/* Embeds n texts. On success returns 0, *dims_out is the vector size and
 * *out a malloc'd n*dims array (caller frees). -1 + err on failure. */
int rag_embed(const rag_embed_conf *ec, const char *const *texts, size_t n,
              float **out, uint32_t *dims_out, char *err, size_t errlen);

/* The request rag_embed sends for n texts (model, dimensions, input),
 * appended to body: for callers that do their own HTTP (nginx's
 * subrequests). 0, or -1 when body's ceiling was reached. */
int rag_embed_request_body(const rag_embed_conf *ec, const char *const *texts,
                           size_t n, rag_buf *body);

/* Parses an embeddings response (NUL-terminated) for n texts: 0 with
 * *out a malloc'd n * *dims array, L2-normalised (caller frees), or -1
 * + err. */
int rag_embed_parse(const char *body, size_t n, float **out, uint32_t *dims,
                    char *err, size_t errlen);

#endif
