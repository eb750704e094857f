/*
 * POST — Discord's HTTP interactions endpoint.
 *
 * Every request is verified (Ed25519 over X-Signature-Timestamp + body
 * with the application's public key, OpenSSL) before anything else is
 * looked at: 401 on failure, as Discord requires. PING gets PONG; /info
 * and /commands are answered in-process at once; /search with a
 * collection is answered in-process from the mmap'd index on the thread
 * pool (the location needs rag_index_dir); every other command is
 * deferred (type 5, or 6 for components) and queued in the interactions
 * table for rag-bot, which finishes it through the interaction token.
 * Discord wants the first response within 3 s: the queue insert runs on
 * the thread pool and is bounded by rag_db_timeout; if Postgres is down
 * the user gets an honest ephemeral message instead of a failure.
 */

#include "ngx_rag_module.h"
#include "ngx_rag_index.h"

#include "rag_search.h"
#include "rag_store_interactions.h"

#include <openssl/evp.h>
#include <yajl/yajl_tree.h>


#define NGX_RAG_DISCORD_MAX_SKEW  300     /* seconds of timestamp skew */

#define NGX_RAG_IT_PING           1
#define NGX_RAG_IT_COMMAND        2
#define NGX_RAG_IT_COMPONENT      3
#define NGX_RAG_IT_AUTOCOMPLETE   4
#define NGX_RAG_IT_MODAL          5


#define NGX_RAG_DISCORD_SEARCH_MAX   10     /* results in one reply */
#define NGX_RAG_DISCORD_QUERY_MAX    300    /* Discord option limit-ish */

typedef struct {
    char        *body;        /* the raw interaction, NUL-terminated */
    ngx_uint_t   defer_type;  /* 5 or 6 */
    ngx_uint_t   ephemeral;
} ngx_rag_interaction_ctx_t;

typedef struct {
    ngx_rag_index_pin_t   *pin;
    char                  *query;       /* NUL-terminated, pool */
    char                  *collection;
    int                    limit;
} ngx_rag_isearch_ctx_t;


static void ngx_rag_interactions_body(ngx_http_request_t *r);
static void ngx_rag_interactions_run(ngx_rag_task_t *t);
static ngx_int_t ngx_rag_interactions_search(ngx_http_request_t *r,
    yajl_val root);
static void ngx_rag_isearch_run(ngx_rag_task_t *t);


ngx_int_t
ngx_rag_interactions_handler(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    ngx_rag_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rag_module);

    rc = ngx_rag_check_json_post(r, rlcf->max_body);

    if (rc == NGX_OK && rlcf->discord_key == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "rag_discord_interactions without "
                      "rag_discord_public_key");
        rc = NGX_HTTP_FORBIDDEN;
    }

    if (rc == NGX_OK
        && (ngx_rag_header(r, "X-Signature-Ed25519") == NULL
            || ngx_rag_header(r, "X-Signature-Timestamp") == NULL))
    {
        rc = NGX_HTTP_UNAUTHORIZED;
    }

    return ngx_rag_read_json(r, NGX_RAG_EP_INTERACTIONS, rc, ngx_rag_interactions_body);
}


/* 1 when sig (hex) is a valid Ed25519 signature of ts || body. */
static ngx_int_t
ngx_rag_discord_verify(ngx_http_request_t *r, const u_char *key,
    ngx_str_t *sig_hex, ngx_str_t *ts, ngx_str_t *body)
{
    u_char       sig[64], *msg;
    ngx_int_t    hi, lo, ok;
    ngx_uint_t   i;
    EVP_PKEY    *pkey;
    EVP_MD_CTX  *md;

    if (sig_hex->len != 128) {
        return 0;
    }

    for (i = 0; i < 64; i++) {
        hi = ngx_hextoi(&sig_hex->data[2 * i], 1);
        lo = ngx_hextoi(&sig_hex->data[2 * i + 1], 1);
        if (hi == NGX_ERROR || lo == NGX_ERROR) {
            return 0;
        }
        sig[i] = (u_char) (hi * 16 + lo);
    }

    msg = ngx_pnalloc(r->pool, ts->len + body->len);
    if (msg == NULL) {
        return 0;
    }
    ngx_memcpy(ngx_cpymem(msg, ts->data, ts->len), body->data, body->len);

    pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, key, 32);
    md = EVP_MD_CTX_new();
    ok = 0;

    if (pkey && md
        && EVP_DigestVerifyInit(md, NULL, NULL, NULL, pkey) == 1
        && EVP_DigestVerify(md, sig, sizeof(sig), msg,
                            ts->len + body->len) == 1)
    {
        ok = 1;
    }

    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);

    return ok;
}


