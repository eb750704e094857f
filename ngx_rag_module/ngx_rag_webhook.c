/*
 * POST — Hasura-compatible event trigger webhook for the messages table.
 *
 * Checks the shared secret header in constant time (401), parses and
 * validates the event envelope on the event loop (bounded body,
 * lib/rag_event.c), then
 * enqueues one 'answer' job on the thread pool. The job's dedupe key is
 * the message's, the same one the SQL trigger uses, so redelivered events
 * (Hasura is at-least-once) and the trigger together still make one job.
 * 503 + Retry-After when Postgres is down tells Hasura to retry later.
 */

#include "ngx_rag_module.h"

#include "rag_event.h"
#include "rag_store_jobs.h"


typedef struct {
    char  *event_id;
    char  *thread_id;
    char  *message_id;
} ngx_rag_webhook_ctx_t;


static void ngx_rag_webhook_body(ngx_http_request_t *r);
static void ngx_rag_webhook_run(ngx_rag_task_t *t);


ngx_int_t
ngx_rag_webhook_handler(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    ngx_table_elt_t     *h;
    ngx_rag_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rag_module);

    rc = ngx_rag_check_json_post(r, rlcf->max_body);

    if (rc == NGX_OK && rlcf->event_secret.len == 0) {
        /* refuse rather than run open: a missing secret is a misconfig */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "rag_event_webhook without rag_event_secret");
        rc = NGX_HTTP_FORBIDDEN;
    }

    if (rc == NGX_OK) {
        h = ngx_rag_header(r, (char *) rlcf->event_secret_header.data);

        if (h == NULL
            || !ngx_rag_secret_eq(h->value.data, h->value.len,
                                  rlcf->event_secret.data,
                                  rlcf->event_secret.len))
        {
            rc = NGX_HTTP_UNAUTHORIZED;
        }
    }

    return ngx_rag_read_json(r, NGX_RAG_EP_WEBHOOK, rc, ngx_rag_webhook_body);
}


static void
ngx_rag_webhook_finish(ngx_http_request_t *r, ngx_uint_t status,
    const char *msg)
{
    ngx_rag_metrics_observe(r, NGX_RAG_EP_WEBHOOK, status);
    ngx_http_finalize_request(r, ngx_rag_send_error(r, status, msg));
}


static void
ngx_rag_webhook_body(ngx_http_request_t *r)
{
    rag_buf                 ack;
    rag_event               ev;
    ngx_str_t               body;
    ngx_rag_task_t         *t;
    enum rag_event_rc       rc;
    ngx_rag_webhook_ctx_t  *ctx;

    if (ngx_rag_body_bounded(r, NGX_RAG_EP_WEBHOOK, &body) != NGX_OK) {
        return;
    }

    rc = rag_event_parse((const char *) body.data, body.len, &ev);

    if (rc == RAG_EVENT_INVALID) {
        ngx_rag_webhook_finish(r, NGX_HTTP_BAD_REQUEST, ev.reason);
        return;
    }

    if (rc == RAG_EVENT_IGNORE) {
        rag_buf_init(&ack, 256);
        rag_buf_puts(&ack, "{\"enqueued\":false,\"reason\":");
        rag_buf_json_str(&ack, ev.reason, ngx_strlen(ev.reason));
        rag_buf_putc(&ack, '}');

        ngx_rag_metrics_observe(r, NGX_RAG_EP_WEBHOOK, NGX_HTTP_OK);
        ngx_http_finalize_request(r, ngx_rag_send(r, NGX_HTTP_OK, NULL,
                                  (u_char *) ack.data, ack.len, 0));
        rag_buf_free(&ack);
        return;
    }

    t = ngx_rag_task_create(r, NGX_RAG_EP_WEBHOOK, ngx_rag_webhook_run,
                            sizeof(ngx_rag_webhook_ctx_t));
    if (t == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx = t->data;
    ctx->event_id = ngx_rag_pstrndup(r->pool, ev.event_id,
                                     ngx_strlen(ev.event_id));
    ctx->thread_id = ngx_rag_pstrndup(r->pool, ev.thread_id,
                                     ngx_strlen(ev.thread_id));
    ctx->message_id = ngx_rag_pstrndup(r->pool, ev.message_id,
                                     ngx_strlen(ev.message_id));

    if (ctx->event_id == NULL || ctx->thread_id == NULL
        || ctx->message_id == NULL)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_rag_task_post(r, t) != NGX_OK) {
        ngx_rag_webhook_finish(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                               "thread pool queue full");
        return;
    }
}


typedef struct {
    ngx_rag_webhook_ctx_t  *ctx;
    int                     enqueued;
    char                    job_id[32];
} ngx_rag_webhook_call_t;


static ngx_int_t
ngx_rag_webhook_enqueue(PGconn *db, void *arg)
{
    ngx_rag_webhook_call_t  *c = arg;

    /* the same predicate and key as the messages trigger (sql/) */
    c->enqueued = rag_store_jobs_enqueue_answer(db, c->ctx->thread_id,
                                                c->ctx->message_id,
                                                c->ctx->event_id, c->job_id,
                                                sizeof(c->job_id));

    return c->enqueued < 0 ? NGX_ERROR : NGX_OK;
}


static void
ngx_rag_webhook_run(ngx_rag_task_t *t)
{
    ngx_rag_webhook_call_t  c;

    c.ctx = t->data;

    if (ngx_rag_task_call(t, ngx_rag_webhook_enqueue, &c,
                          NGX_RAG_PG_IDEMPOTENT, "enqueue failed")
        != NGX_OK)
    {
        return;
    }

    t->status = NGX_HTTP_OK;

    if (!c.enqueued) {
        rag_buf_puts(&t->body, "{\"enqueued\":false,\"reason\":"
                     "\"message not found or needs no answer\"}");
    } else {
        rag_buf_printf(&t->body, "{\"enqueued\":true,\"job_id\":%s}",
                       c.job_id);
    }
}
