/*
 * ngx_rag_module — shared declarations for the ngx_rag nginx modules.
 *
 * Endpoints never block the event loop: anything that touches Postgres,
 * the network or a large index runs as an ngx_rag_task_t on an nginx
 * thread pool. A task's run() executes in a pool thread and may use only
 * plain C (lib/, libpq, libcurl) — never the nginx API or r->pool. It
 * reports through t->status, t->body (malloc'd rag_buf) and
 * t->retry_after; the framework then sends the response on the event
 * loop, or calls t->done() first when the handler wants to shape it.
 *
 * Memory: a task and its data live in r->pool; the request stays alive
 * (r->main->blocked) until the task returns, even if the client left.
 */

#ifndef _NGX_RAG_MODULE_H_INCLUDED_
#define _NGX_RAG_MODULE_H_INCLUDED_

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <libpq-fe.h>

#include "rag_buf.h"

#define NGX_RAG_VERSION "0.1.0"

/* endpoint ids, used as metric labels */
typedef enum {
    NGX_RAG_EP_HEALTH = 0,
    NGX_RAG_EP_SEARCH,
    NGX_RAG_EP_WEBHOOK,
    NGX_RAG_EP_INTERACTIONS,
    NGX_RAG_EP_UPLOAD,
    NGX_RAG_EP_METRICS,
    NGX_RAG_EP_DASHBOARD,
    NGX_RAG_EP_MAX
} ngx_rag_endpoint_e;

typedef struct {
    ngx_str_t             database;       /* libpq conninfo */
    ngx_str_t             thread_pool_name;
    ngx_thread_pool_t    *thread_pool;
    ngx_shm_zone_t       *metrics_zone;
    ngx_msec_t            db_timeout;     /* statement + connect timeout */
} ngx_rag_main_conf_t;

typedef struct {
    ngx_str_t             event_secret;   /* rag_event_secret */
    ngx_str_t             event_secret_header;
    size_t                max_body;       /* rag_max_body */
    ngx_str_t             upload_token;   /* rag_upload_token */
    ngx_flag_t            upload_create;  /* rag_upload_create_collections */
    u_char               *discord_key;    /* 32-byte Ed25519 public key */
    ngx_str_t             dashboard_token;
    ngx_str_t             index_dir;      /* rag_index_dir */
    time_t                dashboard_session;  /* session lifetime, s */
} ngx_rag_loc_conf_t;

typedef struct ngx_rag_task_s  ngx_rag_task_t;

typedef void (*ngx_rag_task_run_pt)(ngx_rag_task_t *t);
typedef ngx_int_t (*ngx_rag_task_done_pt)(ngx_http_request_t *r,
    ngx_rag_task_t *t);

struct ngx_rag_task_s {
    ngx_http_request_t   *request;
    ngx_rag_task_run_pt   run;         /* thread side */
    ngx_rag_task_done_pt  done;        /* event loop; NULL: send body */
    void                 *data;        /* handler's own, r->pool */
    const char           *conninfo;    /* NUL-terminated copy */
    long                  db_timeout_ms;
    ngx_uint_t            endpoint;    /* ngx_rag_endpoint_e */
    ngx_msec_t            started;

    /* results, written by run() */
    ngx_uint_t            status;
    rag_buf               body;        /* JSON (or text) response */
    const char           *content_type;/* static string; NULL = JSON */
    ngx_uint_t            retry_after; /* seconds, 0 = no header */

    /* database trouble, set by the thread: logged at NGX_LOG_ERR on the
     * request's log by the event loop, never sent to the client */
    char                  db_error[512];
    unsigned              db_down:1;        /* unreachable, not an SQL
                                               error */
    unsigned              db_reconnected:1; /* a lost connection replaced */

    /* lib/'s log lines while run() ran (ngx_rag_log.c): written on the
     * request's log by the event loop */
    char                  lib_log[1024];
    size_t                lib_log_len;
    ngx_uint_t            lib_log_dropped;

