#include "rag_http.h"
#include "rag_time.h"

#include "rag_log.h"

#include <curl/curl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define RAG_HTTP_MAX_BACKOFF_MS 8000

static pthread_once_t rag_http_once = PTHREAD_ONCE_INIT;

static void
rag_http_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void
rag_http_global_init(void)
{
    pthread_once(&rag_http_once, rag_http_init_once);
}

typedef struct {
    rag_http_body_sink b; /* first: the write callback's userdata */
    char retry_after[32];
    char retry_after_ms[32];
    void (*hook)(void *ud, const char *line, size_t len);
    void *hook_ud;
} rag_http_sink;

size_t
rag_http_write_body(char *p, size_t sz, size_t n, void *ud)
{
    rag_http_body_sink *s = ud;

    if (rag_buf_append(s->body, p, sz * n) != 0) {
        s->overflow = 1;
        return 0; /* aborts the transfer */
    }
    return sz * n;
}

void
rag_http_header_value(const char *line, size_t len, const char *name, char *out,
                      size_t outlen)
{
    size_t nl = strlen(name), i;

    if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    line += nl + 1;
    len -= nl + 1;
    while (len && (*line == ' ' || *line == '\t')) {
        line++;
        len--;
    }
    for (i = 0; i < len && i + 1 < outlen && line[i] != '\r' && line[i] != '\n';
         i++)
        out[i] = line[i];
    out[i] = '\0';
}

static size_t
on_header(char *p, size_t sz, size_t n, void *ud)
{
    rag_http_sink *s = ud;

    rag_http_header_value(p, sz * n, "retry-after", s->retry_after,
                          sizeof(s->retry_after));
    rag_http_header_value(p, sz * n, "retry-after-ms", s->retry_after_ms,
                          sizeof(s->retry_after_ms));
    if (s->hook)
        s->hook(s->hook_ud, p, sz * n);
    return sz * n;
}

long
rag_http_parse_retry_after(const char *ra, const char *ra_ms)
{
    char *end;
    double d;

    if (ra_ms && *ra_ms) {
        d = strtod(ra_ms, &end);
        if (end != ra_ms && *end == '\0' && d >= 0)
            return (long)d;
    }
    if (ra && *ra) {
        d = strtod(ra, &end);
        if (end != ra && *end == '\0' && d >= 0)
            return (long)(d * 1000.0);
    }
    return -1;
}

static int
retryable(long status)
{
    return status == 408 || status == 409 || status == 429 || status >= 500;
}

/* Appends line to *hdrs. 0, or -1 when out of memory. */
static int
add_header(struct curl_slist **hdrs, const char *line)
{
    struct curl_slist *tmp = curl_slist_append(*hdrs, line);

    if (tmp == NULL)
        return -1;
    *hdrs = tmp;
    return 0;
}

/* Sets up h for req: header lines into *hdrs and the pinned address into
 * *resolve (the caller frees both after the transfer), timeouts, body,
 * callbacks into sink. copy_body: curl keeps its own copy of the body
 * (transfers that outlive the caller's buffer). 0, or -1 when out of
 * memory. */
static int
easy_setup(CURL *h, const rag_http_req *req, rag_http_sink *sink,
           struct curl_slist **hdrs, struct curl_slist **resolve, int copy_body)
{
    int has_body = req->body != NULL ||
                   (req->method && (strcmp(req->method, "POST") == 0 ||
                                    strcmp(req->method, "PUT") == 0 ||
                                    strcmp(req->method, "PATCH") == 0));
    char line[1024];
    int rc = 0;

    *hdrs = NULL;
    *resolve = NULL;
    if (has_body || req->content_type) {
        snprintf(line, sizeof(line), "Content-Type: %s",
                 req->content_type ? req->content_type : "application/json");
        rc |= add_header(hdrs, line);
    }
    if (req->bearer && *req->bearer) {
        snprintf(line, sizeof(line), "Authorization: Bearer %s", req->bearer);
        rc |= add_header(hdrs, line);
        memset(line, 0, sizeof(line));
    }
    /* no "Expect: 100-continue" round trip before a body */
    rc |= add_header(hdrs, "Expect:");
    for (size_t i = 0; req->headers && req->headers[i]; i++)
        rc |= add_header(hdrs, req->headers[i]);
    if (req->resolve &&
        (*resolve = curl_slist_append(NULL, req->resolve)) == NULL)
        rc = -1;
    if (rc != 0)
        return -1;
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT,
                     req->user_agent ? req->user_agent : "ngx_rag/0.1");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                     req->timeout_ms ? req->timeout_ms : 60000L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     req->connect_timeout_ms ? req->connect_timeout_ms : 5000L);
    if (sink->b.body->max > 0) /* refused early by Content-Length */
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
                         (curl_off_t)sink->b.body->max);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, rag_http_write_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink->b);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, sink);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (*resolve)
        curl_easy_setopt(h, CURLOPT_RESOLVE, *resolve);
    if (req->no_proxy)
        curl_easy_setopt(h, CURLOPT_PROXY, "");
    if (req->accept_encoding)
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, req->accept_encoding);
    if (req->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, req->ca_file);
    if (req->method)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    if (has_body) {
        /* a body-less PUT still says Content-Length: 0 */
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(req->body ? req->body_len : 0));
        curl_easy_setopt(
            h, copy_body ? CURLOPT_COPYPOSTFIELDS : CURLOPT_POSTFIELDS,
            req->body ? req->body : "");
    }
    sink->hook = req->on_header;
    sink->hook_ud = req->header_ud;
    return 0;
}

