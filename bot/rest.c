/*
 * rest — Discord REST client with rate-limit buckets (see rest.h).
 */
#include "rest.h"
#include "rag_time.h"

#include "rag_http.h"
#include "rag_json.h"
#include "rag_log.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <yajl/yajl_tree.h>

void
rag_rl_route_key(const char *method, const char *path, char *out, size_t outlen)
{
    rag_buf b;
    char prev[128] = "", seg[128];
    const char *p = path;
    int keep_next = 0;

    rag_buf_init(&b, outlen ? outlen - 1 : 0);
    rag_buf_printf(&b, "%s ", method);
    while (*p == '/')
        p++;
    while (*p && *p != '?') {
        size_t n = strcspn(p, "/?");
        int digits = n > 0;
        size_t i;

        if (n >= sizeof(seg))
            n = sizeof(seg) - 1;
        memcpy(seg, p, n);
        seg[n] = '\0';
        for (i = 0; i < n; i++)
            if (!isdigit((unsigned char)seg[i]))
                digits = 0;
        if (keep_next > 0) {
            rag_buf_printf(&b, "/%s", seg);
            keep_next--;
        } else if (strcmp(prev, "interactions") == 0) {
            rag_buf_puts(&b, "/:id");
            keep_next = -1; /* the token follows */
        } else if (keep_next < 0) {
            rag_buf_puts(&b, "/:token");
            keep_next = 0;
        } else if (digits) {
            rag_buf_puts(&b, "/:id");
        } else {
            rag_buf_printf(&b, "/%s", seg);
        }
        if (strcmp(seg, "channels") == 0 || strcmp(seg, "guilds") == 0)
            keep_next = 1;
        else if (strcmp(seg, "webhooks") == 0)
            keep_next = 2;
        snprintf(prev, sizeof(prev), "%s", seg);
        p += strcspn(p, "/?");
        while (*p == '/')
            p++;
        /* every reaction route shares one limit */
        if (strcmp(seg, "reactions") == 0)
            break;
    }
    snprintf(out, outlen, "%s", b.data ? b.data : "");
    rag_buf_free(&b);
}

static rag_rl_route *
rl_find(rag_rl *rl, const char *route, int create, long now)
{
    rag_rl_route *victim = NULL;
    int i;

    for (i = 0; i < RAG_RL_ROUTES; i++) {
        rag_rl_route *r = &rl->routes[i];
        if (r->route[0] == '\0') {
            if (victim == NULL || victim->route[0])
                victim = r;
            continue;
        }
        if (strcmp(r->route, route) == 0) {
            r->used_at = now;
            return r;
        }
        if (victim == NULL ||
            (victim->route[0] && r->used_at < victim->used_at))
            victim = r;
    }
    if (!create)
        return NULL;
    memset(victim, 0, sizeof(*victim));
    snprintf(victim->route, sizeof(victim->route), "%s", route);
    victim->remaining = -1;
    victim->used_at = now;
    return victim;
}

long
rag_rl_wait_route(rag_rl *rl, const char *route, long now)
{
    rag_rl_route *r = rl_find(rl, route, 0, now);
    int i;

    if (r == NULL)
        return 0;
    /* routes sharing a learned bucket share its state */
    for (i = 0; r->bucket[0] && i < RAG_RL_ROUTES; i++) {
        rag_rl_route *o = &rl->routes[i];
        if (o != r && strcmp(o->bucket, r->bucket) == 0 &&
            o->reset_at > r->reset_at) {
            r->remaining = o->remaining;
            r->reset_at = o->reset_at;
        }
    }
    if (r->remaining == 0 && r->reset_at > now)
        return r->reset_at - now;
    return 0;
}

long
rag_rl_wait(rag_rl *rl, const char *route, long now)
{
    long w = 0, oldest, rw;

    if (rl->global_until > now)
        w = rl->global_until - now;
    /* 50 requests per second: the 50th most recent must be 1 s old */
    oldest = rl->recent[rl->recent_head];
    if (oldest && now - oldest < 1000 && 1000 - (now - oldest) > w)
        w = 1000 - (now - oldest);
    rw = rag_rl_wait_route(rl, route, now);
    return rw > w ? rw : w;
}

