#include "crawl.h"
#include "rag_time.h"

#include "rag_http.h"
#include "rag_log.h"
#include "rag_url.h"

#include <ctype.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void
crawl_opts_default(crawl_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->timeout_ms = 30000;
    o->max_retries = 2;
    o->backoff_ms = 500;
    o->max_bytes = 8u * 1024 * 1024;
}

int
crawl_urls_push(crawl_urls *u, const char *s)
{
    if (u->n == u->cap) {
        size_t nc = u->cap ? u->cap * 2 : 64;
        char **v = realloc(u->v, nc * sizeof(*v));
        if (v == NULL)
            return -1;
        u->v = v;
        u->cap = nc;
    }
    if ((u->v[u->n] = strdup(s)) == NULL)
        return -1;
    u->n++;
    return 0;
}

void
crawl_urls_free(crawl_urls *u)
{
    for (size_t i = 0; i < u->n; i++)
        free(u->v[i]);
    free(u->v);
    memset(u, 0, sizeof(*u));
}

void
crawl_page_free(crawl_page *p)
{
    free(p->final_url);
    free(p->content_type);
    free(p->etag);
    free(p->last_modified);
    rag_buf_free(&p->body);
    memset(p, 0, sizeof(*p));
}

/* What crawl_fetch keeps of a response's headers. */
typedef struct {
    char ctype[128], etag[256], lastmod[64], location[RAG_URL_MAX];
    char retry_after[32];
} sink_t;

/* rag_http's header hook: one raw header line. */
static void
on_header(void *ud, const char *line, size_t len)
{
    sink_t *s = ud;

    if (len > 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* a new response (after 100-continue): forget the old headers */
        s->ctype[0] = s->etag[0] = s->lastmod[0] = s->location[0] = '\0';
        s->retry_after[0] = '\0';
    }
    rag_http_header_value(line, len, "content-type", s->ctype,
                          sizeof(s->ctype));
    rag_http_header_value(line, len, "etag", s->etag, sizeof(s->etag));
    rag_http_header_value(line, len, "last-modified", s->lastmod,
                          sizeof(s->lastmod));
    rag_http_header_value(line, len, "location", s->location,
                          sizeof(s->location));
    rag_http_header_value(line, len, "retry-after", s->retry_after,
                          sizeof(s->retry_after));
}

/* One request to one vetted address, no redirects followed. The body
 * replaces p->body. */
static int
fetch_once(const crawl_opts *o, const char *url, const char *etag,
           const char *lastmod, crawl_page *p, sink_t *sink)
{
    rag_url u;
    char resolve[600], addr[64], inm[400], ims[400];
    const char *hdrs[3];
    size_t nh = 0;
    rag_http_req req;
    rag_http_resp resp;
    int rc;

    if (rag_url_parse(url, &u) != 0) {
        snprintf(p->error, sizeof(p->error), "bad URL");
        return -1;
    }
    if (rag_url_vet(&u, o->allow_private, resolve, sizeof(resolve), addr,
                    sizeof(addr), p->error, sizeof(p->error)) != 0)
        return -1;
    if (etag && *etag) {
        snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
        hdrs[nh++] = inm;
    }
    if (lastmod && *lastmod) {
        snprintf(ims, sizeof(ims), "If-Modified-Since: %s", lastmod);
        hdrs[nh++] = ims;
    }
    hdrs[nh] = NULL;
    memset(&req, 0, sizeof(req));
    req.url = url;
    req.headers = hdrs;
    req.user_agent = CRAWL_USER_AGENT;
    req.resolve = resolve; /* curl connects to the vetted address only */
    req.no_proxy = 1;      /* never via the environment's proxies */
    req.accept_encoding = "";
    req.timeout_ms = o->timeout_ms;
    req.connect_timeout_ms = o->timeout_ms < 10000 ? o->timeout_ms : 10000L;
    req.max_response = o->max_bytes ? o->max_bytes : 8u << 20;
    req.on_header = on_header;
    req.header_ud = sink;
    rc = rag_http_do(&req, &resp); /* one attempt: retries are ours */
    rag_buf_free(&p->body);
    p->body = resp.body;
    if (rc != 0) {
        snprintf(p->error, sizeof(p->error), "%s",
                 strcmp(resp.error, "response too large") == 0
                     ? "page too large"
                     : resp.error);
        return -1;
    }
    p->status = resp.status;
    return 0;
}

