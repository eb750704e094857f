/*
 * Thread-pool tasks bound to a request, in the manner of nginx's own
 * threaded file I/O (ngx_http_copy_filter_module): the request is marked
 * blocked while the task runs, so a client that goes away cannot free
 * the pool under the thread.
 */

#include "ngx_rag_module.h"

#include <stdlib.h>
#include <string.h>


typedef struct {
    ngx_rag_task_t  *task;
} ngx_rag_thread_ctx_t;


static void ngx_rag_task_thread(void *data, ngx_log_t *log);
static void ngx_rag_task_event(ngx_event_t *ev);
static void ngx_rag_task_finish(ngx_http_request_t *r);
static void ngx_rag_task_cleanup(void *data);


ngx_rag_task_t *
ngx_rag_task_create(ngx_http_request_t *r, ngx_uint_t endpoint,
    ngx_rag_task_run_pt run, size_t data_size)
{
    size_t                 len;
    ngx_rag_task_t        *t;
    ngx_pool_cleanup_t    *cln;
    ngx_rag_main_conf_t   *rmcf;

    rmcf = ngx_http_get_module_main_conf(r, ngx_rag_module);

    t = ngx_pcalloc(r->pool, sizeof(ngx_rag_task_t));
    if (t == NULL) {
        return NULL;
    }

    if (data_size) {
        t->data = ngx_pcalloc(r->pool, data_size);
        if (t->data == NULL) {
            return NULL;
        }
    }

    len = rmcf->database.len;
    t->conninfo = ngx_pnalloc(r->pool, len + 1);
    if (t->conninfo == NULL) {
        return NULL;
    }
    if (len) {
        ngx_memcpy((u_char *) t->conninfo, rmcf->database.data, len);
    }
    ((u_char *) t->conninfo)[len] = '\0';

    t->request = r;
    t->run = run;
    t->endpoint = endpoint;
    t->db_timeout_ms = (long) rmcf->db_timeout;
    t->started = ngx_current_msec;
    t->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
    rag_buf_init(&t->body, 16 * 1024 * 1024);

    /* the body is malloc'd by the thread: free it with the request */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }
    cln->handler = ngx_rag_task_cleanup;
    cln->data = t;

    return t;
}


static void
ngx_rag_task_cleanup(void *data)
{
    ngx_rag_task_t *t = data;

    rag_buf_free(&t->body);
}


ngx_int_t
ngx_rag_task_post(ngx_http_request_t *r, ngx_rag_task_t *t)
{
    ngx_thread_task_t     *task;
    ngx_rag_thread_ctx_t  *ctx;
    ngx_rag_main_conf_t   *rmcf;

    rmcf = ngx_http_get_module_main_conf(r, ngx_rag_module);

    task = ngx_thread_task_alloc(r->pool, sizeof(ngx_rag_thread_ctx_t));
    if (task == NULL) {
        return NGX_ERROR;
    }

    ctx = task->ctx;
    ctx->task = t;

    task->handler = ngx_rag_task_thread;
    task->event.data = r;
    task->event.handler = ngx_rag_task_event;

    if (ngx_thread_task_post(rmcf->thread_pool, task) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_set_ctx(r, t, ngx_rag_module);

    r->main->blocked++;
    r->aio = 1;
    r->write_event_handler = ngx_rag_task_finish;

    return NGX_OK;
}


ngx_int_t
ngx_rag_task_start(ngx_http_request_t *r, ngx_rag_task_t *t)
{
    if (ngx_rag_task_post(r, t) != NGX_OK) {
        ngx_rag_metrics_observe(r, t->endpoint,
                                NGX_HTTP_SERVICE_UNAVAILABLE);
        return ngx_rag_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "thread pool queue full");
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_rag_task_thread(void *data, ngx_log_t *log)
{
    ngx_rag_thread_ctx_t *ctx = data;

    ngx_rag_log_task_begin(ctx->task);
    ctx->task->run(ctx->task);
    ngx_rag_log_task_end();
    ctx->task->complete = 1;
}


static void
ngx_rag_task_event(ngx_event_t *ev)
{
    ngx_rag_task_t      *t;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ev->data;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    /* what lib/ logged in the thread, even if the client left */
    t = ngx_http_get_module_ctx(r, ngx_rag_module);
    if (t != NULL && t->lib_log_len + t->lib_log_dropped) {
        ngx_rag_log_task_flush(t, c->log);
    }

    r->main->blocked--;
    r->aio = 0;

    /*
     * If the client went away while the task ran, nginx replaced the
     * write handler with ngx_http_request_finalizer; either way the
     * current write handler is the right continuation.
     */

    r->write_event_handler(r);

    ngx_http_run_posted_requests(c);
}


static void
ngx_rag_task_finish(ngx_http_request_t *r)
{
    ngx_int_t        rc;
    ngx_rag_task_t  *t;

    t = ngx_http_get_module_ctx(r, ngx_rag_module);

    if (t == NULL || !t->complete || r->aio) {
        /* a write event while the task still runs: nothing to do yet */
        return;
    }

    r->write_event_handler = ngx_http_request_empty_handler;

    /* what the thread could not log itself (no nginx API there) */
    if (t->db_error[0]) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "rag: database %s: %s",
                      t->db_down ? "unavailable" : "error", t->db_error);

    } else if (t->db_reconnected) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "rag: database connection was closed by the server, "
                      "reconnected");
    }

    if (t->done) {
        rc = t->done(r, t);

    } else {
        rc = ngx_rag_send(r, t->status, t->content_type,
                          (u_char *) t->body.data, t->body.len,
                          t->retry_after);
    }

    ngx_rag_metrics_observe(r, t->endpoint, t->status);

    ngx_http_finalize_request(r, rc);
}


/* ---- results, filled by run() in the thread ----------------------------- */

void
ngx_rag_task_error(ngx_rag_task_t *t, ngx_uint_t status, const char *msg)
{
    rag_buf_reset(&t->body);
    t->status = status;

    if (rag_buf_puts(&t->body, "{\"error\":") != 0
        || rag_buf_json_str(&t->body, msg, strlen(msg)) != 0
        || rag_buf_putc(&t->body, '}') != 0)
    {
        rag_buf_reset(&t->body);
    }
}


void
ngx_rag_task_db_down(ngx_rag_task_t *t)
{
    ngx_rag_task_error(t, NGX_HTTP_SERVICE_UNAVAILABLE,
                       "database unavailable");
    t->retry_after = 5;
}
