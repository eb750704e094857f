/*
 * ngx_rag_search_module — GET /search?q=&collection=&k=&mode= and POST
 * {"query","collection","k","mode"}: hybrid retrieval over the collection's
 * mmap'd index file (lib/rag_search, through the worker's index manager,
 * ngx_rag_index.h), optionally with a query embedding from an
 * OpenAI-compatible endpoint, fetched by a subrequest and cached in shared
 * memory (ngx_rag_embed.h).
 *
 *   rag_search;                      content handler of the location
 *   rag_embed_pass URI;              internal location proxying to the
 *                                    endpoint's /v1/embeddings (off when
 *                                    unset)
 *   rag_embed_key KEY;  rag_embed_model NAME;
 *   rag_embed_cache SIZE;            (http) shared cache of recent query
 *                                    vectors (off when unset)
 *   rag_search_debug_delay TIME;     tests only: sleep in the pool thread
 *
 *   rag_search_inline_max SIZE;      vector elements a search may scan
 *                                    on the event loop (default 128k; 0:
 *                                    every search on the thread pool)
 *
 * (rag_index_dir and rag_max_body belong to ngx_rag_module: other
 * endpoints use them too.) A search over an index this worker has
 * already mapped is pure computation taking microseconds (BM25 with
 * pruning, ten bounded snippets): it runs right on the event loop, with
 * no thread hand-off. The thread pool keeps what can block or take long:
 * opening (and validating) an index file, the first time or a new
 * generation, and searches whose semantic legs would scan more than
 * rag_search_inline_max vector elements (the in-process fastText leg
 * and an endpoint's vectors are exact scans, linear in the chunks).
 */

#include "ngx_rag_module.h"

#include "ngx_rag_index.h"
#include "ngx_rag_embed.h"

#include "rag_ft.h"
#include "rag_index.h"
#include "rag_search.h"

#include <yajl/yajl_tree.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NGX_RAG_SEARCH_MAX_QUERY   4096      /* bytes of query text */
#define NGX_RAG_SEARCH_DEFAULT_K   10
#define NGX_RAG_SEARCH_SNIPPET     240
#define NGX_RAG_SEARCH_MAX_RESPONSE  (16 * 1024 * 1024)
/* vector elements the semantic legs may scan on the event loop: the
 * fastText leg costs ~0.2 ns an element here (168 us a query over the
 * PostgreSQL manual's 8,237 x 100), against a pool hand-off of ~10-20
 * us; 128k elements (~25 us) keeps a loop stall near the hand-off's
 * cost, and bigger legs go to the pool */
#define NGX_RAG_SEARCH_INLINE_MAX  (128 * 1024)
/* the event loop's response buffer keeps its storage up to this size
 * between requests (a k=10 answer is ~5 KB) */
#define NGX_RAG_SEARCH_KEEP_OUT    (64 * 1024)


typedef struct {
    ngx_rag_embed_conf_t  embed;
    ngx_str_t             embed_url;  /* obsolete: refused */
    ngx_msec_t   debug_delay;
    size_t       inline_max;
} ngx_rag_search_loc_conf_t;


typedef enum {
    NGX_RAG_MODE_HYBRID = 0,
    NGX_RAG_MODE_BM25,
    NGX_RAG_MODE_VECTOR
} ngx_rag_mode_e;

static const char *ngx_rag_mode_names[] = { "hybrid", "bm25", "vector" };

/* Searches on the event loop build their JSON here, one at a time: the
 * storage is reused from one request to the next instead of growing a
 * new buffer by doubling each time (ngx_rag_send copies the answer into
 * the request's pool). */
static rag_buf  ngx_rag_search_out = { NULL, 0, 0,
                                       NGX_RAG_SEARCH_MAX_RESPONSE };


typedef struct {
    ngx_rag_index_pin_t *pin;

    char                *query;
    size_t               query_len;
    char                *collection;
    size_t               k;
    ngx_rag_mode_e       mode;
    ngx_rag_embed_conf_t *embed;      /* NULL: no embedding wanted */
    ngx_rag_embed_res_t  emb;
    unsigned             embed_done:1;
    ngx_msec_t           delay;
    size_t               inline_max;
    struct timespec      start;

    /* the query's embedding, when an endpoint is configured (r->pool) */
    float               *qvec;
    uint32_t             qdims;
    const char          *vector_note; /* why there is none, or NULL */
    unsigned             embed_cached:1;

    uint64_t             generation; /* set by whoever searched */
} ngx_rag_search_ctx_t;


