/*
 * POST — Discord's HTTP interactions endpoint.
 *
 * Every request is verified (Ed25519 over X-Signature-Timestamp + body
 * with the application's public key, OpenSSL) before anything else is
 * looked at: 401 on failure, as Discord requires. PING gets PONG; /info
 * and /commands are answered in-process at once; every other command is
 * deferred (type 5, or 6 for components) and queued in the interactions
 * table for rag-bot, which finishes it through the interaction token.
 * Discord wants the first response within 3 s: the queue insert runs on
 * the thread pool and is bounded by rag_db_timeout; if Postgres is down
 * the user gets an honest ephemeral message instead of a failure.
 */

#include "ngx_rag_module.h"

#include <openssl/evp.h>
#include <yajl/yajl_tree.h>


#define NGX_RAG_DISCORD_MAX_SKEW  300     /* seconds of timestamp skew */

#define NGX_RAG_IT_PING           1
#define NGX_RAG_IT_COMMAND        2
#define NGX_RAG_IT_COMPONENT      3
#define NGX_RAG_IT_AUTOCOMPLETE   4
#define NGX_RAG_IT_MODAL          5


typedef struct {
    char        *body;        /* the raw interaction, NUL-terminated */
    ngx_uint_t   defer_type;  /* 5 or 6 */
    ngx_uint_t   ephemeral;
} ngx_rag_interaction_ctx_t;


static void ngx_rag_interactions_body(ngx_http_request_t *r);
static void ngx_rag_interactions_run(ngx_rag_task_t *t);


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

    if (rc != NGX_OK) {
        return ngx_rag_refuse(r, NGX_RAG_EP_INTERACTIONS, rc);
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_rag_interactions_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
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

    if (ngx_rag_body(r, &body) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    sig = ngx_rag_header(r, "X-Signature-Ed25519");
    ts = ngx_rag_header(r, "X-Signature-Timestamp");

    if (body.len > rlcf->max_body
        || !ngx_rag_discord_verify(r, rlcf->discord_key, &sig->value,
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


static void
ngx_rag_interactions_run(ngx_rag_task_t *t)
{
    char                        err[256];
    PGconn                     *db;
    PGresult                   *res;
    const char                 *params[1];
    ngx_rag_interaction_ctx_t  *ctx = t->data;

    t->status = NGX_HTTP_OK;

    db = ngx_rag_pg_conn(t->conninfo, t->db_timeout_ms, err, sizeof(err));

    if (db != NULL) {
        params[0] = ctx->body;

        res = PQexecParams(db,
            "WITH i AS (SELECT $1::jsonb AS j)"
            " INSERT INTO interactions (interaction_id, application_id,"
            "  token, guild_id, channel_id, user_id, member_roles, command,"
            "  options)"
            " SELECT j->>'id', j->>'application_id', j->>'token',"
            "  j->>'guild_id', j->>'channel_id',"
            "  coalesce(j->'member'->'user'->>'id', j->'user'->>'id'),"
            "  coalesce(ARRAY(SELECT jsonb_array_elements_text("
            "   CASE WHEN jsonb_typeof(j->'member'->'roles') = 'array'"
            "   THEN j->'member'->'roles' ELSE '[]' END)), '{}'),"
            "  coalesce(j->'data'->>'name', j->'data'->>'custom_id',"
            "           'component'),"
            "  coalesce(j->'data', '{}')"
            " FROM i"
            " WHERE j->>'id' IS NOT NULL AND j->>'token' IS NOT NULL"
            "   AND j->>'application_id' IS NOT NULL"
            " ON CONFLICT (interaction_id) DO NOTHING"
            " RETURNING id",
            1, NULL, params, NULL, NULL, 0);

        if (PQresultStatus(res) == PGRES_TUPLES_OK) {
            PQclear(res);
            rag_buf_printf(&t->body, "{\"type\":%u%s}",
                           (unsigned) ctx->defer_type,
                           ctx->ephemeral ? ",\"data\":{\"flags\":64}" : "");
            return;
        }

        if (PQstatus(db) != CONNECTION_OK) {
            ngx_rag_pg_discard();
        }

        PQclear(res);
    }

    /* Discord shows a 5xx as "interaction failed": say it in words */
    rag_buf_reset(&t->body);
    rag_buf_puts(&t->body,
                 "{\"type\":4,\"data\":{\"flags\":64,\"content\":\"The bot "
                 "cannot reach its database right now, please try again "
                 "in a minute.\"}}");
}
