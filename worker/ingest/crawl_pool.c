#include "crawl_pool.h"
#include "rag_charset.h"
#include "rag_time.h"

#include <libxml/parser.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define POOL_MAX_THREADS 16

typedef struct task {
    struct task *next;
    char *url, *etag, *lastmod;
} task;

typedef struct done_item {
    struct done_item *next;
    crawl_result *r;
} done_item;

struct crawl_pool {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    task *head, *tail;
    done_item *dhead, *dtail;
    size_t pending;
    int stopping;
    int nthreads;
    pthread_t threads[POOL_MAX_THREADS];
    crawl_opts co;
    double delay;
    double next_start; /* monotonic time the next request may start */
    char *selector;
};

static void
task_free(task *t)
{
    free(t->url);
    free(t->etag);
    free(t->lastmod);
    free(t);
}

/* 1 when the HTML has at least RAG_EXPAND_MIN_ENTRIES links, the
 * fewest an index page has: the cheap test before parsing it as one. */
static int
enough_links(const rag_buf *html)
{
    const char *p = html->data, *end = p ? p + html->len : NULL;
    size_t n = 0;

    while (p && n < RAG_EXPAND_MIN_ENTRIES &&
           (p = memmem(p, (size_t)(end - p), "href", 4)) != NULL) {
        n++;
        p += 4;
    }
    return n >= RAG_EXPAND_MIN_ENTRIES;
}

static crawl_result *
run_task(crawl_pool *p, task *t)
{
    crawl_result *r = calloc(1, sizeof(*r));

    if (r == NULL || (r->url = strdup(t->url)) == NULL) {
        free(r);
        return NULL;
    }
    r->fetch_rc = crawl_fetch(&p->co, t->url, t->etag, t->lastmod, &r->page);
    if (r->fetch_rc == 0 && r->page.status == 200 &&
        (strncasecmp(r->page.content_type, "text/html", 9) == 0 ||
         strncasecmp(r->page.content_type, "application/xhtml", 17) == 0)) {
        char cs[64];
        r->is_html = 1;
        rag_charset_from_content_type(r->page.content_type, cs, sizeof(cs));
        r->converted =
            rag_html_convert(r->page.body.data ? r->page.body.data : "",
                             r->page.body.len, r->page.final_url, p->selector,
                             cs, &r->doc, r->err, sizeof(r->err)) == 0;
        if (r->converted && enough_links(&r->page.body)) {
            char e[256];
            /* not an index page when it cannot be read as one */
            if (rag_expand_parse(r->page.body.data, r->page.body.len,
                                 r->page.final_url, &r->exp, e, sizeof(e)) != 0)
                rag_expand_page_free(&r->exp);
        }
        /* the HTML is not needed once converted */
        rag_buf_free(&r->page.body);
    }
    return r;
}

static void *
worker(void *arg)
{
    crawl_pool *p = arg;

    for (;;) {
        task *t;
        double start, now;
        crawl_result *r;
        done_item *d;

        pthread_mutex_lock(&p->mu);
        while (!p->stopping && p->head == NULL)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->stopping) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        t = p->head;
        p->head = t->next;
        if (p->head == NULL)
            p->tail = NULL;
        /* reserve a start slot: starts are spaced by the delay */
        now = rag_time_mono_s();
        start = p->next_start > now ? p->next_start : now;
        p->next_start = start + p->delay;
        pthread_mutex_unlock(&p->mu);

        rag_time_sleep_ms((long)((start - rag_time_mono_s()) * 1000));
        r = run_task(p, t);
        task_free(t);
        d = calloc(1, sizeof(*d));
        pthread_mutex_lock(&p->mu);
        if (d && r) {
            d->r = r;
            if (p->dtail)
                p->dtail->next = d;
            else
                p->dhead = d;
            p->dtail = d;
        } else {
            /* out of memory: report as a failed fetch of an unknown URL */
            free(d);
            crawl_result_free(r);
            p->pending--;
        }
        pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
}

crawl_pool *
crawl_pool_start(const crawl_opts *co, int threads, double delay,
                 const char *selector)
{
    crawl_pool *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    xmlInitParser();
    if (threads < 1)
        threads = 1;
    if (threads > POOL_MAX_THREADS)
        threads = POOL_MAX_THREADS;
    p->co = *co;
    p->delay = delay > 0 ? delay : 0;
    if (selector && (p->selector = strdup(selector)) == NULL) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
            break;
        p->nthreads++;
    }
    if (p->nthreads == 0) {
        crawl_pool_stop(p);
        return NULL;
    }
    return p;
}

int
crawl_pool_submit(crawl_pool *p, const char *url, const char *etag,
                  const char *last_modified)
{
    task *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return -1;
    t->url = strdup(url);
    t->etag = etag && *etag ? strdup(etag) : NULL;
    t->lastmod = last_modified && *last_modified ? strdup(last_modified) : NULL;
    if (t->url == NULL || (etag && *etag && !t->etag) ||
        (last_modified && *last_modified && !t->lastmod)) {
        task_free(t);
        return -1;
    }
    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->next = t;
    else
        p->head = t;
    p->tail = t;
    p->pending++;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

size_t
crawl_pool_pending(crawl_pool *p)
{
    size_t n;

    pthread_mutex_lock(&p->mu);
    n = p->pending;
    pthread_mutex_unlock(&p->mu);
    return n;
}

crawl_result *
crawl_pool_next(crawl_pool *p)
{
    crawl_result *r = NULL;
    done_item *d;

    pthread_mutex_lock(&p->mu);
    while (p->pending > 0 && p->dhead == NULL)
        pthread_cond_wait(&p->done, &p->mu);
    if ((d = p->dhead) != NULL) {
        p->dhead = d->next;
        if (p->dhead == NULL)
            p->dtail = NULL;
        p->pending--;
        r = d->r;
        free(d);
    }
    pthread_mutex_unlock(&p->mu);
    return r;
}

void
crawl_result_free(crawl_result *r)
{
    if (r == NULL)
        return;
    free(r->url);
    crawl_page_free(&r->page);
    rag_html_doc_free(&r->doc);
    rag_expand_page_free(&r->exp);
    free(r);
}

void
crawl_pool_stop(crawl_pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    while (p->head) {
        task *t = p->head;
        p->head = t->next;
        task_free(t);
    }
    while (p->dhead) {
        done_item *d = p->dhead;
        p->dhead = d->next;
        crawl_result_free(d->r);
        free(d);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    free(p->selector);
    free(p);
}
