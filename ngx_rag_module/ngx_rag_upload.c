/*
 * POST /upload_documents — store a batch of documents and enqueue their
 * chunking/embedding as one 'ingest' job; 202 with the job id.
 *
 * Body: {"collection":"docs","documents":[{"url","title","body","tags"}]}
 * (the original's single {"collection","document":{uid,body,source,url,
 * tags}} shape is accepted too; its uid is ignored — documents are keyed
 * by URL, so a re-upload updates in place instead of overwriting by
 * position). Protected by a bearer token compared in constant time.
 * Shape is validated here; Postgres does the upsert in one statement.
 * The collection must exist (404 naming it) unless the location has
 * rag_upload_create_collections on.
 */

#include "ngx_rag_module.h"

#include "rag_collection.h"
#include "rag_db.h"
#include "rag_store_collections.h"
#include "rag_store_documents.h"
#include "rag_store_jobs.h"

#include <yajl/yajl_tree.h>


#define NGX_RAG_UPLOAD_MAX_DOCS   1000
#define NGX_RAG_UPLOAD_MAX_URL    2048
#define NGX_RAG_UPLOAD_DUPS_LISTED 20     /* repeated URLs named back */


typedef struct {
    char        *collection;
    char        *body;
    ngx_flag_t   create;     /* rag_upload_create_collections */
} ngx_rag_upload_ctx_t;


static void ngx_rag_upload_body(ngx_http_request_t *r);
static void ngx_rag_upload_run(ngx_rag_task_t *t);


ngx_int_t
ngx_rag_upload_handler(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    ngx_str_t            tok;
    ngx_rag_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rag_module);

    rc = ngx_rag_check_json_post(r, rlcf->max_body);

    if (rc == NGX_OK && rlcf->upload_token.len == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "rag_upload without rag_upload_token");
        rc = NGX_HTTP_FORBIDDEN;
    }

    if (rc == NGX_OK) {
        tok = ngx_rag_bearer(r);

        if (!ngx_rag_secret_eq(tok.data, tok.len, rlcf->upload_token.data,
                               rlcf->upload_token.len))
        {
            rc = NGX_HTTP_UNAUTHORIZED;
        }
    }

    return ngx_rag_read_json(r, NGX_RAG_EP_UPLOAD, rc, ngx_rag_upload_body);
}


static void
ngx_rag_upload_fail(ngx_http_request_t *r, ngx_uint_t status,
    const char *msg)
{
    ngx_rag_metrics_observe(r, NGX_RAG_EP_UPLOAD, status);
    ngx_http_finalize_request(r, ngx_rag_send_error(r, status, msg));
}


/* Returns NULL when doc is a valid document, else what is wrong. */
static const char *
ngx_rag_upload_check_doc(yajl_val doc)
{
    size_t       i;
    yajl_val     url, body, title, tags;
    const char  *u;

    static const char *p_url[] = { "url", NULL };
    static const char *p_body[] = { "body", NULL };
    static const char *p_title[] = { "title", NULL };
    static const char *p_tags[] = { "tags", NULL };

    if (!YAJL_IS_OBJECT(doc)) {
        return "each document must be an object";
    }

    url = yajl_tree_get(doc, p_url, yajl_t_string);
    body = yajl_tree_get(doc, p_body, yajl_t_string);
    title = yajl_tree_get(doc, p_title, yajl_t_any);
    tags = yajl_tree_get(doc, p_tags, yajl_t_any);

    u = url ? YAJL_GET_STRING(url) : NULL;

    if (u == NULL || ngx_strlen(u) > NGX_RAG_UPLOAD_MAX_URL
        || (ngx_strncmp(u, "https://", 8) != 0
            && ngx_strncmp(u, "http://", 7) != 0))
    {
        return "each document needs an absolute http(s) url";
    }

    if (body == NULL || YAJL_GET_STRING(body) == NULL
        || YAJL_GET_STRING(body)[0] == '\0')
    {
        return "each document needs a non-empty body string";
    }

    if (title && !YAJL_IS_STRING(title) && !YAJL_IS_NULL(title)) {
        return "title must be a string";
    }

    if (tags && !YAJL_IS_NULL(tags)) {
        if (!YAJL_IS_ARRAY(tags)) {
            return "tags must be an array of strings";
        }
        for (i = 0; i < YAJL_GET_ARRAY(tags)->len; i++) {
            if (!YAJL_IS_STRING(YAJL_GET_ARRAY(tags)->values[i])) {
                return "tags must be an array of strings";
            }
        }
    }

    return NULL;
}


