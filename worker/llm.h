/*
 * llm — an OpenAI-compatible /v1/chat/completions client over rag_http.
 *
 * rag_llm_chat() sends {model, messages, temperature, max_tokens}, lets
 * rag_http retry 408/429/5xx with backoff honouring Retry-After, and
 * validates the response shape (choices[0].message.content a string).
 * The conf's strings are borrowed (they live in the worker's rag_conf).
 */
#ifndef RAG_LLM_H
#define RAG_LLM_H

#include "rag_buf.h"
#include "rag_conf.h"

#include <stddef.h>

typedef struct {
    const char *base_url; /* e.g. https://api.openai.com/v1; NULL/"" = off */
    const char *api_key;  /* bearer, or NULL */
    const char *model;
    double temperature; /* < 0: not sent */
    long max_tokens;    /* 0: not sent */
    long timeout_ms;
    int max_retries; /* in-request retries (job retries come after) */
    long backoff_base_ms;
} rag_llm_conf;

typedef struct {
    const char *role; /* system | user | assistant */
    const char *content;
} rag_llm_msg;

/* Reads llm_base_url, llm_api_key, llm_model, llm_temperature,
 * llm_max_tokens, llm_timeout_ms, llm_max_retries, llm_backoff_ms. */
void rag_llm_conf_load(rag_llm_conf *lc, rag_conf *conf);
int rag_llm_enabled(const rag_llm_conf *lc);

enum { RAG_LLM_OK = 0, RAG_LLM_TRANSIENT = -1, RAG_LLM_PERMANENT = -2 };

/* Appends the request JSON for msgs to body (exposed for tests). */
int rag_llm_request_json(const rag_llm_conf *lc, const rag_llm_msg *msgs,
                         size_t n, rag_buf *body);

/* Extracts choices[0].message.content (and finish_reason) from a
 * response body. 0, or -1 with err filled. */
int rag_llm_parse_response(const char *json, size_t len, rag_buf *content,
                           char *finish, size_t finishlen, char *err,
                           size_t errlen);

/* Calls the endpoint. RAG_LLM_OK with content filled; TRANSIENT for
 * transport errors, 408/409/429/5xx and malformed replies (worth a job
 * retry); PERMANENT for other 4xx (bad key, bad request). */
int rag_llm_chat(const rag_llm_conf *lc, const rag_llm_msg *msgs, size_t n,
                 rag_buf *content, char *err, size_t errlen);

#endif