void
rag_rl_sent(rag_rl *rl, long now)
{
    rl->recent[rl->recent_head] = now;
    rl->recent_head = (rl->recent_head + 1) % 50;
}

void
rag_rl_update(rag_rl *rl, const char *route, const char *bucket,
              const char *remaining, const char *reset_after, long now)
{
    rag_rl_route *r;

    if (!bucket && !remaining && !reset_after)
        return;
    r = rl_find(rl, route, 1, now);
    if (bucket)
        snprintf(r->bucket, sizeof(r->bucket), "%s", bucket);
    if (remaining)
        r->remaining = atoi(remaining);
    if (reset_after) {
        double s = strtod(reset_after, NULL);
        if (s >= 0 && s < 86400)
            r->reset_at = now + (long)(s * 1000 + 0.5);
    }
}

void
rag_rl_limited(rag_rl *rl, const char *route, long retry_ms, int global,
               long now)
{
    rag_rl_route *r;

    if (retry_ms < 0)
        retry_ms = 1000;
    if (global) {
        if (now + retry_ms > rl->global_until)
            rl->global_until = now + retry_ms;
        return;
    }
    r = rl_find(rl, route, 1, now);
    r->remaining = 0;
    r->reset_at = now + retry_ms;
}

long
rag_rl_invalid(rag_rl *rl, long now, int count_it)
{
    /* 60 slots of 10 s: slot i holds the count for slot number
     * inv_slot[i]; stale slots fall out of the 10-minute window */
    long slot = now / 10000, total = 0;
    int i, idx = (int)(slot % 60);

    if (count_it) {
        if (rl->inv_slot[idx] != slot) {
            rl->inv_slot[idx] = slot;
            rl->inv_count[idx] = 0;
        }
        rl->inv_count[idx]++;
    }
    for (i = 0; i < 60; i++)
        if (slot - rl->inv_slot[i] < 60 && rl->inv_slot[i] <= slot)
            total += rl->inv_count[i];
    return total;
}

long
rag_rl_parse_retry_after(const char *body)
{
    char errbuf[64];
    const char *p[] = {"retry_after", NULL};
    yajl_val root, v;
    long ms = -1;

    if (body == NULL || strlen(body) > 65536)
        return -1;
    root = yajl_tree_parse(body, errbuf, sizeof(errbuf));
    if (root == NULL)
        return -1;
    v = yajl_tree_get(root, p, yajl_t_number);
    if (v && YAJL_IS_DOUBLE(v) && YAJL_GET_DOUBLE(v) >= 0 &&
        YAJL_GET_DOUBLE(v) < 86400)
        ms = (long)(YAJL_GET_DOUBLE(v) * 1000 + 0.5);
    else if (v && YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) >= 0 &&
             YAJL_GET_INTEGER(v) < 86400)
        ms = (long)YAJL_GET_INTEGER(v) * 1000;
    yajl_tree_free(root);
    return ms;
}

/* --- client ---------------------------------------------------------- */

#define MAX_WAIT_MS 600000L /* a longer rate-limit wait is reported (429) */
#define MAX_5XX_TRIES 3     /* 5xx / transport: attempts per request */
#define MAX_429_TRIES 20
#define REQ_TIMEOUT_MS 30000L

typedef struct rest_route rest_route;

typedef struct {
    char bucket[64], remaining[16], reset_after[32], retry_after[32];
    char scope[16];
    int global;
} hdrs;

typedef struct rest_req {
    struct rest_req *next;
    rest_route *route;
    rag_rest *owner;
    char method[8];
    char *path, *json;
    rag_rest_done done;
    void *ud;
    int tries_5xx, tries_429;
    long not_before; /* ms: backoff after a 5xx or transport error */
    hdrs h;          /* rate-limit headers of the current response */
    /* set when it ends without a transfer (refused locally) */
    long fail_status;
    char fail_error[96];
} rest_req;

/* A route with work: waiting requests in order, at most one running. */
struct rest_route {
    rest_route *next;
    char key[96];
    int interaction; /* outside the global limit */
    rest_req *head, *tail;
    rest_req *running;
};

