/*
 * rag_http — the one HTTP client (libcurl easy) for OpenAI-compatible
 * APIs, the crawler and other services, with bounded responses and
 * retries.
 *
 * Retries 408/429/5xx and connection errors with jittered exponential
 * backoff (base_ms doubling up to 8 s), honouring Retry-After /
 * retry-after-ms when the server sends them. Thread-safe as long as
 * curl_global_init() ran first (rag_http_global_init). No signals are
 * used (CURLOPT_NOSIGNAL), so it may run on an nginx thread; there it
 * never sleeps: in a process that forbade sleeping (rag_time.h) a retry
 * that would have to wait is not made, and the last response stands.
 */
#ifndef RAG_HTTP_H
#define RAG_HTTP_H

#include "rag_buf.h"

#include <stddef.h>

typedef struct {
    const char *url;
    const char *method;        /* NULL: POST when body, else GET */
    const char *body;          /* request body or NULL */
    size_t body_len;
    const char *content_type;  /* default application/json */
    const char *bearer;        /* Authorization: Bearer ..., or NULL */
    const char *const *headers;/* extra "Name: value" lines, NULL-ended */
    long timeout_ms;           /* whole request; default 60000 */
    long connect_timeout_ms;   /* default 5000 */
    int max_retries;           /* default 0: one attempt */
    long backoff_base_ms;      /* default 500 */
    size_t max_response;       /* default 8 MiB: past it (or a larger
                                  Content-Length) the transfer stops with
                                  error "response too large" */
    const char *user_agent;    /* default "ngx_rag/0.1" */
    const char *ca_file;       /* extra CA bundle, or NULL: system CAs */
    /* Called for every response header line as received (CRLF kept, the
     * status lines of interim responses too); parse with
     * rag_http_header_value. May be NULL. */
    void (*on_header)(void *ud, const char *line, size_t len);
    void *header_ud;
    /* The crawler's guards: resolve pins the connection to one vetted
     * address ("host:port:address", curl's CURLOPT_RESOLVE form), no_proxy
     * ignores the environment's proxies, accept_encoding asks for
     * compressed bodies ("" = every encoding curl decodes; NULL = none). */
    const char *resolve;
    int no_proxy;
    const char *accept_encoding;
} rag_http_req;

typedef struct {
    long status;       /* last HTTP status, 0 if no response */
    int attempts;      /* requests made */
    rag_buf body;      /* last response body (caller frees) */
    char error[256];   /* transport error, "" if none */
} rag_http_resp;

void rag_http_global_init(void);

/* 0 when a response with a non-retryable status (or 2xx) arrived, -1 on
 * transport failure after the retries. Check resp->status either way.
 * resp->body must be freed with rag_buf_free even on failure. */
int rag_http_do(const rag_http_req *req, rag_http_resp *resp);

/* Pieces for other libcurl users (the crawler): a CURLOPT_WRITEFUNCTION
 * that appends into a bounded rag_buf (userdata: rag_http_body_sink;
 * overflow set and the transfer aborted past the buffer's max), and the
 * value of header `name` from one raw header line (copied into out, cut
 * to outlen - 1; out untouched when the line is another header). */
typedef struct {
    rag_buf *body;
    int overflow;
} rag_http_body_sink;

size_t rag_http_write_body(char *p, size_t sz, size_t n, void *sink);
void rag_http_header_value(const char *line, size_t len, const char *name,
                           char *out, size_t outlen);

/* Delay in ms asked for by Retry-After ("2", "2.5") or retry-after-ms;
 * -1 if neither parses. Exposed for tests. */
long rag_http_parse_retry_after(const char *retry_after,
                                const char *retry_after_ms);

#endif