static void
ngx_rag_interactions_reply(ngx_http_request_t *r, ngx_uint_t status,
    const char *json)
{
    ngx_rag_metrics_observe(r, NGX_RAG_EP_INTERACTIONS, status);
    ngx_http_finalize_request(r, ngx_rag_send(r, status, NULL,
                                              (u_char *) json,
                                              ngx_strlen(json), 0));
}


static const char  ngx_rag_info_reply[] =
    "{\"type\":4,\"data\":{\"flags\":64,\"embeds\":[{\"title\":\"Bot Info\","
    "\"color\":5793266,\"description\":\"I answer questions in this "
    "server's help forums from the project's documentation and cite the "
    "pages I used. I can be wrong: check the sources, vote \\u2705 when "
    "an answer solved your post and \\u274c when it did not. Mention me "
    "in the thread to ask a follow-up.\\n\\nRuns ngx_rag " NGX_RAG_VERSION
    ", self-hosted.\"}]}}";

static const char  ngx_rag_commands_reply[] =
    "{\"type\":4,\"data\":{\"flags\":64,\"embeds\":[{\"title\":\"Commands\","
    "\"color\":5793266,\"description\":"
    "\"`/ask question` ask the docs directly\\n"
    "`/search query [collection] [limit]` search the docs\\n"
    "`/collections` list the documentation collections\\n"
    "`/status` this post's state and votes\\n"
    "`/solve` `/unsolve` mark this post (author or moderators)\\n"
    "`/open` `/close` reopen or close this post (author or moderators)\\n"
    "`/info` about this bot\\n"
    "`/commands` this list\"}]}}";