struct rag_rest {
    char *base;
    char *auth; /* "Authorization: Bot <token>" */
    char *ca_file;
    rag_http_multi *http;
    rag_rl rl;
    rest_route *routes;           /* in start order, for fairness */
    rest_req *ended, *ended_tail; /* refused locally, to report */
    unsigned pending;
    long last_sent;
    int unauthorized; /* a 401: the token is refused, send nothing */
    int closing;
};

static void
hdr_copy(char *dst, size_t dlen, const char *v, size_t vlen)
{
    while (vlen &&
           (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
        vlen--;
    if (vlen >= dlen)
        vlen = dlen - 1;
    memcpy(dst, v, vlen);
    dst[vlen] = '\0';
}

static void
on_header(void *ud, const char *p, size_t len)
{
    hdrs *h = ud;
    const char *colon = memchr(p, ':', len), *v;
    size_t nlen, vlen;

    if (colon == NULL)
        return;
    nlen = (size_t)(colon - p);
    v = colon + 1;
    while (v < p + len && *v == ' ')
        v++;
    vlen = (size_t)(p + len - v);
#define IS(s) (nlen == sizeof(s) - 1 && strncasecmp(p, s, nlen) == 0)
    if (IS("X-RateLimit-Bucket"))
        hdr_copy(h->bucket, sizeof(h->bucket), v, vlen);
    else if (IS("X-RateLimit-Remaining"))
        hdr_copy(h->remaining, sizeof(h->remaining), v, vlen);
    else if (IS("X-RateLimit-Reset-After"))
        hdr_copy(h->reset_after, sizeof(h->reset_after), v, vlen);
    else if (IS("Retry-After"))
        hdr_copy(h->retry_after, sizeof(h->retry_after), v, vlen);
    else if (IS("X-RateLimit-Scope"))
        hdr_copy(h->scope, sizeof(h->scope), v, vlen);
    else if (IS("X-RateLimit-Global"))
        h->global = vlen >= 4 && strncasecmp(v, "true", 4) == 0;
#undef IS
}

/* Discord's error "code" and "message" from a JSON body. */
static int
json_error(const char *body, size_t len, char *msg, size_t msglen)
{
    yajl_val root;
    const char *m;
    int code = 0;

    if (msg && msglen)
        msg[0] = '\0';
    if (body == NULL || len == 0 || *body != '{' || len > 65536)
        return 0;
    root = rag_json_parse(body, len);
    if (root == NULL)
        return 0;
    code = (int)rag_json_int(root, 0, "code", NULL);
    m = rag_json_str(root, "message", NULL);
    if (m && msg && msglen)
        snprintf(msg, msglen, "%s", m);
    yajl_tree_free(root);
    return code;
}

const char *
rag_rest_describe(long status, int code, const char *message, char *out,
                  size_t outlen)
{
    static const struct {
        int code;
        const char *name;
    } names[] = {
        {10003, "Unknown Channel"},
        {10008, "Unknown Message"},
        {10014, "Unknown Emoji"},
        {10062, "Unknown Interaction"},
        {40060, "Interaction Already Acknowledged"},
        {50001, "Missing Access"},
        {50006, "Empty Message"},
        {50013, "Missing Permissions"},
        {50035, "Invalid Form Body"},
        {50083, "Archived Thread"},
        {160005, "Thread Locked"},
    };
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].code == code) {
            snprintf(out, outlen, "%s (%d)", names[i].name, code);
            return out;
        }
    if (status == 0)
        snprintf(out, outlen, "no response (%s)",
                 message && *message ? message : "transport error");
    else if (code)
        snprintf(out, outlen, "HTTP %ld, code %d%s%.80s", status, code,
                 message && *message ? ": " : "", message ? message : "");
    else
        snprintf(out, outlen, "HTTP %ld%s%.80s", status,
                 message && *message ? ": " : "", message ? message : "");
    return out;
}

rag_rest *
rag_rest_new(const char *base_url, const char *token, const char *ca_file)
{
    rag_rest *r = calloc(1, sizeof(*r));
    size_t n;

    if (r == NULL)
        return NULL;
    r->base = strdup(base_url);
    n = strlen(token) + 32;
    r->auth = malloc(n);
    r->ca_file = ca_file ? strdup(ca_file) : NULL;
    r->http = rag_http_multi_new();
    if (r->base == NULL || r->auth == NULL || r->http == NULL ||
        (ca_file && r->ca_file == NULL)) {
        rag_rest_free(r);
        return NULL;
    }
    n = strlen(r->base);
    while (n && r->base[n - 1] == '/')
        r->base[--n] = '\0';
    snprintf(r->auth, strlen(token) + 32, "Authorization: Bot %s", token);
    return r;
}

