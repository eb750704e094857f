/*
 * crawl_pool — a small thread pool that fetches (crawl_fetch) and converts
 * (rag_html_convert) pages for the site crawler, so the politeness rules
 * hold while the database work stays on the caller's thread.
 *
 * Politeness: at most `threads` requests in flight (the concurrency cap)
 * and request starts spaced by `delay` seconds. A crawl covers one site
 * (scope is same scheme/host/port), so this is the per-host schedule.
 *
 * The caller submits URLs and takes results in completion order; a
 * result owns its page and document (crawl_result_free). The pool copies
 * every string it is given. Call xmlInitParser() before starting threads
 * (crawl_pool_start does).
 */
#ifndef CRAWL_POOL_H
#define CRAWL_POOL_H

#include "crawl.h"
#include "rag_expand.h"
#include "rag_html.h"

typedef struct crawl_pool crawl_pool;

typedef struct {
    char *url;       /* as submitted */
    int fetch_rc;    /* crawl_fetch's return */
    crawl_page page; /* status, final_url, validators, body */
    int is_html;     /* 200 with an HTML content type */
    int converted;   /* doc is valid */
    rag_html_doc doc;
    /* the page read as a back-of-the-book index (rag_expand): is_index
     * and its (term, target) pairs; parsed only when the converted page
     * has enough links to be one */
    rag_expand_page exp;
    char err[256]; /* conversion error */
} crawl_result;

/* threads: 1..16. NULL on failure. */
crawl_pool *crawl_pool_start(const crawl_opts *co, int threads, double delay,
                             const char *selector);
int crawl_pool_submit(crawl_pool *p, const char *url, const char *etag,
                      const char *last_modified);
/* Number of submitted URLs whose result was not yet taken. */
size_t crawl_pool_pending(crawl_pool *p);
/* Blocks for the next result; NULL when nothing is pending. */
crawl_result *crawl_pool_next(crawl_pool *p);
void crawl_result_free(crawl_result *r);
/* Stops the threads (pending work is dropped) and frees the pool. */
void crawl_pool_stop(crawl_pool *p);

#endif