static void
ngx_rag_interactions_body(ngx_http_request_t *r)
{
    char                       errbuf[128];
    time_t                     ts_val;
    const char                *cmd;
    yajl_val                   root, type, name;
    ngx_str_t                  body;
    ngx_rag_task_t            *t;
    ngx_table_elt_t           *sig, *ts;
    ngx_rag_loc_conf_t        *rlcf;
    ngx_rag_interaction_ctx_t *ctx;

    static const char *p_type[] = { "type", NULL };
    static const char *p_name[] = { "data", "name", NULL };

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rag_module);

    if (ngx_rag_body_bounded(r, NGX_RAG_EP_INTERACTIONS, &body) != NGX_OK) {
        return;
    }

    sig = ngx_rag_header(r, "X-Signature-Ed25519");
    ts = ngx_rag_header(r, "X-Signature-Timestamp");

    if (!ngx_rag_discord_verify(r, rlcf->discord_key, &sig->value,
                                &ts->value, &body))
    {
        ngx_rag_interactions_reply(r, NGX_HTTP_UNAUTHORIZED,
                                   "{\"error\":\"invalid request "
                                   "signature\"}");
        return;
    }

    /* a valid signature on an old timestamp is a replay */
    ts_val = ngx_atotm(ts->value.data, ts->value.len);
    if (ts_val == NGX_ERROR
        || ngx_abs(ngx_time() - ts_val) > NGX_RAG_DISCORD_MAX_SKEW)
    {
        ngx_rag_interactions_reply(r, NGX_HTTP_UNAUTHORIZED,
                                   "{\"error\":\"stale timestamp\"}");
        return;
    }

    root = yajl_tree_parse((const char *) body.data, errbuf, sizeof(errbuf));
    type = root ? yajl_tree_get(root, p_type, yajl_t_number) : NULL;

    if (type == NULL || !YAJL_IS_INTEGER(type)) {
        yajl_tree_free(root);
        ngx_rag_interactions_reply(r, NGX_HTTP_BAD_REQUEST,
                                   "{\"error\":\"not an interaction\"}");
        return;
    }

    name = yajl_tree_get(root, p_name, yajl_t_string);
    cmd = (name && YAJL_GET_STRING(name)) ? YAJL_GET_STRING(name) : "";

    switch (YAJL_GET_INTEGER(type)) {

    case NGX_RAG_IT_PING:
        yajl_tree_free(root);
        ngx_rag_interactions_reply(r, NGX_HTTP_OK, "{\"type\":1}");
        return;

    case NGX_RAG_IT_AUTOCOMPLETE:
        yajl_tree_free(root);
        ngx_rag_interactions_reply(r, NGX_HTTP_OK,
                                   "{\"type\":8,\"data\":{\"choices\":[]}}");
        return;

    case NGX_RAG_IT_COMMAND:
        if (ngx_strcmp(cmd, "info") == 0) {
            yajl_tree_free(root);
            ngx_rag_interactions_reply(r, NGX_HTTP_OK, ngx_rag_info_reply);
            return;
        }
        if (ngx_strcmp(cmd, "commands") == 0) {
            yajl_tree_free(root);
            ngx_rag_interactions_reply(r, NGX_HTTP_OK,
                                       ngx_rag_commands_reply);
            return;
        }
        if (ngx_strcmp(cmd, "search") == 0
            && ngx_rag_interactions_search(r, root) == NGX_OK)
        {
            /* answered in-process: the search task owns the request */
            yajl_tree_free(root);
            return;
        }
        if (cmd[0] == '\0') {
            yajl_tree_free(root);
            ngx_rag_interactions_reply(r, NGX_HTTP_BAD_REQUEST,
                                       "{\"error\":\"command without "
                                       "data.name\"}");
            return;
        }
        break;

    case NGX_RAG_IT_COMPONENT:
    case NGX_RAG_IT_MODAL:
        break;

    default:
        yajl_tree_free(root);
        ngx_rag_interactions_reply(r, NGX_HTTP_BAD_REQUEST,
                                   "{\"error\":\"unknown interaction "
                                   "type\"}");
        return;
    }

    t = ngx_rag_task_create(r, NGX_RAG_EP_INTERACTIONS,
                            ngx_rag_interactions_run,
                            sizeof(ngx_rag_interaction_ctx_t));
    if (t == NULL) {
        yajl_tree_free(root);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx = t->data;
    ctx->body = (char *) body.data;
    ctx->defer_type = YAJL_GET_INTEGER(type) == NGX_RAG_IT_COMMAND ? 5 : 6;

    /* collection lists and searches are answered to the asker only */
    ctx->ephemeral = ngx_strcmp(cmd, "search") == 0
                     || ngx_strcmp(cmd, "collections") == 0
                     || ngx_strcmp(cmd, "status") == 0;

    yajl_tree_free(root);

    if (ngx_rag_task_post(r, t) != NGX_OK) {
        ngx_rag_interactions_reply(r, NGX_HTTP_OK,
            "{\"type\":4,\"data\":{\"flags\":64,\"content\":"
            "\"The bot is overloaded right now, please try again in a "
            "minute.\"}}");
        return;
    }
}


static ngx_int_t
ngx_rag_interactions_queue(PGconn *db, void *arg)
{
    ngx_rag_interaction_ctx_t  *ctx = arg;

    return rag_store_interactions_queue(db, ctx->body) < 0 ? NGX_ERROR
                                                           : NGX_OK;
}


static void
ngx_rag_interactions_run(ngx_rag_task_t *t)
{
    ngx_rag_interaction_ctx_t  *ctx = t->data;

    t->status = NGX_HTTP_OK;

    /* idempotent: a second insert of the same interaction does nothing */
    if (ngx_rag_pg_call(t, ngx_rag_interactions_queue, ctx,
                        NGX_RAG_PG_IDEMPOTENT)
        == NGX_OK)
    {
        rag_buf_printf(&t->body, "{\"type\":%u%s}",
                       (unsigned) ctx->defer_type,
                       ctx->ephemeral ? ",\"data\":{\"flags\":64}" : "");
        return;
    }

    /* Discord shows a 5xx as "interaction failed": say it in words */
    rag_buf_reset(&t->body);
    rag_buf_puts(&t->body,
                 "{\"type\":4,\"data\":{\"flags\":64,\"content\":\"The bot "
                 "cannot reach its database right now, please try again "
                 "in a minute.\"}}");
}


