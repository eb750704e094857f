/*
 * rag_http — the one HTTP client (libcurl) for OpenAI-compatible APIs,
 * Discord's REST API, the crawler and other services, with bounded
 * responses.
 *
 * Two ways to run a request described by a rag_http_req:
 *   - rag_http_do: blocking, with retries: 408/429/5xx and connection
 *     errors are retried with jittered exponential backoff (base_ms
 *     doubling up to 8 s), honouring Retry-After / retry-after-ms.
 *   - rag_http_multi: non-blocking transfers driven by the caller's poll
 *     loop (curl multi), one attempt each; the caller schedules retries.
 * Both share the same request set-up, body byte cap, header hook and the
 * crawler's guards (pinned address, no proxy).
 *
 * Thread-safe as long as curl_global_init() ran first
 * (rag_http_global_init); a rag_http_multi belongs to one thread. No
 * signals are used (CURLOPT_NOSIGNAL), so it may run on an nginx thread;
 * there it never sleeps: in a process that forbade sleeping (rag_time.h)
 * a retry that would have to wait is not made, and the last response
 * stands.
 */
#ifndef RAG_HTTP_H
#define RAG_HTTP_H

#include "rag_buf.h"

#include <stddef.h>

typedef struct {
    const char *url;
    const char *method; /* NULL: POST when body, else GET */
    const char *body;   /* request body or NULL */
    size_t body_len;
    const char *content_type;   /* default application/json */
    const char *bearer;         /* Authorization: Bearer ..., or NULL */
    const char *const *headers; /* extra "Name: value" lines, NULL-ended */
    long timeout_ms;            /* whole request; default 60000 */
    long connect_timeout_ms;    /* default 5000 */
    int max_retries;            /* default 0: one attempt */
    long backoff_base_ms;       /* default 500 */
    size_t max_response;        /* default 8 MiB: past it (or a larger
                                   Content-Length) the transfer stops with
                                   error "response too large" */
    const char *user_agent;     /* default "ngx_rag/0.1" */
    const char *ca_file;        /* extra CA bundle, or NULL: system CAs */
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
    long status;     /* last HTTP status, 0 if no response */
    int attempts;    /* requests made */
    rag_buf body;    /* last response body (caller frees) */
    char error[256]; /* transport error, "" if none */
} rag_http_resp;

void rag_http_global_init(void);

/* 0 when a response with a non-retryable status (or 2xx) arrived, -1 on
 * transport failure after the retries. Check resp->status either way.
 * resp->body must be freed with rag_buf_free even on failure. */
int rag_http_do(const rag_http_req *req, rag_http_resp *resp);

/* --- non-blocking transfers ------------------------------------------- */

typedef struct rag_http_multi rag_http_multi;

/* Called once per transfer, when it ends: resp->status is the HTTP
 * status, or 0 with resp->error set (transport failure, "response too
 * large", "aborted" when the multi is freed first). resp and its body
 * belong to the library and live until the callback returns; keep the
 * body with rag_buf_detach. The callback may add new transfers. */
typedef void (*rag_http_done_fn)(void *ud, rag_http_resp *resp);

rag_http_multi *rag_http_multi_new(void);
/* Ends the transfers still running (their callbacks run, "aborted"),
 * then frees. NULL is fine. */
void rag_http_multi_free(rag_http_multi *m);

/* Starts one attempt of req (max_retries is ignored). Everything req
 * points to is copied; done(ud, ...) runs from rag_http_multi_wait,
 * never from here. 0, or -1 when it could not start (done not called). */
int rag_http_multi_add(rag_http_multi *m, const rag_http_req *req,
                       rag_http_done_fn done, void *ud);

/* Waits up to timeout_ms (0: just look) for network activity of the
 * transfers or of the caller's fds (their revents are filled, at most
 * RAG_HTTP_WAIT_FDS), then advances the transfers and runs the done
 * callbacks of those that ended. Returns the number still running, or
 * -1 on error. */
#define RAG_HTTP_WAIT_FDS 8
struct pollfd;
int rag_http_multi_wait(rag_http_multi *m, struct pollfd *fds, unsigned nfds,
                        long timeout_ms);
unsigned rag_http_multi_running(const rag_http_multi *m);

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