int
rag_http_do(const rag_http_req *req, rag_http_resp *resp)
{
    struct curl_slist *hdrs = NULL, *resolve = NULL;
    rag_http_sink sink;
    CURL *h = NULL;
    CURLcode cc;
    long backoff, wait;
    int max_retries = req->max_retries > 0 ? req->max_retries : 0;
    int rc = -1;
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)(size_t)resp;

    memset(resp, 0, sizeof(*resp));
    memset(&sink, 0, sizeof(sink));
    rag_buf_init(&resp->body,
                 req->max_response ? req->max_response : 8u * 1024 * 1024);
    sink.b.body = &resp->body;
    rag_http_global_init();
    h = curl_easy_init();
    if (h == NULL) {
        snprintf(resp->error, sizeof(resp->error), "curl_easy_init failed");
        return -1;
    }
    if (easy_setup(h, req, &sink, &hdrs, &resolve, 0) != 0) {
        snprintf(resp->error, sizeof(resp->error), "out of memory");
        goto done;
    }

    backoff = req->backoff_base_ms > 0 ? req->backoff_base_ms : 500;
    for (int attempt = 0; attempt <= max_retries; attempt++) {
        memset(&sink.b, 0, sizeof(sink.b));
        sink.retry_after[0] = sink.retry_after_ms[0] = '\0';
        sink.b.body = &resp->body;
        rag_buf_reset(&resp->body);
        resp->status = 0;
        resp->error[0] = '\0';
        resp->attempts++;
        cc = curl_easy_perform(h);
        if (cc == CURLE_OK) {
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
            if (!retryable(resp->status)) {
                rc = 0;
                break;
            }
        } else {
            sink.b.overflow |= cc == CURLE_FILESIZE_EXCEEDED;
            snprintf(resp->error, sizeof(resp->error), "%s",
                     sink.b.overflow ? "response too large"
                                     : curl_easy_strerror(cc));
            if (sink.b.overflow)
                break;
        }
        if (attempt == max_retries) {
            rc = cc == CURLE_OK ? 0 : -1;
            break;
        }
        if (!rag_time_may_sleep()) {
            /* an nginx thread: answer with what we have */
            rag_warn("msg=\"http retry skipped: this thread may not sleep\" "
                     "url=\"%s\" status=%ld error=\"%s\"",
                     req->url, resp->status, resp->error);
            rc = cc == CURLE_OK ? 0 : -1;
            break;
        }
        /* full jitter in [backoff/2, backoff], unless the server said */
        wait =
            rag_http_parse_retry_after(sink.retry_after, sink.retry_after_ms);
        if (wait < 0)
            wait = backoff / 2 + (long)(rand_r(&seed) % (backoff / 2 + 1));
        if (wait > 60000)
            wait = 60000;
        rag_warn("msg=\"http retry\" url=\"%s\" status=%ld error=\"%s\" "
                 "attempt=%d wait_ms=%ld",
                 req->url, resp->status, resp->error, attempt + 1, wait);
        rag_time_sleep_ms(wait);
        if (backoff < RAG_HTTP_MAX_BACKOFF_MS)
            backoff *= 2;
    }
done:
    curl_slist_free_all(hdrs);
    curl_slist_free_all(resolve);
    curl_easy_cleanup(h);
    return rc;
}

/* --- non-blocking transfers ------------------------------------------- */

typedef struct rag_http_xfer {
    struct rag_http_xfer *prev, *next;
    CURL *h;
    struct curl_slist *hdrs;
    struct curl_slist *resolve;
    rag_http_sink sink;
    rag_http_resp resp;
    rag_http_done_fn done;
    void *ud;
} rag_http_xfer;

struct rag_http_multi {
    CURLM *cm;
    rag_http_xfer *xfers; /* running */
    unsigned running;
};