static ngx_int_t ngx_rag_search_handler(ngx_http_request_t *r);
static void ngx_rag_search_body(ngx_http_request_t *r);
static ngx_int_t ngx_rag_search_start(ngx_http_request_t *r,
    ngx_str_t *query, ngx_str_t *collection, ngx_int_t k,
    ngx_rag_mode_e mode);
static ngx_int_t ngx_rag_search_go(ngx_http_request_t *r,
    ngx_rag_search_ctx_t *ctx);
static ngx_uint_t ngx_rag_search_long(ngx_rag_search_ctx_t *ctx,
    const rag_index *ix);
static ngx_int_t ngx_rag_search_inline(ngx_http_request_t *r,
    ngx_rag_search_ctx_t *ctx, const rag_index *ix);
static ngx_uint_t ngx_rag_search_exec(ngx_rag_search_ctx_t *ctx,
    const rag_index *ix, rag_buf *b, rag_index_buf *zb, const char **err);
static void ngx_rag_search_run(ngx_rag_task_t *t);
static ngx_int_t ngx_rag_search_done(ngx_http_request_t *r,
    ngx_rag_task_t *t);
static void ngx_rag_search_resume(ngx_http_request_t *r, void *data);
static void *ngx_rag_search_create_loc_conf(ngx_conf_t *cf);
static char *ngx_rag_search_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_rag_search_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_rag_search_embed_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void ngx_rag_search_embedded(ngx_http_request_t *r, void *data,
    ngx_rag_embed_res_t *res);


static ngx_command_t  ngx_rag_search_commands[] = {

    { ngx_string("rag_search"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_rag_search_set,
      0,
      0,
      NULL },

    { ngx_string("rag_embed_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rag_search_loc_conf_t, embed_url),
      NULL },

    { ngx_string("rag_embed_pass"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rag_search_loc_conf_t, embed.pass),
      NULL },

    { ngx_string("rag_embed_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rag_search_loc_conf_t, embed.key),
      NULL },

    { ngx_string("rag_embed_model"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rag_search_loc_conf_t, embed.model),
      NULL },

    { ngx_string("rag_embed_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_rag_search_embed_cache,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("rag_search_inline_max"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rag_search_loc_conf_t, inline_max),
      NULL },

    { ngx_string("rag_search_debug_delay"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rag_search_loc_conf_t, debug_delay),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_rag_search_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */
    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */
    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */
    ngx_rag_search_create_loc_conf,        /* create location configuration */
    ngx_rag_search_merge_loc_conf          /* merge location configuration */
};


ngx_module_t  ngx_rag_search_module = {
    NGX_MODULE_V1,
    &ngx_rag_search_module_ctx,            /* module context */
    ngx_rag_search_commands,               /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_rag_search_create_loc_conf(ngx_conf_t *cf)
{
    ngx_rag_search_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_rag_search_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->debug_delay = NGX_CONF_UNSET_MSEC;
    conf->embed.cache = NGX_CONF_UNSET_PTR;
    conf->inline_max = NGX_CONF_UNSET_SIZE;

    return conf;
}


static char *
ngx_rag_search_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_rag_search_loc_conf_t *prev = parent;
    ngx_rag_search_loc_conf_t *conf = child;

    ngx_conf_merge_str_value(conf->embed_url, prev->embed_url, "");
    ngx_conf_merge_str_value(conf->embed.pass, prev->embed.pass, "");
    ngx_conf_merge_str_value(conf->embed.key, prev->embed.key, "");
    ngx_conf_merge_str_value(conf->embed.model, prev->embed.model,
                             "text-embedding-3-small");
    ngx_conf_merge_ptr_value(conf->embed.cache, prev->embed.cache, NULL);

    if (conf->embed_url.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "rag_embed_url is gone: query embeddings go "
                           "through a subrequest; name an internal "
                           "location that proxies to the endpoint's "
                           "/v1/embeddings with rag_embed_pass");
        return NGX_CONF_ERROR;
    }

    if (conf->embed.pass.len && conf->embed.pass.data[0] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "rag_embed_pass \"%V\" must be a URI "
                           "(an internal location)", &conf->embed.pass);
        return NGX_CONF_ERROR;
    }
    ngx_conf_merge_msec_value(conf->debug_delay, prev->debug_delay, 0);
    ngx_conf_merge_size_value(conf->inline_max, prev->inline_max,
                              NGX_RAG_SEARCH_INLINE_MAX);

    return NGX_CONF_OK;
}


static char *
ngx_rag_search_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler != NULL) {
        return "is duplicate: the location already has a content handler";
    }

    clcf->handler = ngx_rag_search_handler;

    return NGX_CONF_OK;
}


static char *
ngx_rag_search_embed_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_rag_search_loc_conf_t *slcf = conf;

    ssize_t     size;
    ngx_str_t  *value;

    if (slcf->embed.cache != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[1]);
    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        return "must be a size of at least 8 pages (32k)";
    }

    slcf->embed.cache = ngx_rag_embed_cache_zone(cf, (size_t) size,
                                                 &ngx_rag_search_module);
    if (slcf->embed.cache == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* ---- request handling -------------------------------------------------- */

static ngx_int_t
ngx_rag_search_fail(ngx_http_request_t *r, ngx_uint_t status,
    const char *msg)
{
    ngx_rag_metrics_observe(r, NGX_RAG_EP_SEARCH, status);
    return ngx_rag_send_error(r, status, msg);
}


/* Decodes a query-string value ('+' is a space) into a pool copy. */
static ngx_int_t
ngx_rag_search_arg(ngx_http_request_t *r, const char *name, ngx_str_t *out)
{
    ngx_str_t  raw;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &raw) != NGX_OK) {
        return NGX_DECLINED;
    }

    return ngx_rag_form_decode(r->pool, &raw, out);
}


