/*
 * Prometheus-style metrics: per-endpoint request counts by status class
 * and latency histograms, kept in a small shared memory zone so every
 * worker adds to the same counters (atomics, no lock), plus queue depth
 * read from Postgres on each scrape (on the thread pool).
 */

#include "ngx_rag_module.h"

#include <stdio.h>
#include <string.h>


#define NGX_RAG_LAT_BUCKETS  11

static const ngx_msec_t  ngx_rag_lat_le[NGX_RAG_LAT_BUCKETS] = {
    1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000
};

static const char *ngx_rag_ep_names[NGX_RAG_EP_MAX] = {
    "health", "search", "webhook", "interactions", "upload", "metrics",
    "dashboard"
};


typedef struct {
    ngx_atomic_t  requests[NGX_RAG_EP_MAX][6];      /* status class 0..5 */
    ngx_atomic_t  lat[NGX_RAG_EP_MAX][NGX_RAG_LAT_BUCKETS + 1];
    ngx_atomic_t  lat_sum_ms[NGX_RAG_EP_MAX];
    ngx_atomic_t  index_generation;
} ngx_rag_metrics_t;


typedef struct {
    ngx_rag_metrics_t  snapshot;   /* copied on the event loop */
} ngx_rag_metrics_ctx_t;


static ngx_int_t ngx_rag_metrics_zone_init(ngx_shm_zone_t *zone, void *data);
static void ngx_rag_metrics_run(ngx_rag_task_t *t);


ngx_int_t
ngx_rag_metrics_init_conf(ngx_conf_t *cf, ngx_rag_main_conf_t *rmcf)
{
    ngx_str_t  name = ngx_string("ngx_rag_metrics");

    rmcf->metrics_zone = ngx_shared_memory_add(cf, &name,
                                               8 * ngx_pagesize,
                                               &ngx_rag_module);
    if (rmcf->metrics_zone == NULL) {
        return NGX_ERROR;
    }

    rmcf->metrics_zone->init = ngx_rag_metrics_zone_init;
    rmcf->metrics_zone->data = NULL;

    return NGX_OK;
}


static ngx_int_t
ngx_rag_metrics_zone_init(ngx_shm_zone_t *zone, void *data)
{
    ngx_slab_pool_t    *shpool;
    ngx_rag_metrics_t  *m;

    if (data) {
        /* reload: keep counting where the old cycle left off */
        zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        zone->data = shpool->data;
        return NGX_OK;
    }

    m = ngx_slab_calloc(shpool, sizeof(ngx_rag_metrics_t));
    if (m == NULL) {
        return NGX_ERROR;
    }

    shpool->data = m;
    zone->data = m;

    return NGX_OK;
}


static ngx_rag_metrics_t *
ngx_rag_metrics_get(ngx_http_request_t *r)
{
    ngx_rag_main_conf_t  *rmcf;

    rmcf = ngx_http_get_module_main_conf(r, ngx_rag_module);

    if (rmcf == NULL || rmcf->metrics_zone == NULL) {
        return NULL;
    }

    return rmcf->metrics_zone->data;
}