int
crawl_fetch(const crawl_opts *o, const char *url, const char *etag,
            const char *last_modified, crawl_page *p)
{
    char cur[RAG_URL_MAX], next[RAG_URL_MAX];
    sink_t sink;
    long backoff = o->backoff_ms > 0 ? o->backoff_ms : 500, wait;
    int hops = 0, attempt = 0;

    memset(p, 0, sizeof(*p));
    rag_buf_init(&p->body, o->max_bytes ? o->max_bytes : 8u << 20);
    rag_http_global_init();
    if (rag_url_normalize(url, cur, sizeof(cur)) != 0) {
        snprintf(p->error, sizeof(p->error), "bad URL");
        return -1;
    }
    for (;;) {
        memset(&sink, 0, sizeof(sink));
        rag_buf_reset(&p->body);
        p->status = 0;
        p->error[0] = '\0';
        /* validators apply to the URL they were stored for */
        if (fetch_once(o, cur, hops ? NULL : etag, hops ? NULL : last_modified,
                       p, &sink) != 0) {
            if (strncmp(p->error, "refusing", 8) == 0 ||
                strcmp(p->error, "page too large") == 0 ||
                strcmp(p->error, "bad URL") == 0 || attempt >= o->max_retries)
                return -1;
        } else if (p->status >= 300 && p->status < 400 && p->status != 304) {
            if (!sink.location[0] || ++hops > CRAWL_MAX_REDIRECTS ||
                rag_url_resolve(cur, sink.location, 0, next, sizeof(next)) !=
                    0) {
                snprintf(p->error, sizeof(p->error),
                         hops > CRAWL_MAX_REDIRECTS ? "too many redirects"
                                                    : "bad redirect");
                return -1;
            }
            snprintf(cur, sizeof(cur), "%s", next);
            continue; /* the next hop is vetted again by fetch_once */
        } else if ((p->status >= 500 || p->status == 429) &&
                   attempt < o->max_retries) {
            /* retried below */
        } else {
            break;
        }
        attempt++;
        /* the server's Retry-After (seconds) wins, within 30 s */
        wait = rag_http_parse_retry_after(sink.retry_after, NULL);
        if (wait < 0)
            wait = backoff;
        if (wait > 30000)
            wait = 30000;
        rag_warn("msg=\"crawl retry\" url=\"%s\" status=%ld error=\"%s\" "
                 "wait_ms=%ld",
                 cur, p->status, p->error, wait);
        rag_time_sleep_ms(wait);
        backoff *= 2;
    }
    p->final_url = strdup(cur);
    p->content_type = strdup(sink.ctype);
    p->etag = strdup(sink.etag);
    p->last_modified = strdup(sink.lastmod);
    if (!p->final_url || !p->content_type || !p->etag || !p->last_modified) {
        snprintf(p->error, sizeof(p->error), "out of memory");
        return -1;
    }
    return 0;
}

/* ---- robots.txt ------------------------------------------------------- */

static int
push_rule(char ***v, size_t *n, const char *s, size_t len)
{
    char **nv = realloc(*v, (*n + 1) * sizeof(**v));

    if (nv == NULL)
        return -1;
    *v = nv;
    if ((nv[*n] = strndup(s, len)) == NULL)
        return -1;
    (*n)++;
    return 0;
}

void
crawl_robots_parse(crawl_robots *r, const char *txt, size_t len)
{
    /* Two passes: rules of a group naming us win over "*". */
    for (int pass = 0; pass < 2; pass++) {
        const char *p = txt, *end = txt + len;
        int in_group = 0, group_match = 0, last_was_agent = 0, found = 0;

        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *le = nl ? nl : end, *hash, *colon, *v, *ve;
            char key[32];
            size_t kl;

            hash = memchr(p, '#', (size_t)(le - p));
            if (hash)
                le = hash;
            colon = memchr(p, ':', (size_t)(le - p));
            if (colon) {
                const char *ks = p;
                while (ks < colon && isspace((unsigned char)*ks))
                    ks++;
                kl = (size_t)(colon - ks);
                while (kl && isspace((unsigned char)ks[kl - 1]))
                    kl--;
                if (kl >= sizeof(key))
                    kl = sizeof(key) - 1;
                for (size_t i = 0; i < kl; i++)
                    key[i] = (char)tolower((unsigned char)ks[i]);
                key[kl] = '\0';
                v = colon + 1;
                while (v < le && isspace((unsigned char)*v))
                    v++;
                ve = le;
                while (ve > v && isspace((unsigned char)ve[-1]))
                    ve--;
                if (strcmp(key, "user-agent") == 0) {
                    if (!last_was_agent) {
                        in_group = 1;
                        group_match = 0;
                    }
                    last_was_agent = 1;
                    size_t vl = (size_t)(ve - v);
                    if (pass == 0 && vl >= strlen(CRAWL_AGENT_TOKEN) &&
                        strncasecmp(v, CRAWL_AGENT_TOKEN,
                                    strlen(CRAWL_AGENT_TOKEN)) == 0)
                        group_match = 1;
                    if (pass == 1 && vl == 1 && *v == '*')
                        group_match = 1;
                } else {
                    last_was_agent = 0;
                    if (strcmp(key, "sitemap") == 0 && pass == 0 && ve > v) {
                        char *s = strndup(v, (size_t)(ve - v));
                        if (s) {
                            crawl_urls_push(&r->sitemaps, s);
                            free(s);
                        }
                    } else if (in_group && group_match) {
                        found = 1;
                        if (strcmp(key, "disallow") == 0 && ve > v)
                            push_rule(&r->disallow, &r->ndisallow, v,
                                      (size_t)(ve - v));
                        else if (strcmp(key, "allow") == 0 && ve > v)
                            push_rule(&r->allow, &r->nallow, v,
                                      (size_t)(ve - v));
                        else if (strcmp(key, "crawl-delay") == 0) {
                            double d = strtod(v, NULL);
                            if (d > 0 && d <= 60)
                                r->crawl_delay = d;
                        }
                    }
                }
            }
            p = nl ? nl + 1 : end;
        }
        if (found)
            return; /* our own group exists: "*" does not apply */
    }
}