static ngx_int_t
ngx_rag_search_parse_mode(ngx_str_t *s, ngx_rag_mode_e *mode)
{
    ngx_uint_t  i;

    if (s->len == 0) {
        *mode = NGX_RAG_MODE_HYBRID;
        return NGX_OK;
    }

    for (i = 0; i < 3; i++) {
        if (s->len == ngx_strlen(ngx_rag_mode_names[i])
            && ngx_strncmp(s->data, ngx_rag_mode_names[i], s->len) == 0)
        {
            *mode = (ngx_rag_mode_e) i;
            return NGX_OK;
        }
    }

    return NGX_ERROR;
}


static ngx_int_t
ngx_rag_search_parse_k(ngx_str_t *s, ngx_int_t *k)
{
    ngx_int_t  v;

    if (s->len == 0 || s->len > 3) {
        return NGX_ERROR;
    }

    v = ngx_atoi(s->data, s->len);
    if (v < 1 || v > RAG_SEARCH_MAX_K) {
        return NGX_ERROR;
    }

    *k = v;
    return NGX_OK;
}


static ngx_int_t
ngx_rag_search_handler(ngx_http_request_t *r)
{
    ngx_int_t            rc, k;
    ngx_str_t            q, coll, ks, ms;
    ngx_rag_mode_e       mode;
    ngx_rag_loc_conf_t  *rlcf;

    if (r->method == NGX_HTTP_POST) {
        /* rag_max_body, as for every endpoint of the module */
        rlcf = ngx_http_get_module_loc_conf(r, ngx_rag_module);
        rc = ngx_rag_check_json_post(r, rlcf->max_body);

        return ngx_rag_read_json(r, NGX_RAG_EP_SEARCH, rc,
                                 ngx_rag_search_body);
    }

    if (r->method != NGX_HTTP_GET && r->method != NGX_HTTP_HEAD) {
        return ngx_rag_not_allowed(r, NGX_RAG_EP_SEARCH, "GET, HEAD, POST");
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_str_null(&q);
    ngx_str_null(&coll);
    ngx_str_null(&ks);
    ngx_str_null(&ms);

    if (ngx_rag_search_arg(r, "q", &q) == NGX_ERROR
        || ngx_rag_search_arg(r, "collection", &coll) == NGX_ERROR
        || ngx_rag_search_arg(r, "k", &ks) == NGX_ERROR
        || ngx_rag_search_arg(r, "mode", &ms) == NGX_ERROR)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    k = NGX_RAG_SEARCH_DEFAULT_K;
    if (ks.data != NULL && ngx_rag_search_parse_k(&ks, &k) != NGX_OK) {
        return ngx_rag_search_fail(r, NGX_HTTP_BAD_REQUEST,
                                   "k must be an integer from 1 to 100");
    }

    if (ngx_rag_search_parse_mode(&ms, &mode) != NGX_OK) {
        return ngx_rag_search_fail(r, NGX_HTTP_BAD_REQUEST,
                                   "mode must be hybrid, bm25 or vector");
    }

    rc = ngx_rag_search_start(r, &q, &coll, k, mode);
    if (rc == NGX_DONE) {
        /* the task's completion finalizes the request */
        r->main->count++;
    }

    return rc;
}


static void
ngx_rag_search_body(ngx_http_request_t *r)
{
    char            errbuf[128];
    ngx_int_t       k, rc;
    ngx_str_t       body, q, coll, ms;
    yajl_val        root, v;
    ngx_rag_mode_e  mode;

    static const char *p_query[] = { "query", NULL };
    static const char *p_q[] = { "q", NULL };
    static const char *p_coll[] = { "collection", NULL };
    static const char *p_k[] = { "k", NULL };
    static const char *p_limit[] = { "limit", NULL };
    static const char *p_mode[] = { "mode", NULL };

    if (ngx_rag_body_bounded(r, NGX_RAG_EP_SEARCH, &body) != NGX_OK) {
        return;
    }

    if (ngx_strlen(body.data) != body.len) {
        ngx_http_finalize_request(r,
            ngx_rag_search_fail(r, NGX_HTTP_BAD_REQUEST,
                                "malformed JSON: NUL byte"));
        return;
    }

    root = yajl_tree_parse((const char *) body.data, errbuf, sizeof(errbuf));
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        ngx_http_finalize_request(r,
            ngx_rag_search_fail(r, NGX_HTTP_BAD_REQUEST,
                                "malformed JSON: expected an object"));
        return;
    }

    ngx_str_null(&q);
    ngx_str_null(&coll);
    ngx_str_null(&ms);
    k = NGX_RAG_SEARCH_DEFAULT_K;
    mode = NGX_RAG_MODE_HYBRID;

    v = yajl_tree_get(root, p_query, yajl_t_any);
    if (v == NULL) {
        v = yajl_tree_get(root, p_q, yajl_t_any);
    }
    if (v != NULL && !YAJL_IS_STRING(v)) {
        goto bad_type;
    }
    if (v != NULL) {
        q.data = (u_char *) YAJL_GET_STRING(v);
        q.len = ngx_strlen(q.data);
    }

    v = yajl_tree_get(root, p_coll, yajl_t_any);
    if (v != NULL && !YAJL_IS_STRING(v)) {
        goto bad_type;
    }
    if (v != NULL) {
        coll.data = (u_char *) YAJL_GET_STRING(v);
        coll.len = ngx_strlen(coll.data);
    }

    v = yajl_tree_get(root, p_k, yajl_t_any);
    if (v == NULL) {
        v = yajl_tree_get(root, p_limit, yajl_t_any);
    }
    if (v != NULL) {
        if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 1
            || YAJL_GET_INTEGER(v) > RAG_SEARCH_MAX_K)
        {
            yajl_tree_free(root);
            ngx_http_finalize_request(r,
                ngx_rag_search_fail(r, NGX_HTTP_BAD_REQUEST,
                                    "k must be an integer from 1 to 100"));
            return;
        }
        k = (ngx_int_t) YAJL_GET_INTEGER(v);
    }

    v = yajl_tree_get(root, p_mode, yajl_t_any);
    if (v != NULL) {
        if (!YAJL_IS_STRING(v)) {
            goto bad_type;
        }
        ms.data = (u_char *) YAJL_GET_STRING(v);
        ms.len = ngx_strlen(ms.data);
        if (ngx_rag_search_parse_mode(&ms, &mode) != NGX_OK) {
            yajl_tree_free(root);
            ngx_http_finalize_request(r,
                ngx_rag_search_fail(r, NGX_HTTP_BAD_REQUEST,
                                    "mode must be hybrid, bm25 or vector"));
            return;
        }
    }

    /* start copies what it keeps into the pool; when the task was
     * posted, its completion finalizes (with the count taken by the body
     * read) */
    rc = ngx_rag_search_start(r, &q, &coll, k, mode);
    yajl_tree_free(root);
    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
    return;