rag_http_multi *
rag_http_multi_new(void)
{
    rag_http_multi *m;

    rag_http_global_init();
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->cm = curl_multi_init();
    if (m->cm == NULL) {
        free(m);
        return NULL;
    }
    return m;
}

static void
xfer_unlink(rag_http_multi *m, rag_http_xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        m->xfers = x->next;
    if (x->next)
        x->next->prev = x->prev;
    m->running--;
}

/* Reports x to its owner and frees it (x is already unlinked). */
static void
xfer_finish(rag_http_multi *m, rag_http_xfer *x)
{
    curl_multi_remove_handle(m->cm, x->h);
    x->done(x->ud, &x->resp);
    rag_buf_free(&x->resp.body);
    curl_slist_free_all(x->hdrs);
    curl_slist_free_all(x->resolve);
    curl_easy_cleanup(x->h);
    free(x);
}

void
rag_http_multi_free(rag_http_multi *m)
{
    rag_http_xfer *x;

    if (m == NULL)
        return;
    while ((x = m->xfers) != NULL) {
        xfer_unlink(m, x);
        x->resp.status = 0;
        snprintf(x->resp.error, sizeof(x->resp.error), "aborted");
        xfer_finish(m, x);
    }
    curl_multi_cleanup(m->cm);
    free(m);
}

int
rag_http_multi_add(rag_http_multi *m, const rag_http_req *req,
                   rag_http_done_fn done, void *ud)
{
    rag_http_xfer *x = calloc(1, sizeof(*x));

    if (x == NULL)
        return -1;
    x->h = curl_easy_init();
    rag_buf_init(&x->resp.body,
                 req->max_response ? req->max_response : 8u * 1024 * 1024);
    x->sink.b.body = &x->resp.body;
    x->done = done;
    x->ud = ud;
    x->resp.attempts = 1;
    if (x->h == NULL ||
        easy_setup(x->h, req, &x->sink, &x->hdrs, &x->resolve, 1) != 0)
        goto fail;
    curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
    if (curl_multi_add_handle(m->cm, x->h) != CURLM_OK)
        goto fail;
    x->next = m->xfers;
    if (m->xfers)
        m->xfers->prev = x;
    m->xfers = x;
    m->running++;
    return 0;
fail:
    curl_slist_free_all(x->hdrs);
    curl_slist_free_all(x->resolve);
    if (x->h)
        curl_easy_cleanup(x->h);
    rag_buf_free(&x->resp.body);
    free(x);
    return -1;
}

int
rag_http_multi_wait(rag_http_multi *m, struct pollfd *fds, unsigned nfds,
                    long timeout_ms)
{
    struct curl_waitfd w[RAG_HTTP_WAIT_FDS];
    CURLMsg *msg;
    unsigned i;
    int still, left;

    if (nfds > RAG_HTTP_WAIT_FDS)
        return -1;
    for (i = 0; i < nfds; i++) {
        w[i].fd = fds[i].fd;
        w[i].events =
            (short)(((fds[i].events & POLLIN) ? CURL_WAIT_POLLIN : 0) |
                    ((fds[i].events & POLLOUT) ? CURL_WAIT_POLLOUT : 0));
        w[i].revents = 0;
    }
    if (timeout_ms < 0)
        timeout_ms = 0;
    if (timeout_ms > INT_MAX)
        timeout_ms = INT_MAX;
    if (curl_multi_poll(m->cm, w, nfds, (int)timeout_ms, NULL) != CURLM_OK)
        return -1;
    for (i = 0; i < nfds; i++)
        fds[i].revents =
            (short)(((w[i].revents & CURL_WAIT_POLLIN) ? POLLIN : 0) |
                    ((w[i].revents & CURL_WAIT_POLLOUT) ? POLLOUT : 0));
    if (curl_multi_perform(m->cm, &still) != CURLM_OK)
        return -1;
    while ((msg = curl_multi_info_read(m->cm, &left)) != NULL) {
        rag_http_xfer *x = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (x == NULL)
            continue;
        if (msg->data.result == CURLE_OK) {
            curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->resp.status);
        } else {
            x->resp.status = 0;
            x->sink.b.overflow |= msg->data.result == CURLE_FILESIZE_EXCEEDED;
            snprintf(x->resp.error, sizeof(x->resp.error), "%s",
                     x->sink.b.overflow ? "response too large"
                                        : curl_easy_strerror(msg->data.result));
        }
        xfer_unlink(m, x);
        xfer_finish(m, x);
    }
    return (int)m->running;
}

unsigned
rag_http_multi_running(const rag_http_multi *m)
{
    return m->running;
}
