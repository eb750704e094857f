/*
 * GET /rag/health — version, database reachability and index
 * generations as JSON. 200 when the database answers, 503 otherwise (so
 * load balancers take a node without its database out of rotation).
 */

#include "ngx_rag_module.h"

#include "rag_store_collections.h"


#define NGX_RAG_HEALTH_INDEXES  100


static ngx_int_t
ngx_rag_health_read(PGconn *db, void *arg)
{
    PGresult  **res = arg;

    *res = rag_store_collections_overview(db, NGX_RAG_HEALTH_INDEXES);

    return *res ? NGX_OK : NGX_ERROR;
}


static void
ngx_rag_health_run(ngx_rag_task_t *t)
{
    int        i, n;
    rag_buf   *b = &t->body;
    PGresult  *res;

    /* read-only: safe to run again on a new connection */
    if (ngx_rag_pg_call(t, ngx_rag_health_read, &res, NGX_RAG_PG_IDEMPOTENT)
        != NGX_OK)
    {
        /* the reason goes to the error log, not to the public */
        t->status = NGX_HTTP_SERVICE_UNAVAILABLE;
        t->retry_after = 5;
        rag_buf_printf(b, "{\"status\":\"degraded\",\"version\":\""
                       NGX_RAG_VERSION "\",\"database\":\"%s\"}",
                       t->db_down ? "down" : "error");
        return;
    }

    n = PQntuples(res);

    t->status = NGX_HTTP_OK;
    rag_buf_printf(b, "{\"status\":\"ok\",\"version\":\"" NGX_RAG_VERSION
                   "\",\"database\":\"ok\",\"index_generation\":%s,"
                   "\"collections\":%s,\"indexes\":{",
                   n ? PQgetvalue(res, 0, 2) : "0",
                   n ? PQgetvalue(res, 0, 3) : "0");

    for (i = 0; i < n; i++) {
        if (i) {
            rag_buf_putc(b, ',');
        }
        rag_buf_json_str(b, PQgetvalue(res, i, 0),
                         (size_t) PQgetlength(res, i, 0));
        rag_buf_printf(b, ":%s", PQgetvalue(res, i, 1));
    }

    rag_buf_puts(b, "}}");
    PQclear(res);
}


ngx_int_t
ngx_rag_health_handler(ngx_http_request_t *r)
{
    ngx_int_t        rc;
    ngx_rag_task_t  *t;

    if (r->method != NGX_HTTP_GET && r->method != NGX_HTTP_HEAD) {
        return ngx_rag_not_allowed(r, NGX_RAG_EP_HEALTH, "GET, HEAD");
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    t = ngx_rag_task_create(r, NGX_RAG_EP_HEALTH, ngx_rag_health_run, 0);
    if (t == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_rag_task_start(r, t);
}