bad_type:

    yajl_tree_free(root);
    ngx_http_finalize_request(r,
        ngx_rag_search_fail(r, NGX_HTTP_BAD_REQUEST,
                            "query, collection and mode must be strings"));
}


static ngx_int_t
ngx_rag_search_start(ngx_http_request_t *r, ngx_str_t *query,
    ngx_str_t *collection, ngx_int_t k, ngx_rag_mode_e mode)
{
    ngx_int_t                   rc;
    ngx_rag_search_ctx_t       *ctx;
    ngx_rag_search_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_rag_search_module);

    if (query->data == NULL || query->len == 0) {
        return ngx_rag_search_fail(r, NGX_HTTP_BAD_REQUEST,
                                   "missing query (q)");
    }

    if (query->len > NGX_RAG_SEARCH_MAX_QUERY) {
        return ngx_rag_search_fail(r, NGX_HTTP_BAD_REQUEST,
                                   "query too long (max 4096 bytes)");
    }

    if (collection->data == NULL || collection->len == 0) {
        return ngx_rag_search_fail(r, NGX_HTTP_BAD_REQUEST,
                                   "missing collection");
    }

    if (!ngx_rag_index_name_ok(collection)) {
        return ngx_rag_search_fail(r, NGX_HTTP_BAD_REQUEST,
                                   "bad collection name");
    }

    if (mode == NGX_RAG_MODE_VECTOR && slcf->embed.pass.len == 0)
    {
        return ngx_rag_search_fail(r, NGX_HTTP_BAD_REQUEST,
                                   "mode=vector needs rag_embed_pass");
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_rag_search_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_rag_index_pin(r, collection, &ctx->pin);

    switch (rc) {
    case NGX_OK:
    case NGX_AGAIN:
        break;
    case NGX_DECLINED:
        return ngx_rag_search_fail(r, NGX_HTTP_NOT_FOUND,
                                   "unknown collection");
    case NGX_ABORT:
        return ngx_rag_search_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   "collection index unavailable");
    case NGX_BUSY:
        return ngx_rag_search_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   "too many collections");
    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->query = ngx_rag_pstrndup(r->pool, query->data, query->len);
    ctx->collection = ngx_rag_pstrndup(r->pool, collection->data,
                                             collection->len);
    if (ctx->query == NULL || ctx->collection == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->query_len = query->len;
    ctx->k = (size_t) k;
    ctx->mode = mode;
    ctx->delay = slcf->debug_delay;
    ctx->inline_max = slcf->inline_max;
    clock_gettime(CLOCK_MONOTONIC, &ctx->start);

    if (slcf->embed.pass.len && mode != NGX_RAG_MODE_BM25) {
        ctx->embed = &slcf->embed;
    }

    if (rc == NGX_AGAIN) {
        /* the first load of this index is running: wait for it */
        if (ngx_rag_index_wait(r, ctx->pin, ngx_rag_search_resume, ctx)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return NGX_DONE;
    }

    return ngx_rag_search_go(r, ctx);
}


/*
 * Event loop, the index pinned: search right here when the index is
 * mapped already and the search is short, else hand it to the pool.
 * Returns the response's rc, or NGX_DONE (the task finalizes).
 */
static ngx_int_t
ngx_rag_search_go(ngx_http_request_t *r, ngx_rag_search_ctx_t *ctx)
{
    ngx_int_t         rc;
    ngx_str_t         q;
    ngx_rag_task_t   *t;
    const rag_index  *ix;

    ix = ngx_rag_index_ready(ctx->pin);

    if (ctx->embed != NULL && !ctx->embed_done) {
        /* the query's vector first: from the cache, or a subrequest
         * (no thread waits for it); skipped for an index without
         * vectors */
        ctx->embed_done = 1;

        if (ix == NULL || rag_index_dims(ix) > 0) {
            q.data = (u_char *) ctx->query;
            q.len = ctx->query_len;

            rc = ngx_rag_embed_query(r, ctx->embed, &q,
                                     ngx_rag_search_embedded, ctx,
                                     &ctx->emb);
            if (rc == NGX_DONE) {
                return NGX_DONE;
            }
            if (rc != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ngx_rag_search_embedded(NULL, ctx, &ctx->emb);
        }
    }

    if (ix != NULL && ctx->delay == 0 && !ngx_rag_search_long(ctx, ix)) {
        return ngx_rag_search_inline(r, ctx, ix);
    }

    t = ngx_rag_task_create(r, NGX_RAG_EP_SEARCH, ngx_rag_search_run, 0);
    if (t == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t->data = ctx;
    t->done = ngx_rag_search_done;

    if (ngx_rag_task_post(r, t) != NGX_OK) {
        /* the cleanup releases the reference and the load claim */
        return ngx_rag_search_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   "search queue full");
    }

    return NGX_DONE;
}


/* The query's embedding arrived (r == NULL: at once, from the cache or
 * as a failure note; else on the event loop after the subrequest: go on
 * with the search and answer). */
static void
ngx_rag_search_embedded(ngx_http_request_t *r, void *data,
    ngx_rag_embed_res_t *res)
{
    ngx_int_t              rc;
    ngx_rag_search_ctx_t  *ctx = data;

    ctx->qvec = res->vec;
    ctx->qdims = res->dims;
    ctx->vector_note = res->vec ? NULL : res->note;
    ctx->embed_cached = res->cached;

    if (r == NULL) {
        return;
    }

    rc = ngx_rag_search_go(r, ctx);
    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


/* Would the search's semantic legs scan more than rag_search_inline_max
 * vector elements? (BM25 with pruning and the snippets are short.) */
static ngx_uint_t
ngx_rag_search_long(ngx_rag_search_ctx_t *ctx, const rag_index *ix)
{
    uint32_t             lists, probe;
    uint64_t             work, n;
    const rag_ft_model  *ftm;

    if (ctx->inline_max == 0) {
        return 1;
    }

    if (ctx->mode == NGX_RAG_MODE_BM25) {
        return 0;
    }

    work = 0;
    n = rag_index_count(ix);

    if (ctx->qvec != NULL) {
        /* the endpoint's vectors: every one, or the probed lists' */
        work = n * rag_index_dims(ix);
        lists = rag_index_vec_lists(ix, &probe);
        if (lists > 0 && probe < lists) {
            work = work * probe / lists;
        }

    } else {
        /* hybrid without an endpoint vector: the in-process leg */
        ftm = rag_index_ft_model(ix);
        if (ftm != NULL) {
            work = n * ftm->dim;
        }
    }

    return work > ctx->inline_max;
}


/* Event loop: search the mapped index and answer. */
static ngx_int_t
ngx_rag_search_inline(ngx_http_request_t *r, ngx_rag_search_ctx_t *ctx,
    const rag_index *ix)
{
    ngx_int_t    rc;
    ngx_uint_t   status;
    rag_buf     *b = &ngx_rag_search_out;
    const char  *err = NULL;

    status = ngx_rag_search_exec(ctx, ix, b, ngx_rag_index_loop_scratch(),
                                 &err);

    if (ctx->generation) {
        ngx_rag_metrics_set_generation(r, ctx->generation);
    }

    ngx_rag_index_unpin(ctx->pin);

    if (err != NULL) {
        rc = ngx_rag_search_fail(r, status, err);

    } else {
        ngx_rag_metrics_observe(r, NGX_RAG_EP_SEARCH, status);
        rc = ngx_rag_send(r, status, NULL, (u_char *) b->data, b->len, 0);
    }

    if (b->cap > NGX_RAG_SEARCH_KEEP_OUT) {
        rag_buf_free(b);

    } else {
        rag_buf_reset(b);
    }

    return rc;
}


/* ---- the search itself (event loop or pool thread) ---------------------- */

/* The JSON response for hits into b. */
static ngx_int_t
ngx_rag_search_json(ngx_rag_search_ctx_t *ctx, const rag_index *ix,
    const rag_hit *hits, int n, const char *vector_note, rag_buf *b,
    rag_index_buf *zb)
{
    int                 i;
    char                snip[NGX_RAG_SEARCH_SNIPPET + 1];
    double              ms;
    rag_str             body;
    rag_index_chunk     c;
    struct timespec     now;
    rag_snippet_query   sq;

    rag_buf_reset(b);

    /* the query's terms once, for every snippet */
    rag_snippet_query_init(&sq, ctx->query, ctx->query_len);

    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (double) (now.tv_sec - ctx->start.tv_sec) * 1e3
         + (double) (now.tv_nsec - ctx->start.tv_nsec) / 1e6;

    rag_buf_puts(b, "{\"query\":");
    rag_buf_json_str(b, ctx->query, ctx->query_len);
    rag_buf_puts(b, ",\"collection\":");
    rag_buf_json_str(b, ctx->collection, strlen(ctx->collection));
    rag_buf_printf(b, ",\"generation\":%llu,\"mode\":\"%s\",\"took_ms\":%.3f",
                   (unsigned long long) rag_index_generation(ix),
                   ngx_rag_mode_names[ctx->mode], ms);
    if (vector_note) {
        rag_buf_puts(b, ",\"vector\":");
        rag_buf_json_str(b, vector_note, strlen(vector_note));
    }
    if (ctx->embed != NULL && ctx->qvec != NULL) {
        rag_buf_printf(b, ",\"embedding\":\"%s\"",
                       ctx->embed_cached ? "cached" : "endpoint");
    }
    rag_buf_puts(b, ",\"results\":[");

    for (i = 0; i < n; i++) {
        if (rag_index_chunk_get(ix, hits[i].rec, &c) != 0) {
            continue;
        }
        if (rag_index_chunk_body(ix, hits[i].rec, zb, &body) != 0) {
            body.p = NULL;
            body.len = 0;
        }
        rag_snippet_make(&sq, body.p, body.len, snip, sizeof(snip));

        rag_buf_printf(b, "%s{\"rank\":%d,\"chunk_id\":%lld,\"url\":",
                       i ? "," : "", i + 1, (long long) c.chunk_id);
        rag_buf_json_str(b, c.url.p, c.url.len);
        rag_buf_puts(b, ",\"title\":");
        rag_buf_json_str(b, c.title.p, c.title.len);
        rag_buf_puts(b, ",\"heading_path\":");
        rag_buf_json_str(b, c.heading_path.p, c.heading_path.len);
        /* (rag_buf_put_g6: "%.6g" without printf's cost) */
        rag_buf_puts(b, ",\"score\":");
        rag_buf_put_g6(b, hits[i].score);
        rag_buf_puts(b, ",\"bm25\":");
        rag_buf_put_g6(b, hits[i].bm25);
        rag_buf_puts(b, ",\"cosine\":");
        rag_buf_put_g6(b, hits[i].cosine);
        rag_buf_puts(b, ",\"snippet\":");
        rag_buf_json_str(b, snip, strlen(snip));
        rag_buf_putc(b, '}');
    }

    return rag_buf_puts(b, "]}") == 0 ? NGX_OK : NGX_ERROR;
}


/*
 * Searches ix and writes the JSON answer into b. Returns the HTTP
 * status; on failure *err says why (b is then unused). Pure
 * computation on the mapped index: no I/O, no locks.
 */
static ngx_uint_t
ngx_rag_search_exec(ngx_rag_search_ctx_t *ctx, const rag_index *ix,
    rag_buf *b, rag_index_buf *zb, const char **err)
{
    int           n;
    rag_hit       hits[RAG_SEARCH_MAX_K];
    rag_query     q;
    const float  *qvec;
    const char   *note;

    ctx->generation = rag_index_generation(ix);

    qvec = ctx->qvec;
    note = ctx->vector_note;

    if (qvec != NULL && ctx->qdims != rag_index_dims(ix)) {
        qvec = NULL;
        note = rag_index_dims(ix) == 0
               ? "no vectors, lexical only"
               : "embedding size differs from the index, lexical only";

    } else if (qvec == NULL && note == NULL
               && ctx->mode != NGX_RAG_MODE_BM25
               && rag_index_ft_model(ix) == NULL)
    {
        note = "no vectors, lexical only";
    }

    if (ctx->mode == NGX_RAG_MODE_VECTOR && qvec == NULL) {
        *err = note ? note : "no query embedding";
        return NGX_HTTP_BAD_GATEWAY;
    }

    ngx_memzero(&q, sizeof(q));  /* per_page 0: one hit per page first */
    q.text = ctx->query;
    q.text_len = ctx->query_len;
    q.qvec = qvec;
    q.k = ctx->k;
    q.mode = ctx->mode == NGX_RAG_MODE_BM25 ? RAG_SEARCH_BM25
             : ctx->mode == NGX_RAG_MODE_VECTOR ? RAG_SEARCH_VECTOR
             : RAG_SEARCH_HYBRID;

    n = rag_search(ix, &q, hits);

    if (n < 0) {
        *err = "search failed";
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_rag_search_json(ctx, ix, hits, n, note, b, zb) != NGX_OK) {
        *err = "response too large";
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_HTTP_OK;
}


/* ---- thread side -------------------------------------------------------- */

static void
ngx_rag_search_run(ngx_rag_task_t *t)
{
    int                    missing;
    const char            *err = NULL;
    rag_index_buf          zb = { NULL, 0, NULL };
    const rag_index       *ix;
    ngx_rag_search_ctx_t  *ctx = t->data;

    ix = ngx_rag_index_get(ctx->pin, &missing);

    if (ctx->delay) {
        /* tests: a slow search (after the index is opened) */
        usleep((useconds_t) ctx->delay * 1000);
    }

    if (ix == NULL) {
        if (missing) {
            ngx_rag_task_error(t, NGX_HTTP_NOT_FOUND, "unknown collection");
        } else {
            ngx_rag_task_error(t, NGX_HTTP_SERVICE_UNAVAILABLE,
                               "collection index unavailable");
            t->retry_after = 5;
        }
        return;
    }

    t->status = ngx_rag_search_exec(ctx, ix, &t->body, &zb, &err);
    rag_index_buf_free(&zb);
    if (err != NULL) {
        ngx_rag_task_error(t, t->status, err);
    }
}


/* ---- back on the event loop --------------------------------------------- */

static ngx_int_t
ngx_rag_search_done(ngx_http_request_t *r, ngx_rag_task_t *t)
{
    ngx_rag_search_ctx_t  *ctx = t->data;

    if (ctx->generation) {
        ngx_rag_metrics_set_generation(r, ctx->generation);
    }

    /* install a newly opened index now rather than at pool cleanup */
    ngx_rag_index_unpin(ctx->pin);

    return ngx_rag_send(r, t->status, t->content_type,
                        (u_char *) t->body.data, t->body.len,
                        t->retry_after);
}


/* Event loop: the index's first load, which this request waited for,
 * ended; pin again and go on, or answer. */
static void
ngx_rag_search_resume(ngx_http_request_t *r, void *data)
{
    ngx_int_t              rc;
    ngx_str_t              coll;
    ngx_rag_search_ctx_t  *ctx = data;

    coll.data = (u_char *) ctx->collection;
    coll.len = ngx_strlen(ctx->collection);

    rc = ngx_rag_index_pin(r, &coll, &ctx->pin);

    switch (rc) {
    case NGX_OK:
        rc = ngx_rag_search_go(r, ctx);
        if (rc == NGX_DONE) {
            return;
        }
        break;
    case NGX_AGAIN:
        if (ngx_rag_index_wait(r, ctx->pin, ngx_rag_search_resume, ctx)
            == NGX_OK)
        {
            return;
        }
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        break;
    case NGX_DECLINED:
        rc = ngx_rag_search_fail(r, NGX_HTTP_NOT_FOUND,
                                 "unknown collection");
        break;
    case NGX_ABORT:
    case NGX_BUSY:
        rc = ngx_rag_search_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                 "collection index unavailable");
        break;
    default:
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_finalize_request(r, rc);
}