static void
ngx_rag_upload_body(ngx_http_request_t *r)
{
    char                   errbuf[128];
    size_t                 i, n;
    yajl_val               root, coll, docs, doc;
    ngx_str_t              body;
    const char            *bad;
    ngx_rag_task_t        *t;
    ngx_rag_loc_conf_t    *rlcf;
    ngx_rag_upload_ctx_t  *ctx;

    static const char *p_coll[] = { "collection", NULL };
    static const char *p_docs[] = { "documents", NULL };
    static const char *p_doc[] = { "document", NULL };

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rag_module);

    if (ngx_rag_body_bounded(r, NGX_RAG_EP_UPLOAD, &body) != NGX_OK) {
        return;
    }

    root = yajl_tree_parse((const char *) body.data, errbuf, sizeof(errbuf));
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        ngx_rag_upload_fail(r, NGX_HTTP_BAD_REQUEST, "malformed JSON");
        return;
    }

    coll = yajl_tree_get(root, p_coll, yajl_t_string);
    docs = yajl_tree_get(root, p_docs, yajl_t_array);
    doc = yajl_tree_get(root, p_doc, yajl_t_object);
    bad = NULL;

    if (coll == NULL || !rag_collection_name_ok(coll->u.string)) {
        bad = "collection must match [A-Za-z0-9._-]{1,64}";

    } else if (docs) {
        n = YAJL_GET_ARRAY(docs)->len;

        if (n == 0 || n > NGX_RAG_UPLOAD_MAX_DOCS) {
            bad = "documents must hold 1 to 1000 documents";
        }

        for (i = 0; bad == NULL && i < n; i++) {
            bad = ngx_rag_upload_check_doc(YAJL_GET_ARRAY(docs)->values[i]);
        }

    } else if (doc) {
        bad = ngx_rag_upload_check_doc(doc);

    } else {
        bad = "need documents (array) or document (object)";
    }

    if (bad) {
        yajl_tree_free(root);
        ngx_rag_upload_fail(r, NGX_HTTP_BAD_REQUEST, bad);
        return;
    }

    t = ngx_rag_task_create(r, NGX_RAG_EP_UPLOAD, ngx_rag_upload_run,
                            sizeof(ngx_rag_upload_ctx_t));
    if (t == NULL) {
        yajl_tree_free(root);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx = t->data;
    ctx->body = (char *) body.data;
    ctx->create = rlcf->upload_create;

    /* validated above: a string of at most 64 bytes */
    ctx->collection = ngx_rag_pstrndup(r->pool, coll->u.string,
                                       ngx_strlen(coll->u.string));
    if (ctx->collection == NULL) {
        yajl_tree_free(root);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    yajl_tree_free(root);

    if (ngx_rag_task_post(r, t) != NGX_OK) {
        ngx_rag_upload_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                            "thread pool queue full");
        return;
    }
}


/* What the thread's transaction found and did. */
typedef struct {
    ngx_rag_upload_ctx_t  *ctx;
    int                    found;      /* the collection exists (now) */
    PGresult              *docs;       /* rag_store_documents_upload */
    char                   job_id[32];
} ngx_rag_upload_call_t;


/*
 * One transaction: the collection (created only when the location allows
 * it; otherwise nothing is stored or queued), the upserted documents
 * (unchanged ones untouched) and the ingest job, whose dedupe key is the
 * batch's hash, so a retried upload makes no second job. Running it
 * twice stores the same: safe to retry on a new connection.
 */
static ngx_int_t
ngx_rag_upload_store(PGconn *db, void *arg)
{
    char                    coll_id[32], payload[160], key[160];
    int                     rc;
    ngx_rag_upload_call_t  *c = arg;
    ngx_rag_upload_ctx_t   *ctx = c->ctx;

    PQclear(c->docs);
    c->docs = NULL;
    c->found = 0;

    if (rag_db_begin(db) != 0) {
        return NGX_ERROR;
    }

    rc = ctx->create
         ? (rag_store_collections_upsert(db, ctx->collection, NULL, NULL,
                                         coll_id, sizeof(coll_id)) == 0
            ? 1 : -1)
         : rag_store_collections_id(db, ctx->collection, coll_id,
                                    sizeof(coll_id));
    if (rc <= 0) {
        rag_db_rollback(db);
        return rc == 0 ? NGX_OK : NGX_ERROR;
    }

    c->found = 1;

    c->docs = rag_store_documents_upload(db, coll_id, ctx->body,
                                         NGX_RAG_UPLOAD_DUPS_LISTED);
    if (c->docs == NULL || PQntuples(c->docs) != 1) {
        return NGX_ERROR;
    }

    /* the name is [A-Za-z0-9._-]: nothing to escape */
    snprintf(payload, sizeof(payload),
             "{\"collection\":\"%s\",\"source\":{\"type\":\"rechunk\"}}",
             ctx->collection);
    snprintf(key, sizeof(key), "ingest:rechunk:%s:%s", ctx->collection,
             PQgetvalue(c->docs, 0, 4));

    if (rag_store_jobs_enqueue(db, "ingest", payload, key, 80, c->job_id,
                               sizeof(c->job_id)) != 0
        || rag_db_commit(db) != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_rag_upload_run(ngx_rag_task_t *t)
{
    char                    msg[192];
    PGresult               *res;
    ngx_rag_upload_call_t   c;
    ngx_rag_upload_ctx_t   *ctx = t->data;

    c.ctx = ctx;
    c.docs = NULL;

    if (ngx_rag_task_call(t, ngx_rag_upload_store, &c, NGX_RAG_PG_IDEMPOTENT,
                          "storing documents failed")
        != NGX_OK)
    {
        PQclear(c.docs);
        return;
    }

    if (!c.found) {
        /* no such collection, and this location may not create one */
        snprintf(msg, sizeof(msg), "unknown collection \"%s\" (create it "
                 "with rag-admin collection-add, or set "
                 "rag_upload_create_collections on)", ctx->collection);
        ngx_rag_task_error(t, NGX_HTTP_NOT_FOUND, msg);
        return;
    }

    res = c.docs;

    t->status = NGX_HTTP_ACCEPTED;
    rag_buf_puts(&t->body, "{\"job_id\":");
    rag_buf_puts(&t->body, c.job_id);
    rag_buf_puts(&t->body, ",\"collection\":");
    rag_buf_json_str(&t->body, ctx->collection, strlen(ctx->collection));
    rag_buf_printf(&t->body, ",\"documents\":%s,\"changed\":%s,"
                   "\"duplicates\":%s,\"duplicate_urls\":%s}",
                   PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
                   PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3));

    PQclear(res);
}