    /* set by the thread when run() returned; read on the event loop only
     * after the pool's completion event, which orders the two */
    ngx_uint_t            complete;
};

extern ngx_module_t  ngx_rag_module;

/* ngx_rag_task.c */
ngx_rag_task_t *ngx_rag_task_create(ngx_http_request_t *r,
    ngx_uint_t endpoint, ngx_rag_task_run_pt run, size_t data_size);
/* Posts t; NGX_OK, or NGX_ERROR when the queue is full (send 503). */
ngx_int_t ngx_rag_task_post(ngx_http_request_t *r, ngx_rag_task_t *t);
/* From a content handler: posts t and returns NGX_DONE (the task's
 * completion finalizes), or answers 503 when the queue is full. */
ngx_int_t ngx_rag_task_start(ngx_http_request_t *r, ngx_rag_task_t *t);
/* Thread side: t->status = status, body = {"error":msg}. */
void ngx_rag_task_error(ngx_rag_task_t *t, ngx_uint_t status,
    const char *msg);
/* Thread side: 503 {"error":"database unavailable"} + Retry-After. */
void ngx_rag_task_db_down(ngx_rag_task_t *t);

/*
 * ngx_rag_pg.c — thread side only; one connection per pool thread.
 *
 * ngx_rag_pg_conn: this thread's connection to t->conninfo, made on
 * first use; one the server closed while it sat idle (a restart, an idle
 * timeout) is replaced before use. NULL when the database cannot be
 * reached, with t->db_error and t->db_down set.
 *
 * ngx_rag_pg_call: runs call(db, arg) — a few calls into lib/'s stores
 * (rag_store_*.h), which return NGX_OK or NGX_ERROR — on that
 * connection. If the connection is lost meanwhile, it reconnects and
 * runs the call once more when flags has NGX_RAG_PG_IDEMPOTENT (running
 * it twice has the effect of running it once; a call that opened a
 * transaction and failed is rolled back first). NGX_ERROR leaves
 * t->db_error set (the server's message and SQLSTATE), and t->db_down
 * when the database is unreachable rather than refusing a statement.
 *
 * ngx_rag_task_call: the same, and on failure fills t with 503
 * "database unavailable" (+ Retry-After) or 500 fail_msg.
 */
#define NGX_RAG_PG_IDEMPOTENT  0x01

typedef ngx_int_t (*ngx_rag_pg_call_pt)(PGconn *db, void *arg);

PGconn *ngx_rag_pg_conn(ngx_rag_task_t *t);
ngx_int_t ngx_rag_pg_call(ngx_rag_task_t *t, ngx_rag_pg_call_pt call,
    void *arg, ngx_uint_t flags);
ngx_int_t ngx_rag_task_call(ngx_rag_task_t *t, ngx_rag_pg_call_pt call,
    void *arg, ngx_uint_t flags, const char *fail_msg);
/* Drops this thread's connection (the next call reconnects). */
void ngx_rag_pg_discard(void);
/* Records msg as t->db_error (one line), down: the database is
 * unreachable. */
void ngx_rag_pg_error(ngx_rag_task_t *t, ngx_uint_t down, const char *msg);

/*
 * ngx_rag_log.c — lib/'s rag_log() lines into nginx's error log.
 * init_process installs the sink (and forbids lib/ to sleep); a pool
 * thread brackets a task's run() with begin/end so its lines are kept in
 * the task, and the event loop writes them with flush.
 */
ngx_int_t ngx_rag_log_init_process(ngx_cycle_t *cycle);
void ngx_rag_log_task_begin(ngx_rag_task_t *t);
void ngx_rag_log_task_end(void);
void ngx_rag_log_task_flush(ngx_rag_task_t *t, ngx_log_t *log);

/* ngx_rag_util.c — event loop side. */
ngx_int_t ngx_rag_send(ngx_http_request_t *r, ngx_uint_t status,
    const char *content_type, u_char *body, size_t len,
    ngx_uint_t retry_after);
