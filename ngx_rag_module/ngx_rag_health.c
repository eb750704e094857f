/*
 * GET /rag/health — version, database reachability and index
 * generations as JSON. 200 when the database answers, 503 otherwise (so
 * load balancers take a node without its database out of rotation).
 */

#include "ngx_rag_module.h"


static void
ngx_rag_health_run(ngx_rag_task_t *t)
{
    int        i, n;
    PGresult  *res;
    rag_buf   *b = &t->body;

    /* read-only: safe to run again on a new connection */
    res = ngx_rag_pg_exec(t, "SELECT coalesce(max(index_generation), 0),"
                             " count(*) FROM collections",
                          0, NULL, NGX_RAG_PG_IDEMPOTENT);

    if (res == NULL) {
        /* the reason goes to the error log, not to the public */
        t->status = NGX_HTTP_SERVICE_UNAVAILABLE;
        t->retry_after = 5;
        rag_buf_printf(b, "{\"status\":\"degraded\",\"version\":\""
                       NGX_RAG_VERSION "\",\"database\":\"%s\"}",
                       t->db_down ? "down" : "error");
        return;
    }

    t->status = NGX_HTTP_OK;
    rag_buf_printf(b, "{\"status\":\"ok\",\"version\":\"" NGX_RAG_VERSION
                   "\",\"database\":\"ok\",\"index_generation\":%s,"
                   "\"collections\":%s",
                   PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    PQclear(res);

    res = ngx_rag_pg_exec(t, "SELECT name, index_generation FROM collections"
                             " ORDER BY name LIMIT 100",
                          0, NULL, NGX_RAG_PG_IDEMPOTENT);
    if (res != NULL) {
        rag_buf_puts(b, ",\"indexes\":{");
        n = PQntuples(res);
        for (i = 0; i < n; i++) {
            if (i) {
                rag_buf_putc(b, ',');
            }
            rag_buf_json_str(b, PQgetvalue(res, i, 0),
                             (size_t) PQgetlength(res, i, 0));
            rag_buf_printf(b, ":%s", PQgetvalue(res, i, 1));
        }
        rag_buf_putc(b, '}');
        PQclear(res);
    }

    rag_buf_putc(b, '}');
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
