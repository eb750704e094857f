/*
 * GET /rag/metrics — the Prometheus scrape endpoint: the request metrics
 * of every worker (ngx_rag_metrics.c, rendered on the event loop), then
 * queue depth, outbox backlog and index generations read from Postgres
 * on the thread pool.
 */

#include "ngx_rag_module.h"

#include "rag_store_stats.h"

#include <string.h>


static void ngx_rag_scrape_run(ngx_rag_task_t *t);


ngx_int_t
ngx_rag_metrics_handler(ngx_http_request_t *r)
{
    ngx_int_t        rc;
    ngx_rag_task_t  *t;

    if (r->method != NGX_HTTP_GET && r->method != NGX_HTTP_HEAD) {
        return ngx_rag_not_allowed(r, NGX_RAG_EP_METRICS, "GET, HEAD");
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    t = ngx_rag_task_create(r, NGX_RAG_EP_METRICS, ngx_rag_scrape_run, 0);
    if (t == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the shared counters are read here: the thread must not touch shm */
    ngx_rag_metrics_render(r, &t->body);

    t->content_type = "text/plain; version=0.0.4";

    return ngx_rag_task_start(r, t);
}


static ngx_int_t
ngx_rag_scrape_read(PGconn *db, void *arg)
{
    PGresult  **res = arg;

    *res = rag_store_stats_gauges(db);

    return *res ? NGX_OK : NGX_ERROR;
}


static void
ngx_rag_scrape_run(ngx_rag_task_t *t)
{
    int        i, n, db_up, typed = 0;
    PGresult  *res;
    rag_buf   *b = &t->body;

    db_up = ngx_rag_pg_call(t, ngx_rag_scrape_read, &res,
                            NGX_RAG_PG_IDEMPOTENT) == NGX_OK;

    if (db_up) {
        n = PQntuples(res);

        rag_buf_puts(b, "# TYPE rag_queue_jobs gauge\n");
        for (i = 0; i < n; i++) {
            if (strcmp(PQgetvalue(res, i, 0), "jobs") == 0) {
                rag_buf_printf(b, "rag_queue_jobs{state=\"%s\"} %s\n",
                               PQgetvalue(res, i, 1),
                               PQgetvalue(res, i, 2));
            } else if (strcmp(PQgetvalue(res, i, 0), "outbox") == 0) {
                rag_buf_printf(b, "# TYPE rag_outbox_pending gauge\n"
                               "rag_outbox_pending %s\n",
                               PQgetvalue(res, i, 2));
            } else if (strcmp(PQgetvalue(res, i, 0), "failed") == 0) {
                /* the reasons are the bot's own slugs */
                if (!typed++) {
                    rag_buf_puts(b, "# TYPE rag_delivery_failed gauge\n");
                }
                rag_buf_printf(b, "rag_delivery_failed{reason=\"%s\"} %s\n",
                               PQgetvalue(res, i, 1),
                               PQgetvalue(res, i, 2));
            } else {
                rag_buf_printf(b, "rag_index_generation{collection="
                               "\"%s\"} %s\n", PQgetvalue(res, i, 1),
                               PQgetvalue(res, i, 2));
            }
        }

        PQclear(res);
    }

    rag_buf_printf(b, "# TYPE rag_database_up gauge\nrag_database_up %d\n",
                   db_up);

    t->status = NGX_HTTP_OK;
}