/* Option "name" of a slash command: data.options[] {name, type, value}. */
static yajl_val
ngx_rag_command_option(yajl_val root, const char *name)
{
    size_t     i;
    yajl_val   opts, o, n, v;

    static const char *p_opts[] = { "data", "options", NULL };
    static const char *p_name[] = { "name", NULL };
    static const char *p_value[] = { "value", NULL };

    opts = yajl_tree_get(root, p_opts, yajl_t_array);
    if (opts == NULL) {
        return NULL;
    }

    for (i = 0; i < YAJL_GET_ARRAY(opts)->len; i++) {
        o = YAJL_GET_ARRAY(opts)->values[i];
        n = yajl_tree_get(o, p_name, yajl_t_string);
        v = yajl_tree_get(o, p_value, yajl_t_any);

        if (n && v && n->u.string && ngx_strcmp(n->u.string, name) == 0) {
            return v;
        }
    }

    return NULL;
}


/*
 * /search query:<text> collection:<name> [limit:<n>] — answered from the
 * index within Discord's 3 s. NGX_OK when a search task now owns the
 * request; NGX_DECLINED to defer to rag-bot (no collection given — the
 * bot knows the thread's forum — or no index here).
 */
static ngx_int_t
ngx_rag_interactions_search(ngx_http_request_t *r, yajl_val root)
{
    size_t                  qlen;
    ngx_int_t               rc;
    ngx_str_t               coll;
    yajl_val                q, c, l;
    ngx_rag_task_t         *t;
    ngx_rag_isearch_ctx_t  *ctx;

    q = ngx_rag_command_option(root, "query");
    c = ngx_rag_command_option(root, "collection");
    l = ngx_rag_command_option(root, "limit");

    if (q == NULL || !YAJL_IS_STRING(q) || c == NULL || !YAJL_IS_STRING(c)
        || q->u.string == NULL || c->u.string == NULL)
    {
        return NGX_DECLINED;
    }

    qlen = ngx_strlen(q->u.string);
    coll.data = (u_char *) c->u.string;
    coll.len = ngx_strlen(c->u.string);

    if (qlen == 0 || qlen > NGX_RAG_DISCORD_QUERY_MAX || coll.len > 64) {
        return NGX_DECLINED;
    }

    t = ngx_rag_task_create(r, NGX_RAG_EP_INTERACTIONS, ngx_rag_isearch_run,
                            sizeof(ngx_rag_isearch_ctx_t));
    if (t == NULL) {
        return NGX_DECLINED;
    }

    ctx = t->data;
    ctx->query = ngx_rag_pstrndup(r->pool, q->u.string, qlen);
    ctx->collection = ngx_rag_pstrndup(r->pool, coll.data, coll.len);
    ctx->limit = 5;

    if (l && YAJL_IS_INTEGER(l)) {
        ctx->limit = (int) ngx_max(1, ngx_min(YAJL_GET_INTEGER(l),
                                              NGX_RAG_DISCORD_SEARCH_MAX));
    }

    if (ctx->query == NULL || ctx->collection == NULL) {
        return NGX_DECLINED;
    }

    coll.data = (u_char *) ctx->collection;

    rc = ngx_rag_index_pin(r, &coll, &ctx->pin);

    if (rc == NGX_DECLINED) {
        /* unknown collection: say so now, nothing to defer */
        rag_buf  msg;

        rag_buf_init(&msg, 256);
        rag_buf_printf(&msg, "No documentation collection named \"%s\". "
                       "Try /collections.", ctx->collection);
        rag_buf_puts(&t->body, "{\"type\":4,\"data\":{\"flags\":64,"
                     "\"content\":");
        rag_buf_json_str(&t->body, msg.data ? msg.data : "", msg.len);
        rag_buf_puts(&t->body, "}}");
        rag_buf_free(&msg);

        ngx_rag_interactions_reply(r, NGX_HTTP_OK,
                                   t->body.data ? t->body.data : "{}");
        return NGX_OK;
    }

    if (rc != NGX_OK) {
        return NGX_DECLINED;
    }

    if (ngx_rag_task_post(r, t) != NGX_OK) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* One embed field; Discord allows 256 characters of name and 1024 of
 * value, so both are cut well below. */
static void
ngx_rag_isearch_field(rag_buf *b, int rank, rag_index_chunk *ch,
    const char *pct, const char *snip)
{
    rag_buf   name, val;
    rag_str  *label;

    label = ch->heading_path.len ? &ch->heading_path : &ch->title;

    rag_buf_init(&name, 240);
    rag_buf_printf(&name, "%d. ", rank);
    rag_buf_append(&name, label->p, ngx_min(label->len, (size_t) 200));

    rag_buf_init(&val, 1000);
    rag_buf_putc(&val, '<');
    rag_buf_append(&val, ch->url.p, ngx_min(ch->url.len, (size_t) 500));
    rag_buf_printf(&val, "> \u00b7 %s\n%s", pct, snip);

    rag_buf_puts(b, "{\"name\":");
    rag_buf_json_str(b, name.data ? name.data : "", name.len);
    rag_buf_puts(b, ",\"value\":");
    rag_buf_json_str(b, val.data ? val.data : "", val.len);
    rag_buf_putc(b, '}');

    rag_buf_free(&name);
    rag_buf_free(&val);
}


static void
ngx_rag_isearch_run(ngx_rag_task_t *t)
{
    int                     i, n, shown, missing;
    char                    snip[240], pct[16];
    rag_buf                *b;
    rag_hit                 hits[NGX_RAG_DISCORD_SEARCH_MAX];
    rag_query               q;
    const rag_index        *ix;
    rag_str                 body;
    rag_index_buf           zb = { NULL, 0, NULL };
    rag_index_chunk         ch;
    ngx_rag_isearch_ctx_t  *ctx = t->data;

    b = &t->body;
    t->status = NGX_HTTP_OK;

    ix = ngx_rag_index_get(ctx->pin, &missing);
    n = -1;

    if (ix != NULL) {
        ngx_memzero(&q, sizeof(q));
        q.text = ctx->query;
        q.text_len = strlen(ctx->query);
        q.k = (size_t) ctx->limit;
        q.mode = RAG_SEARCH_BM25;
        n = rag_search(ix, &q, hits);
    }

    if (n < 0) {
        rag_buf_puts(b, "{\"type\":4,\"data\":{\"flags\":64,\"content\":"
                     "\"Search is unavailable right now, please try again "
                     "later.\"}}");
        return;
    }

    rag_buf_puts(b, "{\"type\":4,\"data\":{\"flags\":64,\"embeds\":"
                    "[{\"title\":\"Search results\",\"color\":5793266,"
                    "\"description\":");
    rag_buf_json_str(b, ctx->query, strlen(ctx->query));
    rag_buf_puts(b, ",\"fields\":[");

    shown = 0;

    for (i = 0; i < n; i++) {
        if (rag_index_chunk_get(ix, hits[i].rec, &ch) != 0) {
            continue;
        }

        (void) rag_index_chunk_body(ix, hits[i].rec, &zb, &body);
        rag_snippet(body.p, body.len, ctx->query, strlen(ctx->query),
                    snip, sizeof(snip));

        /* relative to the best hit: BM25 has no absolute scale */
        snprintf(pct, sizeof(pct), "%d%%", hits[0].score > 0
                 ? (int) (100.0 * hits[i].score / hits[0].score + 0.5) : 0);

        if (shown++) {
            rag_buf_putc(b, ',');
        }

        ngx_rag_isearch_field(b, shown, &ch, pct, snip);
    }

    rag_index_buf_free(&zb);
    rag_buf_puts(b, "]");

    if (shown == 0) {
        rag_buf_puts(b, ",\"footer\":{\"text\":\"No matching passages.\"}");
    }

    rag_buf_puts(b, "}]}}");
}
