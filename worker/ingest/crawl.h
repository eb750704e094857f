/*
 * crawl — polite fetching of a documentation site for rag-ingest.
 *
 * crawl_fetch() GETs one URL through rag_http: named User-Agent, SSRF guard
 * on every hop (the host is resolved and vetted by rag_url_vet, then curl
 * is pinned to that address with CURLOPT_RESOLVE, proxies off, so a DNS
 * rebinding answer cannot redirect it), redirects followed by hand (at
 * most CRAWL_MAX_REDIRECTS, each re-vetted), conditional GET with
 * If-None-Match / If-Modified-Since, a size limit, timeouts, and retries
 * with exponential backoff on 5xx/429 and transport errors (a
 * Retry-After in seconds replaces the backoff, capped at 30 s).
 *
 * crawl_robots_*: robots.txt groups for our agent (else "*"), Allow /
 * Disallow with longest match (Allow wins ties, "*" and "$" supported),
 * Crawl-delay and Sitemap lines.
 *
 * crawl_sitemap(): <urlset> and <sitemapindex> (nested up to 3 levels,
 * at most 100 sitemap files) parsed with libxml2 (no network, no
 * entities).
 *
 * Memory: crawl_page, crawl_robots and crawl_urls own their strings;
 * free them with the matching *_free.
 */
#ifndef CRAWL_H
#define CRAWL_H

#include "rag_buf.h"

#include <stddef.h>

#define CRAWL_USER_AGENT "ngx_rag-crawler/0.1 (+https://github.com/ngx-rag)"
#define CRAWL_AGENT_TOKEN "ngx_rag-crawler"
#define CRAWL_MAX_REDIRECTS 5

typedef struct {
    int allow_private; /* tests crawl 127.0.0.1 */
    long timeout_ms;   /* per request, default 30000 */
    int max_retries;   /* 5xx / transport, default 2 */
    long backoff_ms;   /* first retry delay, default 500 */
    size_t max_bytes;  /* page size limit, default 8 MiB */
} crawl_opts;

typedef struct {
    long status;     /* 0 on transport failure */
    char *final_url; /* after redirects (normalised) */
    char *content_type;
    char *etag, *last_modified;
    rag_buf body;
    char error[256];
} crawl_page;

void crawl_opts_default(crawl_opts *o);

/* 0 when a response arrived (check status: 200, 304, 404, ...), -1 on
 * failure (error filled: SSRF refusal, too many redirects, too large,
 * transport). etag / last_modified may be NULL. */
int crawl_fetch(const crawl_opts *o, const char *url, const char *etag,
                const char *last_modified, crawl_page *p);
void crawl_page_free(crawl_page *p);

typedef struct {
    char **v;
    size_t n, cap;
} crawl_urls;

int crawl_urls_push(crawl_urls *u, const char *s);
void crawl_urls_free(crawl_urls *u);

typedef struct {
    char **allow, **disallow;
    size_t nallow, ndisallow;
    double crawl_delay; /* seconds, 0 if none */
    crawl_urls sitemaps;
} crawl_robots;

/* Parses robots.txt text for our agent. */
void crawl_robots_parse(crawl_robots *r, const char *txt, size_t len);
/* 1 if the path ("/docs/x?y") may be fetched. */
int crawl_robots_allowed(const crawl_robots *r, const char *path);
void crawl_robots_free(crawl_robots *r);

/* Collects page URLs from sitemap_url (following sitemap indexes) into
 * out. 0, or -1 when the first sitemap cannot be fetched or parsed. */
int crawl_sitemap(const crawl_opts *o, const char *sitemap_url, crawl_urls *out,
                  char *err, size_t errlen);

/* Page URLs found in one sitemap document (exposed for tests); nested
 * sitemap URLs go to subs. */
int crawl_sitemap_parse(const char *xml, size_t len, crawl_urls *pages,
                        crawl_urls *subs);

#endif
