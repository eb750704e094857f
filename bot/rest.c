/*
 * rest — Discord REST client with rate-limit buckets (see rest.h).
 */
#include "rest.h"
#include "rag_time.h"

#include "rag_log.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <yajl/yajl_tree.h>

#define MAX_WAIT_MS 60000 /* longer waits fail the call: caller retries */
#define MAX_TRIES 6
#define MAX_5XX_TRIES 3

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
rag_rl_wait(rag_rl *rl, const char *route, long now)
{
    long w = 0, oldest;
    rag_rl_route *r = rl_find(rl, route, 0, now);
    int i;

    if (rl->global_until > now)
        w = rl->global_until - now;
    /* 50 requests per second: the 50th most recent must be 1 s old */
    oldest = rl->recent[rl->recent_head];
    if (oldest && now - oldest < 1000 && 1000 - (now - oldest) > w)
        w = 1000 - (now - oldest);
    if (r == NULL)
        return w;
    /* routes sharing a learned bucket share its state */
    for (i = 0; r->bucket[0] && i < RAG_RL_ROUTES; i++) {
        rag_rl_route *o = &rl->routes[i];
        if (o != r && strcmp(o->bucket, r->bucket) == 0 &&
            o->reset_at > r->reset_at) {
            r->remaining = o->remaining;
            r->reset_at = o->reset_at;
        }
    }
    if (r->remaining == 0 && r->reset_at > now && r->reset_at - now > w)
        w = r->reset_at - now;
    return w;
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

struct rag_rest {
    char *base;
    char *auth; /* "Authorization: Bot <token>" */
    char *ca_file;
    CURL *curl;
    rag_rl rl;
};

typedef struct {
    char bucket[64], remaining[16], reset_after[32], retry_after[32];
    char scope[16];
    int global;
} hdrs;

static size_t
on_body(char *p, size_t sz, size_t n, void *ud)
{
    return rag_buf_append(ud, p, sz * n) == 0 ? sz * n : 0;
}

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

static size_t
on_header(char *p, size_t sz, size_t n, void *ud)
{
    hdrs *h = ud;
    size_t len = sz * n;
    const char *colon = memchr(p, ':', len), *v;
    size_t nlen, vlen;

    if (colon == NULL)
        return len;
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
    return len;
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
    r->curl = curl_easy_init();
    if (r->base == NULL || r->auth == NULL || r->curl == NULL) {
        rag_rest_free(r);
        return NULL;
    }
    n = strlen(r->base);
    while (n && r->base[n - 1] == '/')
        r->base[--n] = '\0';
    snprintf(r->auth, strlen(token) + 32, "Authorization: Bot %s", token);
    return r;
}

void
rag_rest_free(rag_rest *r)
{
    if (r == NULL)
        return;
    if (r->curl)
        curl_easy_cleanup(r->curl);
    if (r->auth) {
        memset(r->auth, 0, strlen(r->auth));
        free(r->auth);
    }
    free(r->base);
    free(r->ca_file);
    free(r);
}

static int
rest_once(rag_rest *r, const char *method, const char *url, const char *json,
          rag_rest_resp *resp, hdrs *h)
{
    struct curl_slist *hl = NULL;
    CURL *c = r->curl;
    CURLcode cc;

    curl_easy_reset(c);
    memset(h, 0, sizeof(*h));
    rag_buf_reset(&resp->body);
    hl = curl_slist_append(hl, r->auth);
    hl = curl_slist_append(hl, "User-Agent: DiscordBot "
                               "(https://github.com/ngx_rag, 0.1)");
    if (json)
        hl = curl_slist_append(hl, "Content-Type: application/json");
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (r->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, r->ca_file);
    if (json) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
    } else if (strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    }
    cc = curl_easy_perform(c);
    curl_slist_free_all(hl);
    resp->status = 0;
    if (cc != CURLE_OK) {
        rag_warn("msg=\"discord request failed\" method=%s error=\"%s\"",
                 method, curl_easy_strerror(cc));
        return -1;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    return 0;
}

static int
json_code(const char *body)
{
    char errbuf[64];
    const char *p[] = {"code", NULL};
    yajl_val root, v;
    int code = 0;

    if (body == NULL || *body != '{' || strlen(body) > 65536)
        return 0;
    root = yajl_tree_parse(body, errbuf, sizeof(errbuf));
    if (root == NULL)
        return 0;
    v = yajl_tree_get(root, p, yajl_t_number);
    if (v && YAJL_IS_INTEGER(v))
        code = (int)YAJL_GET_INTEGER(v);
    yajl_tree_free(root);
    return code;
}

int
rag_rest_call(rag_rest *r, const char *method, const char *path,
              const char *json, rag_rest_resp *resp)
{
    char route[96], url[2048];
    hdrs h;
    int tries, fails_5xx = 0;

    rag_buf_init(&resp->body, RAG_REST_MAX_BODY);
    resp->status = 0;
    resp->code = 0;
    rag_rl_route_key(method, path, route, sizeof(route));
    if (snprintf(url, sizeof(url), "%s%s", r->base, path) >= (int)sizeof(url))
        return -1;
    for (tries = 0; tries < MAX_TRIES; tries++) {
        long now = rag_time_mono_ms(), w, inv = rag_rl_invalid(&r->rl, now, 0);

        if (inv >= RAG_RL_INVALID_HARD) {
            rag_error("msg=\"invalid-request budget exhausted, refusing "
                      "Discord requests\" count=%ld",
                      inv);
            return -1;
        }
        if (inv >= RAG_RL_INVALID_SOFT)
            rag_time_sleep_ms(1000);
        w = rag_rl_wait(&r->rl, route, now);
        if (w > MAX_WAIT_MS) {
            rag_warn("msg=\"rate limited for too long\" route=\"%s\" "
                     "wait_ms=%ld",
                     route, w);
            resp->status = 429;
            return -1;
        }
        if (w > 0) {
            rag_debug("msg=\"rate limit wait\" route=\"%s\" ms=%ld", route, w);
            rag_time_sleep_ms(w);
        }
        rag_rl_sent(&r->rl, rag_time_mono_ms());
        if (rest_once(r, method, url, json, resp, &h) < 0) {
            if (++fails_5xx >= MAX_5XX_TRIES)
                return -1;
            rag_time_sleep_ms(500L << fails_5xx);
            continue;
        }
        now = rag_time_mono_ms();
        rag_rl_update(&r->rl, route, h.bucket[0] ? h.bucket : NULL,
                      h.remaining[0] ? h.remaining : NULL,
                      h.reset_after[0] ? h.reset_after : NULL, now);
        if (resp->status == 429) {
            long ms = rag_rl_parse_retry_after(resp->body.data);
            int global = h.global;
            if (ms < 0 && h.retry_after[0])
                ms = (long)(strtod(h.retry_after, NULL) * 1000);
            if (resp->body.data && strstr(resp->body.data, "\"global\":true"))
                global = 1;
            rag_rl_invalid(&r->rl, now, strcasecmp(h.scope, "shared") != 0);
            rag_warn("msg=\"discord 429\" route=\"%s\" retry_after_ms=%ld "
                     "global=%d",
                     route, ms, global);
            rag_rl_limited(&r->rl, route, ms, global, now);
            continue;
        }
        if (resp->status == 401 || resp->status == 403)
            rag_rl_invalid(&r->rl, now, 1);
        if (resp->status >= 500 && resp->status <= 599) {
            if (++fails_5xx >= MAX_5XX_TRIES)
                break;
            rag_warn("msg=\"discord 5xx, retrying\" route=\"%s\" status=%ld",
                     route, resp->status);
            rag_time_sleep_ms(500L << fails_5xx);
            continue;
        }
        resp->code = json_code(resp->body.data);
        if (resp->status >= 400)
            rag_warn("msg=\"discord error\" route=\"%s\" status=%ld "
                     "code=%d",
                     route, resp->status, resp->code);
        return 0;
    }
    resp->code = json_code(resp->body.data);
    return resp->status >= 500 ? 0 : -1;
}