static void
req_free(rest_req *q)
{
    free(q->path);
    free(q->json);
    free(q);
}

/* Runs the owner's callback once and frees q (already off every list). */
static void
req_end(rag_rest *r, rest_req *q, long status, const char *body, size_t len,
        const char *error)
{
    rag_rest_result res;
    char msg[256];

    memset(&res, 0, sizeof(res));
    res.status = status;
    res.body = body ? body : "";
    res.body_len = body ? len : 0;
    msg[0] = '\0';
    res.code = status ? json_error(body, len, msg, sizeof(msg)) : 0;
    res.error = status ? msg : (error ? error : "");
    res.cancelled = r->closing;
    r->pending--;
    if (q->done)
        q->done(q->ud, &res);
    req_free(q);
}

/* Ends q without a transfer; reported by the next rag_rest_wait. */
static void
req_refuse(rag_rest *r, rest_req *q, long status, const char *why)
{
    q->next = NULL;
    q->fail_status = status;
    snprintf(q->fail_error, sizeof(q->fail_error), "%s", why);
    if (r->ended_tail)
        r->ended_tail->next = q;
    else
        r->ended = q;
    r->ended_tail = q;
}

static void
report_refused(rag_rest *r)
{
    rest_req *q;

    while ((q = r->ended) != NULL) {
        r->ended = q->next;
        if (r->ended == NULL)
            r->ended_tail = NULL;
        req_end(r, q, q->fail_status, NULL, 0, q->fail_error);
    }
}

static rest_route *
route_get(rag_rest *r, const char *key)
{
    rest_route *rt, *last = NULL;

    for (rt = r->routes; rt; last = rt, rt = rt->next)
        if (strcmp(rt->key, key) == 0)
            return rt;
    rt = calloc(1, sizeof(*rt));
    if (rt == NULL)
        return NULL;
    snprintf(rt->key, sizeof(rt->key), "%s", key);
    /* interaction responses and their webhook edits are outside the
     * global limit */
    rt->interaction = strstr(key, " /interactions/") != NULL ||
                      strstr(key, " /webhooks/") != NULL;
    if (last)
        last->next = rt;
    else
        r->routes = rt;
    return rt;
}

static void
route_push_front(rest_route *rt, rest_req *q)
{
    q->next = rt->head;
    rt->head = q;
    if (rt->tail == NULL)
        rt->tail = q;
}

static rest_req *
route_pop(rest_route *rt)
{
    rest_req *q = rt->head;

    if (q) {
        rt->head = q->next;
        if (rt->head == NULL)
            rt->tail = NULL;
        q->next = NULL;
    }
    return q;
}

int
rag_rest_submit(rag_rest *r, const char *method, const char *path,
                const char *json, rag_rest_done done, void *ud)
{
    char key[96];
    rest_req *q;
    rest_route *rt;

    if (r->closing || strlen(method) >= sizeof(q->method) ||
        strlen(path) > 1800)
        return -1;
    q = calloc(1, sizeof(*q));
    if (q == NULL)
        return -1;
    snprintf(q->method, sizeof(q->method), "%s", method);
    q->path = strdup(path);
    q->json = json ? strdup(json) : NULL;
    q->done = done;
    q->ud = ud;
    q->owner = r;
    rag_rl_route_key(method, path, key, sizeof(key));
    rt = route_get(r, key);
    if (q->path == NULL || (json && q->json == NULL) || rt == NULL) {
        req_free(q);
        return -1;
    }
    q->route = rt;
    if (rt->tail)
        rt->tail->next = q;
    else
        rt->head = q;
    rt->tail = q;
    r->pending++;
    return 0;
}

static void on_http_done(void *ud, rag_http_resp *resp);

