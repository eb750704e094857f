/*
 * Request metrics: per-endpoint request counts by status class and
 * latency histograms, kept in a small shared memory zone so every worker
 * adds to the same counters (atomics, no lock), and their Prometheus
 * text. Event loop only; depends on nothing else in the module, so every
 * other file may count requests. The scrape endpoint is ngx_rag_scrape.c.
 */

#include "ngx_rag_module.h"


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


static ngx_int_t ngx_rag_metrics_zone_init(ngx_shm_zone_t *zone, void *data);


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


void
ngx_rag_metrics_render(ngx_http_request_t *r, rag_buf *b)
{
    ngx_uint_t          ep, j, cum;
    ngx_rag_metrics_t  *m, zero;

    m = ngx_rag_metrics_get(r);
    if (m == NULL) {
        ngx_memzero(&zero, sizeof(zero));
        m = &zero;
    }

    rag_buf_puts(b, "# HELP rag_requests_total Requests by endpoint and "
                    "status class.\n# TYPE rag_requests_total counter\n");

    for (ep = 0; ep < NGX_RAG_EP_MAX; ep++) {
        for (j = 1; j < 6; j++) {
            rag_buf_printf(b, "rag_requests_total{endpoint=\"%s\","
                           "code=\"%uxx\"} %lu\n", ngx_rag_ep_names[ep],
                           (unsigned) j,
                           (unsigned long) m->requests[ep][j]);
        }
    }

    rag_buf_puts(b, "# HELP rag_request_duration_ms Request latency.\n"
                    "# TYPE rag_request_duration_ms histogram\n");

    for (ep = 0; ep < NGX_RAG_EP_MAX; ep++) {
        cum = 0;
        for (j = 0; j < NGX_RAG_LAT_BUCKETS; j++) {
            cum += m->lat[ep][j];
            rag_buf_printf(b, "rag_request_duration_ms_bucket{endpoint="
                           "\"%s\",le=\"%lu\"} %lu\n", ngx_rag_ep_names[ep],
                           (unsigned long) ngx_rag_lat_le[j],
                           (unsigned long) cum);
        }
        cum += m->lat[ep][NGX_RAG_LAT_BUCKETS];
        rag_buf_printf(b, "rag_request_duration_ms_bucket{endpoint=\"%s\","
                       "le=\"+Inf\"} %lu\n", ngx_rag_ep_names[ep],
                       (unsigned long) cum);
        rag_buf_printf(b, "rag_request_duration_ms_sum{endpoint=\"%s\"} "
                       "%lu\n", ngx_rag_ep_names[ep],
                       (unsigned long) m->lat_sum_ms[ep]);
        rag_buf_printf(b, "rag_request_duration_ms_count{endpoint=\"%s\"} "
                       "%lu\n", ngx_rag_ep_names[ep], (unsigned long) cum);
    }

    rag_buf_printf(b, "# TYPE rag_index_generation_loaded gauge\n"
                   "rag_index_generation_loaded %lu\n",
                   (unsigned long) m->index_generation);
}