/* Length of the match of pattern against path, or -1. */
static long
robots_match(const char *pat, const char *path)
{
    const char *p = pat, *s = path;

    if (*p == '\0')
        return -1;
    while (*p) {
        if (*p == '*') {
            const char *rest = p + 1;
            while (*rest == '*')
                rest++;
            if (*rest == '\0')
                return (long)strlen(pat);
            for (const char *t = s; *t; t++)
                if (robots_match(rest, t) >= 0)
                    return (long)strlen(pat);
            return robots_match(rest, s + strlen(s)) >= 0 ? (long)strlen(pat)
                                                          : -1;
        }
        if (*p == '$' && p[1] == '\0')
            return *s == '\0' ? (long)strlen(pat) : -1;
        if (*s != *p)
            return -1;
        p++;
        s++;
    }
    return (long)strlen(pat);
}

int
crawl_robots_allowed(const crawl_robots *r, const char *path)
{
    long best_allow = -1, best_dis = -1, m;

    for (size_t i = 0; i < r->nallow; i++)
        if ((m = robots_match(r->allow[i], path)) > best_allow)
            best_allow = m;
    for (size_t i = 0; i < r->ndisallow; i++)
        if ((m = robots_match(r->disallow[i], path)) > best_dis)
            best_dis = m;
    return best_dis < 0 || best_allow >= best_dis;
}

void
crawl_robots_free(crawl_robots *r)
{
    for (size_t i = 0; i < r->nallow; i++)
        free(r->allow[i]);
    for (size_t i = 0; i < r->ndisallow; i++)
        free(r->disallow[i]);
    free(r->allow);
    free(r->disallow);
    crawl_urls_free(&r->sitemaps);
    memset(r, 0, sizeof(*r));
}

/* ---- sitemaps ------------------------------------------------------------ */

static void
sitemap_walk(xmlNode *n, crawl_urls *pages, crawl_urls *subs, int depth)
{
    for (; n && depth < 8; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (strcmp((const char *)n->name, "loc") == 0 && n->parent) {
            xmlChar *t = xmlNodeGetContent(n);
            if (t) {
                char *s = (char *)t;
                while (isspace((unsigned char)*s))
                    s++;
                size_t l = strlen(s);
                while (l && isspace((unsigned char)s[l - 1]))
                    s[--l] = '\0';
                if (strcmp((const char *)n->parent->name, "sitemap") == 0)
                    crawl_urls_push(subs, s);
                else if (strcmp((const char *)n->parent->name, "url") == 0)
                    crawl_urls_push(pages, s);
                xmlFree(t);
            }
            continue;
        }
        sitemap_walk(n->children, pages, subs, depth + 1);
    }
}

int
crawl_sitemap_parse(const char *xml, size_t len, crawl_urls *pages,
                    crawl_urls *subs)
{
    xmlDocPtr doc;

    if (len > 64u * 1024 * 1024)
        return -1;
    doc = xmlReadMemory(xml, (int)len, "sitemap.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR |
                            XML_PARSE_NOWARNING | XML_PARSE_RECOVER);
    if (doc == NULL || xmlDocGetRootElement(doc) == NULL) {
        if (doc)
            xmlFreeDoc(doc);
        return -1;
    }
    sitemap_walk(xmlDocGetRootElement(doc), pages, subs, 0);
    xmlFreeDoc(doc);
    return 0;
}

int
crawl_sitemap(const crawl_opts *o, const char *sitemap_url, crawl_urls *out,
              char *err, size_t errlen)
{
    crawl_urls todo = {0}, done = {0};
    size_t i = 0;
    int rc = -1;

    if (crawl_urls_push(&todo, sitemap_url) != 0)
        goto end;
    while (i < todo.n && i < 100) {
        crawl_page p;
        int dup = 0;
        for (size_t k = 0; k < done.n; k++)
            if (strcmp(done.v[k], todo.v[i]) == 0)
                dup = 1;
        if (dup) {
            i++;
            continue;
        }
        crawl_urls_push(&done, todo.v[i]);
        if (crawl_fetch(o, todo.v[i], NULL, NULL, &p) != 0 || p.status != 200 ||
            crawl_sitemap_parse(p.body.data ? p.body.data : "", p.body.len, out,
                                &todo) != 0) {
            if (i == 0) {
                snprintf(err, errlen, "sitemap %s: %s", todo.v[i],
                         p.error[0] ? p.error : "not found or not XML");
                crawl_page_free(&p);
                goto end;
            }
            rag_warn("msg=\"sitemap skipped\" url=\"%s\"", todo.v[i]);
        }
        crawl_page_free(&p);
        i++;
    }
    rc = 0;
end:
    crawl_urls_free(&todo);
    crawl_urls_free(&done);
    return rc;
}