ngx_int_t ngx_rag_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message);
/* Copies the request body into one NUL-terminated pool buffer. */
ngx_int_t ngx_rag_body(ngx_http_request_t *r, ngx_str_t *out);
/* In a body handler: the body (as ngx_rag_body) within rag_max_body.
 * NGX_OK, or NGX_DONE when the request was answered (413) or finalized
 * (500): the handler returns at once. */
ngx_int_t ngx_rag_body_bounded(ngx_http_request_t *r, ngx_uint_t endpoint,
    ngx_str_t *body);
/* Checks method/content type/length before reading a body; returns
 * NGX_OK or an HTTP status to finalize with (error already sent). */
ngx_int_t ngx_rag_check_json_post(ngx_http_request_t *r, size_t max_body);
/* Sends a JSON error for a request refused before its body was read
 * (405/415/413/401/403), discarding the body; returns the handler rc. */
ngx_int_t ngx_rag_refuse(ngx_http_request_t *r, ngx_uint_t endpoint,
    ngx_int_t status);
/* 405 with the Allow header ("GET, HEAD", "POST", ...), as
 * ngx_rag_refuse. */
ngx_int_t ngx_rag_not_allowed(ngx_http_request_t *r, ngx_uint_t endpoint,
    const char *allow);
/* The tail of every POST JSON handler: rc is NGX_OK or the refusal the
 * handler decided from the headers (ngx_rag_check_json_post, then auth);
 * refuses, or reads the body and runs post_handler. Returns the
 * handler's return value. */
ngx_int_t ngx_rag_read_json(ngx_http_request_t *r, ngx_uint_t endpoint,
    ngx_int_t rc, ngx_http_client_body_handler_pt post_handler);
/* A NUL-terminated copy of len bytes of s in pool (thread tasks take C
 * strings); NULL when out of memory. */
char *ngx_rag_pstrndup(ngx_pool_t *pool, const void *s, size_t len);
/* Decodes an application/x-www-form-urlencoded value ('+' is a space,
 * %XX escapes) into a NUL-terminated pool copy. */
ngx_int_t ngx_rag_form_decode(ngx_pool_t *pool, ngx_str_t *raw,
    ngx_str_t *out);
/* Field name of a urlencoded form (a POST body, or r->args), decoded:
 * NGX_OK, NGX_DECLINED when absent, NGX_ERROR. */
ngx_int_t ngx_rag_form_arg(ngx_pool_t *pool, ngx_str_t *form,
    const char *name, ngx_str_t *out);
/* Constant-time equality of two secrets of any length. */
ngx_int_t ngx_rag_secret_eq(const u_char *a, size_t alen, const u_char *b,
    size_t blen);
/* Value of request header name (case-insensitive) or NULL. */
ngx_table_elt_t *ngx_rag_header(ngx_http_request_t *r, const char *name);
/* Bearer token from Authorization, or an empty string. */
ngx_str_t ngx_rag_bearer(ngx_http_request_t *r);

/* ngx_rag_metrics.c — event loop; depends on nothing else here. */
ngx_int_t ngx_rag_metrics_init_conf(ngx_conf_t *cf,
    ngx_rag_main_conf_t *rmcf);
void ngx_rag_metrics_observe(ngx_http_request_t *r, ngx_uint_t endpoint,
    ngx_uint_t status);
void ngx_rag_metrics_set_generation(ngx_http_request_t *r, uint64_t gen);
/* Appends the counters of every worker as Prometheus text to b. */
void ngx_rag_metrics_render(ngx_http_request_t *r, rag_buf *b);

/* content handlers, one per directive */
ngx_int_t ngx_rag_health_handler(ngx_http_request_t *r);
ngx_int_t ngx_rag_webhook_handler(ngx_http_request_t *r);
ngx_int_t ngx_rag_interactions_handler(ngx_http_request_t *r);
ngx_int_t ngx_rag_upload_handler(ngx_http_request_t *r);
ngx_int_t ngx_rag_metrics_handler(ngx_http_request_t *r);

#endif /* _NGX_RAG_MODULE_H_INCLUDED_ */