/* Starts q (popped from its route): 0, or -1 when it could not start. */
static int
req_start(rag_rest *r, rest_req *q, long now)
{
    char url[2048];
    const char *h[] = {r->auth, NULL};
    rag_http_req hr;

    if (snprintf(url, sizeof(url), "%s%s", r->base, q->path) >=
        (int)sizeof(url))
        return -1;
    memset(&hr, 0, sizeof(hr));
    memset(&q->h, 0, sizeof(q->h));
    hr.url = url;
    hr.method = q->method;
    hr.body = q->json;
    hr.body_len = q->json ? strlen(q->json) : 0;
    hr.headers = h;
    hr.user_agent = "DiscordBot (https://github.com/ngx_rag, 0.1)";
    hr.ca_file = r->ca_file;
    hr.timeout_ms = REQ_TIMEOUT_MS;
    hr.max_response = RAG_REST_MAX_BODY;
    hr.on_header = on_header;
    hr.header_ud = &q->h;
    if (rag_http_multi_add(r->http, &hr, on_http_done, q) != 0)
        return -1;
    if (!q->route->interaction)
        rag_rl_sent(&r->rl, now);
    r->last_sent = now;
    q->route->running = q;
    return 0;
}

/* Starts every request the limits allow; returns ms until the next one
 * may start (-1: nothing waits on a timer). */
static long
pump(rag_rest *r)
{
    rest_route *rt, **pp;
    long now = rag_time_mono_ms(), next = -1;

    for (rt = r->routes; rt; rt = rt->next) {
        rest_req *q;
        long w, inv;

        while (!rt->running && (q = rt->head) != NULL) {
            if (r->unauthorized) {
                req_refuse(r, route_pop(rt), 401,
                           "token refused (401): not sending");
                continue;
            }
            inv = rag_rl_invalid(&r->rl, now, 0);
            if (inv >= RAG_RL_INVALID_HARD) {
                req_refuse(r, route_pop(rt), 0,
                           "invalid-request budget exhausted");
                continue;
            }
            w = rt->interaction ? rag_rl_wait_route(&r->rl, rt->key, now)
                                : rag_rl_wait(&r->rl, rt->key, now);
            if (q->not_before - now > w)
                w = q->not_before - now;
            /* near the invalid-request limit: one request a second */
            if (inv >= RAG_RL_INVALID_SOFT && r->last_sent + 1000 - now > w)
                w = r->last_sent + 1000 - now;
            if (w > MAX_WAIT_MS) {
                rag_warn("msg=\"rate limited for too long\" route=\"%s\" "
                         "wait_ms=%ld",
                         rt->key, w);
                req_refuse(r, route_pop(rt), 429, "rate limited for too long");
                continue;
            }
            if (w > 0) {
                if (next < 0 || w < next)
                    next = w;
                break;
            }
            route_pop(rt);
            if (req_start(r, q, now) != 0)
                req_refuse(r, q, 0, "cannot start the request");
        }
    }
    /* drop routes with nothing left */
    for (pp = &r->routes; (rt = *pp) != NULL;) {
        if (!rt->head && !rt->running) {
            *pp = rt->next;
            free(rt);
        } else {
            pp = &rt->next;
        }
    }
    return next;
}