void
ngx_rag_metrics_observe(ngx_http_request_t *r, ngx_uint_t endpoint,
    ngx_uint_t status)
{
    ngx_uint_t          cls, i;
    ngx_msec_int_t      ms;
    ngx_time_t         *tp;
    ngx_rag_metrics_t  *m;

    m = ngx_rag_metrics_get(r);
    if (m == NULL || endpoint >= NGX_RAG_EP_MAX) {
        return;
    }

    tp = ngx_timeofday();
    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));
    if (ms < 0) {
        ms = 0;
    }

    cls = status / 100;
    if (cls > 5) {
        cls = 0;
    }

    (void) ngx_atomic_fetch_add(&m->requests[endpoint][cls], 1);
    (void) ngx_atomic_fetch_add(&m->lat_sum_ms[endpoint], ms);

    for (i = 0; i < NGX_RAG_LAT_BUCKETS; i++) {
        if ((ngx_msec_t) ms <= ngx_rag_lat_le[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&m->lat[endpoint][i], 1);
}


void
ngx_rag_metrics_set_generation(ngx_http_request_t *r, uint64_t gen)
{
    ngx_rag_metrics_t  *m;

    m = ngx_rag_metrics_get(r);
    if (m != NULL && gen > m->index_generation) {
        m->index_generation = (ngx_atomic_uint_t) gen;
    }
}


ngx_int_t
ngx_rag_metrics_handler(ngx_http_request_t *r)
{
    ngx_int_t               rc;
    ngx_uint_t              i, j;
    ngx_rag_task_t         *t;
    ngx_rag_metrics_t      *m;
    ngx_rag_metrics_ctx_t  *ctx;

    if (r->method != NGX_HTTP_GET && r->method != NGX_HTTP_HEAD) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    t = ngx_rag_task_create(r, NGX_RAG_EP_METRICS, ngx_rag_metrics_run,
                            sizeof(ngx_rag_metrics_ctx_t));
    if (t == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* snapshot the counters here: the thread must not touch shm */
    ctx = t->data;
    m = ngx_rag_metrics_get(r);

    if (m != NULL) {
        for (i = 0; i < NGX_RAG_EP_MAX; i++) {
            for (j = 0; j < 6; j++) {
                ctx->snapshot.requests[i][j] = m->requests[i][j];
            }
            for (j = 0; j <= NGX_RAG_LAT_BUCKETS; j++) {
                ctx->snapshot.lat[i][j] = m->lat[i][j];
            }
            ctx->snapshot.lat_sum_ms[i] = m->lat_sum_ms[i];
        }
        ctx->snapshot.index_generation = m->index_generation;
    }

    t->content_type = "text/plain; version=0.0.4";

    if (ngx_rag_task_post(r, t) != NGX_OK) {
        return ngx_rag_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "thread pool queue full");
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_rag_metrics_run(ngx_rag_task_t *t)
{
    char                    err[256];
    int                     i, n, db_up, typed;
    PGconn                 *db;
    PGresult               *res;
    rag_buf                *b;
    ngx_uint_t              ep, j, cum;
    ngx_rag_metrics_t      *s;
    ngx_rag_metrics_ctx_t  *ctx = t->data;

    s = &ctx->snapshot;
    b = &t->body;

    rag_buf_puts(b, "# HELP rag_requests_total Requests by endpoint and "
                    "status class.\n# TYPE rag_requests_total counter\n");

    for (ep = 0; ep < NGX_RAG_EP_MAX; ep++) {
        for (j = 1; j < 6; j++) {
            rag_buf_printf(b, "rag_requests_total{endpoint=\"%s\","
                           "code=\"%uxx\"} %lu\n", ngx_rag_ep_names[ep],
                           (unsigned) j,
                           (unsigned long) s->requests[ep][j]);
        }
    }

    rag_buf_puts(b, "# HELP rag_request_duration_ms Request latency.\n"
                    "# TYPE rag_request_duration_ms histogram\n");

    for (ep = 0; ep < NGX_RAG_EP_MAX; ep++) {
        cum = 0;
        for (j = 0; j < NGX_RAG_LAT_BUCKETS; j++) {
            cum += s->lat[ep][j];
            rag_buf_printf(b, "rag_request_duration_ms_bucket{endpoint="
                           "\"%s\",le=\"%lu\"} %lu\n", ngx_rag_ep_names[ep],
                           (unsigned long) ngx_rag_lat_le[j],
                           (unsigned long) cum);
        }
        cum += s->lat[ep][NGX_RAG_LAT_BUCKETS];
        rag_buf_printf(b, "rag_request_duration_ms_bucket{endpoint=\"%s\","
                       "le=\"+Inf\"} %lu\n", ngx_rag_ep_names[ep],
                       (unsigned long) cum);
        rag_buf_printf(b, "rag_request_duration_ms_sum{endpoint=\"%s\"} "
                       "%lu\n", ngx_rag_ep_names[ep],
                       (unsigned long) s->lat_sum_ms[ep]);
        rag_buf_printf(b, "rag_request_duration_ms_count{endpoint=\"%s\"} "
                       "%lu\n", ngx_rag_ep_names[ep], (unsigned long) cum);
    }

    rag_buf_printf(b, "# TYPE rag_index_generation_loaded gauge\n"
                   "rag_index_generation_loaded %lu\n",
                   (unsigned long) s->index_generation);

    db_up = 0;
    db = ngx_rag_pg_conn(t->conninfo, t->db_timeout_ms, err, sizeof(err));

    if (db) {
        res = PQexec(db,
            "SELECT 'jobs', state, count(*) FROM jobs"
            " WHERE state <> 'done' GROUP BY state"
            " UNION ALL SELECT 'outbox', 'pending', count(*) FROM messages"
            " WHERE from_bot AND NOT processed"
            " UNION ALL SELECT 'failed', failure, count(*)"
            " FROM delivery_failures GROUP BY failure"
            " UNION ALL SELECT 'index', name, index_generation"
            " FROM collections");

        if (PQresultStatus(res) == PGRES_TUPLES_OK) {
            db_up = 1;
            n = PQntuples(res);

            rag_buf_puts(b, "# TYPE rag_queue_jobs gauge\n");
            typed = 0;
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
                    rag_buf_printf(b, "rag_delivery_failed{reason=\"%s\"} "
                                   "%s\n", PQgetvalue(res, i, 1),
                                   PQgetvalue(res, i, 2));
                } else {
                    rag_buf_printf(b, "rag_index_generation{collection="
                                   "\"%s\"} %s\n", PQgetvalue(res, i, 1),
                                   PQgetvalue(res, i, 2));
                }
            }

        } else {
            ngx_rag_pg_discard();
        }

        PQclear(res);
    }

    rag_buf_printf(b, "# TYPE rag_database_up gauge\nrag_database_up %d\n",
                   db_up);

    t->status = NGX_HTTP_OK;
}
