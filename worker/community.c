/*
 * community — solved threads -> community-<guild> collection (community.h).
 */
#include "community.h"
#include "ingest.h"
#include "rag_buf.h"
#include "rag_chunk.h"
#include "rag_db.h"
#include "rag_log.h"
#include "rag_reindex.h"
#include "rag_store_chunks.h"
#include "rag_store_collections.h"
#include "rag_store_documents.h"
#include "rag_store_threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#define COMMUNITY_MAX_BODY (256u * 1024)

int
rag_community_collection(char *out, size_t outlen, const char *guild)
{
    size_t n = guild ? strlen(guild) : 0;

    if (n == 0 || n > 50 ||
        strspn(guild, "0123456789abcdefghijklmnopqrstuvwxyz"
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZ_-") != n)
        return -1;
    if ((size_t)snprintf(out, outlen, "community-%s", guild) >= outlen)
        return -1;
    return 0;
}

static int
build_body(rag_buf *b, const char *q, const char *answer, const char *notes)
{
    int rc = 0;

    rc |= rag_buf_puts(b, "## Question\n\n");
    rc |= rag_buf_puts(b, q);
    if (*answer) {
        rc |= rag_buf_puts(b, "\n\n## Answer\n\n");
        rc |= rag_buf_puts(b, answer);
    }
    if (*notes) {
        rc |= rag_buf_puts(b, "\n\n## Notes from the solver\n\n");
        rc |= rag_buf_puts(b, notes);
    }
    return rc | rag_buf_putc(b, '\n');
}

/* Upserts one document; when it changed, replaces its chunks (those
 * whose text is unchanged keep their embeddings). Inside the caller's
 * transaction. 0 or -1. */
static int
sync_thread(PGconn *db, const char *coll_id, const char *url, const char *title,
            const char *body, char *err, size_t errlen)
{
    char id[32], hash[80];
    rag_chunks ch = {0};
    rag_chunk_opts co;
    int r, rc = -1;

    r = rag_store_documents_put_changed(db, coll_id, url, title, body,
                                        "community", id, sizeof(id), hash,
                                        sizeof(hash));
    if (r < 0) {
        snprintf(err, errlen, "upsert %s: %.200s", url,
                 rag_db_last_error()->message);
        return -1;
    }
    if (r == 0)
        return 0; /* unchanged: keeps its chunks */
    rag_chunk_opts_default(&co);
    if (rag_chunk_markdown(body, strlen(body), title, &co, &ch) != 0) {
        snprintf(err, errlen, "chunking %s failed", url);
        goto done;
    }
    /* a thread is one Discord link: no #fragment per section */
    for (size_t i = 0; i < ch.n; i++)
        ch.v[i].anchor[0] = '\0';
    if (rag_store_chunks_replace(db, id, &ch) != 0 ||
        rag_store_documents_set_chunked(db, id, hash) != 0) {
        snprintf(err, errlen, "chunks of %s: %.200s", url,
                 rag_db_last_error()->message);
        goto done;
    }
    rc = 0;
done:
    rag_chunks_free(&ch);
    return rc;
}

static int
sync_guild(PGconn *db, const char *guild, const char *index_dir,
           const rag_embed_conf *ec, const rag_reindex_opts *ro, char *err,
           size_t errlen)
{
    char coll[80], url[256], desc[128], coll_id[32];
    PGresult *res = NULL;
    rag_buf body, urls;
    int i, n, rc = -1;

    if (rag_community_collection(coll, sizeof(coll), guild) != 0) {
        snprintf(err, errlen, "bad guild id");
        return -1;
    }
    rag_buf_init(&body, COMMUNITY_MAX_BODY);
    rag_buf_init(&urls, 0);
    if (rag_db_begin(db) != 0) {
        snprintf(err, errlen, "begin: %.200s", PQerrorMessage(db));
        goto done;
    }
    /* one sync of a guild at a time (two workers running its jobs) */
    if (rag_store_collections_xact_lock(db, coll) != 0) {
        snprintf(err, errlen, "lock: %.200s", PQerrorMessage(db));
        goto fail;
    }
    snprintf(desc, sizeof(desc), "Community answers from guild %s", guild);
    if (rag_store_collections_upsert(db, coll, desc, "{\"type\":\"community\"}",
                                     coll_id, sizeof(coll_id)) != 0) {
        snprintf(err, errlen, "collection: %.200s",
                 rag_db_last_error()->message);
        goto fail;
    }
    res = rag_store_threads_solved_in_guild(db, guild);
    if (res == NULL) {
        snprintf(err, errlen, "solved threads: %.200s",
                 rag_db_last_error()->message);
        goto fail;
    }
    n = PQntuples(res);
    rag_buf_putc(&urls, '{');
    for (i = 0; i < n; i++) {
        const char *tid = PQgetvalue(res, i, 0);
        if (rag_community_collection(desc, sizeof(desc), tid) != 0)
            continue; /* not an id we can link to (nor quote in $2) */
        rag_buf_reset(&body);
        if (build_body(&body, PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
                       PQgetvalue(res, i, 4)) != 0) {
            /* oversized thread: keep what fits of the question */
            rag_buf_reset(&body);
            rag_buf_append(
                &body, PQgetvalue(res, i, 2),
                strnlen(PQgetvalue(res, i, 2), COMMUNITY_MAX_BODY - 1));
        }
        snprintf(url, sizeof(url), "https://discord.com/channels/%s/%s", guild,
                 tid);
        if (sync_thread(db, coll_id, url, PQgetvalue(res, i, 1), body.data, err,
                        errlen) != 0)
            goto fail;
        /* URLs hold only [0-9A-Za-z_/:.-]: safe in a text[] literal */
        if ((urls.len > 1 ? rag_buf_putc(&urls, ',') : 0) != 0 ||
            rag_buf_printf(&urls, "\"%s\"", url) != 0) {
            snprintf(err, errlen, "too many threads");
            goto fail;
        }
    }
    rag_buf_putc(&urls, '}');
    if (rag_store_documents_prune(db, coll_id, "community", urls.data) != 0) {
        snprintf(err, errlen, "prune: %.200s", rag_db_last_error()->message);
        goto fail;
    }
    if (rag_db_commit(db) != 0) {
        snprintf(err, errlen, "commit: %.200s", PQerrorMessage(db));
        goto done;
    }
    if (ec != NULL && rag_embed_enabled(ec) &&
        rag_ingest_embed_pending(db, coll_id, ec, NULL, err, errlen) != 0)
        rag_warn("msg=\"community embeddings failed, lexical index\" "
                 "collection=%s error=\"%s\"",
                 coll, err);
    if (rag_reindex(db, coll, index_dir, ro, NULL, err, errlen) != 0)
        goto done;
    rag_info("msg=\"community sync\" guild=%s collection=%s threads=%d", guild,
             coll, n);
    rc = n;
    goto done;
fail:
    rag_db_rollback(db);
done:
    PQclear(res);
    rag_buf_free(&body);
    rag_buf_free(&urls);
    return rc;
}

int
rag_community_sync(PGconn *db, const char *guild, const char *index_dir,
                   char *err, size_t errlen)
{
    return rag_community_sync_embed(db, guild, index_dir, NULL, NULL, err,
                                    errlen);
}

int
rag_community_sync_embed(PGconn *db, const char *guild, const char *index_dir,
                         const rag_embed_conf *ec, const rag_reindex_opts *ro,
                         char *err, size_t errlen)
{
    PGresult *res;
    int i, n, r, total = 0, rc = 0;

    if (guild != NULL)
        return sync_guild(db, guild, index_dir, ec, ro, err, errlen);
    res = rag_store_threads_guilds_with_solved(db);
    if (res == NULL) {
        snprintf(err, errlen, "guilds: %.200s", rag_db_last_error()->message);
        return -1;
    }
    n = PQntuples(res);
    for (i = 0; i < n && rc == 0; i++) {
        r = sync_guild(db, PQgetvalue(res, i, 0), index_dir, ec, ro, err,
                       errlen);
        if (r < 0)
            rc = -1;
        else
            total += r;
    }
    PQclear(res);
    return rc == 0 ? total : -1;
}

int
rag_community_job(PGconn *db, const char *payload_json, const char *index_dir,
                  const rag_embed_conf *ec, const rag_reindex_opts *ro,
                  char *err, size_t errlen)
{
    static const char *gp[] = {"guild", NULL};
    char ebuf[128], guild[64];
    yajl_val root, g;
    const char *gs;

    if (payload_json == NULL || strlen(payload_json) > 4096) {
        snprintf(err, errlen, "bad community payload");
        return -2;
    }
    root = yajl_tree_parse(payload_json, ebuf, sizeof(ebuf));
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        snprintf(err, errlen, "community payload is not a JSON object");
        return -2;
    }
    g = yajl_tree_get(root, gp, yajl_t_string);
    gs = g ? YAJL_GET_STRING(g) : NULL;
    if (gs != NULL && (strlen(gs) >= sizeof(guild) ||
                       rag_community_collection(ebuf, sizeof(ebuf), gs) != 0)) {
        yajl_tree_free(root);
        snprintf(err, errlen, "bad guild id in community payload");
        return -2;
    }
    if (gs != NULL)
        snprintf(guild, sizeof(guild), "%s", gs);
    yajl_tree_free(root);
    return rag_community_sync_embed(db, gs ? guild : NULL, index_dir, ec, ro,
                                    err, errlen) < 0
               ? -1
               : 0;
}