/* Logs a Discord error with its JSON body (bounded, quotes escaped). */
static void
log_error_body(const rest_req *q, long status, const char *body, size_t len)
{
    char esc[600];
    size_t i, o = 0;

    for (i = 0; i < len && o + 3 < sizeof(esc); i++) {
        char c = body[i];
        if (c == '"' || c == '\\')
            esc[o++] = '\\';
        esc[o++] = (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
    }
    esc[o] = '\0';
    rag_warn("msg=\"discord error\" route=\"%s\" status=%ld body=\"%s%s\"",
             q->route->key, status, esc, i < len ? "..." : "");
}

static void
on_http_done(void *ud, rag_http_resp *resp)
{
    rest_req *q = ud;
    rag_rest *r = q->owner;
    rest_route *rt = q->route;
    long now = rag_time_mono_ms(), st = resp->status;
    const char *body = resp->body.data ? resp->body.data : "";

    rt->running = NULL;
    if (r->closing) {
        req_end(r, q, 0, NULL, 0, "shutdown");
        return;
    }
    rag_rl_update(&r->rl, rt->key, q->h.bucket[0] ? q->h.bucket : NULL,
                  q->h.remaining[0] ? q->h.remaining : NULL,
                  q->h.reset_after[0] ? q->h.reset_after : NULL, now);
    if (st == 0 || (st >= 500 && st <= 599)) {
        if (++q->tries_5xx < MAX_5XX_TRIES) {
            rag_warn("msg=\"discord request failed, retrying\" route=\"%s\" "
                     "status=%ld error=\"%s\" attempt=%d",
                     rt->key, st, resp->error, q->tries_5xx);
            q->not_before = now + (500L << q->tries_5xx);
            route_push_front(rt, q);
            return;
        }
        rag_warn("msg=\"discord request failed\" route=\"%s\" status=%ld "
                 "error=\"%s\" attempts=%d",
                 rt->key, st, resp->error, q->tries_5xx);
        req_end(r, q, st, body, resp->body.len, resp->error);
        return;
    }
    if (st == 429) {
        long ms = rag_rl_parse_retry_after(body);
        int global = q->h.global;

        if (ms < 0 && q->h.retry_after[0])
            ms = (long)(strtod(q->h.retry_after, NULL) * 1000);
        if (strstr(body, "\"global\":true") || strstr(body, "\"global\": true"))
            global = 1;
        rag_rl_invalid(&r->rl, now, strcasecmp(q->h.scope, "shared") != 0);
        rag_warn("msg=\"discord 429\" route=\"%s\" retry_after_ms=%ld "
                 "global=%d scope=%s",
                 rt->key, ms, global, q->h.scope[0] ? q->h.scope : "-");
        rag_rl_limited(&r->rl, rt->key, ms, global, now);
        if (++q->tries_429 < MAX_429_TRIES) {
            route_push_front(rt, q);
            return;
        }
    } else if (st == 401) {
        rag_rl_invalid(&r->rl, now, 1);
        r->unauthorized = 1;
        rag_error("msg=\"discord refused the token (401): no more requests\"");
    } else if (st == 403) {
        rag_rl_invalid(&r->rl, now, 1);
    }
    if (st >= 400)
        log_error_body(q, st, body, resp->body.len);
    req_end(r, q, st, body, resp->body.len, NULL);
}

int
rag_rest_wait(rag_rest *r, struct pollfd *fds, unsigned nfds, long timeout_ms)
{
    long next;
    int rc;

    report_refused(r);
    next = pump(r);
    if (r->ended)
        timeout_ms = 0;
    else if (next >= 0 && next < timeout_ms)
        timeout_ms = next;
    rc = rag_http_multi_wait(r->http, fds, nfds, timeout_ms);
    report_refused(r);
    pump(r);
    return rc < 0 ? -1 : 0;
}

void
rag_rest_free(rag_rest *r)
{
    rest_route *rt;
    rest_req *q;

    if (r == NULL)
        return;
    r->closing = 1;
    /* running requests end through their transfer callbacks */
    rag_http_multi_free(r->http);
    r->http = NULL;
    while ((rt = r->routes) != NULL) {
        while ((q = route_pop(rt)) != NULL)
            req_end(r, q, 0, NULL, 0, "shutdown");
        r->routes = rt->next;
        free(rt);
    }
    report_refused(r);
    if (r->auth) {
        memset(r->auth, 0, strlen(r->auth));
        free(r->auth);
    }
    free(r->base);
    free(r->ca_file);
    free(r);
}

typedef struct {
    int ended;
    int ok;
    rag_rest_resp *resp;
} sync_call;

static void
sync_done(void *ud, const rag_rest_result *res)
{
    sync_call *s = ud;

    s->ended = 1;
    s->ok = res->status != 0;
    s->resp->status = res->status;
    s->resp->code = res->code;
    rag_buf_append(&s->resp->body, res->body, res->body_len);
}

int
rag_rest_call(rag_rest *r, const char *method, const char *path,
              const char *json, rag_rest_resp *resp)
{
    sync_call s = {0, 0, resp};

    rag_buf_init(&resp->body, RAG_REST_MAX_BODY);
    resp->status = 0;
    resp->code = 0;
    if (rag_rest_submit(r, method, path, json, sync_done, &s) != 0)
        return -1;
    while (!s.ended)
        if (rag_rest_wait(r, NULL, 0, 1000) < 0)
            rag_time_sleep_ms(10);
    return s.ok ? 0 : -1;
}
