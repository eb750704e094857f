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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#define COMMUNITY_MAX_BODY (256u * 1024)

/* One row per solved thread: question, last non-abstaining bot answer,
 * the solver's later messages (not the question itself). */
static const char *const solved_sql =
    "SELECT t.thread_id, coalesce(nullif(t.title, ''), 'Thread ' ||"
    "       t.thread_id),"
    "       coalesce((SELECT content FROM messages m"
    "                 WHERE m.thread_id = t.thread_id AND NOT m.from_bot"
    "                 ORDER BY m.first_message DESC, m.created_at"
    "                 LIMIT 1), ''),"
    "       coalesce((SELECT content FROM messages m"
    "                 WHERE m.thread_id = t.thread_id AND m.from_bot"
    "                   AND NOT m.abstained AND m.content <> ''"
    "                 ORDER BY m.created_at DESC, m.message_id DESC"
    "                 LIMIT 1), ''),"
    "       coalesce((SELECT string_agg(content, E'\\n\\n'"
    "                                   ORDER BY created_at)"
    "                 FROM messages m"
    "                 WHERE m.thread_id = t.thread_id AND NOT m.from_bot"
    "                   AND NOT m.first_message AND t.solved_by IS NOT NULL"
    "                   AND m.author_id = t.solved_by"
    "                   AND m.content <> ''), '')"
    " FROM threads t"
    " WHERE t.guild_id = $1 AND t.solved"
    " ORDER BY t.solved_at NULLS LAST, t.thread_id LIMIT 100000";

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

/* Upserts one document; when its body changed, replaces its chunks.
 * Inside the caller's transaction. 0 or -1. */
static int
sync_thread(PGconn *db, const char *coll_id, const char *url, const char *title,
            const char *body, char *err, size_t errlen)
{
    const char *p[5];
    char ord[16], tok[16];
    PGresult *res;
    rag_chunks ch = {0};
    rag_chunk_opts co;
    size_t i;
    int rc = -1;

    p[0] = coll_id;
    p[1] = url;
    p[2] = title;
    p[3] = body;
    /* RETURNING only when inserted or changed: unchanged threads keep
     * their chunks (and embeddings). */
    res = rag_db_query(
        db,
        "INSERT INTO documents (collection_id, url, title, source, body,"
        "  content_hash, fetched_at)"
        " VALUES ($1, $2, $3, 'community', $4,"
        "  encode(sha256(convert_to($4, 'UTF8')), 'hex'), now())"
        " ON CONFLICT (collection_id, url) DO UPDATE SET"
        "  title = EXCLUDED.title, body = EXCLUDED.body,"
        "  content_hash = EXCLUDED.content_hash, fetched_at = now()"
        " WHERE documents.content_hash <> EXCLUDED.content_hash"
        "    OR documents.chunked_hash <> EXCLUDED.content_hash"
        "    OR documents.title <> EXCLUDED.title"
        " RETURNING id",
        4, p);
    if (res == NULL) {
        snprintf(err, errlen, "upsert %s: %.200s", url, PQerrorMessage(db));
        return -1;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    p[0] = PQgetvalue(res, 0, 0);
    if (rag_db_exec(db, "DELETE FROM chunks WHERE document_id = $1", 1, p) !=
        0) {
        snprintf(err, errlen, "delete chunks: %.200s", PQerrorMessage(db));
        goto done;
    }
    rag_chunk_opts_default(&co);
    if (rag_chunk_markdown(body, strlen(body), title, &co, &ch) != 0) {
        snprintf(err, errlen, "chunking %s failed", url);
        goto done;
    }
    for (i = 0; i < ch.n; i++) {
        snprintf(ord, sizeof(ord), "%zu", i);
        snprintf(tok, sizeof(tok), "%zu", ch.v[i].tokens);
        p[1] = ord;
        p[2] = ch.v[i].heading_path;
        p[3] = ch.v[i].text;
        p[4] = tok;
        if (rag_db_exec(db,
                        "INSERT INTO chunks (document_id, ordinal,"
                        " heading_path, anchor, body, token_count)"
                        " VALUES ($1, $2, $3, '', $4, $5)",
                        5, p) != 0) {
            snprintf(err, errlen, "insert chunk: %.200s", PQerrorMessage(db));
            goto done;
        }
    }
    if (rag_db_exec(db,
                    "UPDATE documents SET chunked_hash = content_hash"
                    " WHERE id = $1",
                    1, p) != 0) {
        snprintf(err, errlen, "mark chunked: %.200s", PQerrorMessage(db));
        goto done;
    }
    rc = 0;
done:
    rag_chunks_free(&ch);
    PQclear(res);
    return rc;
}

static int
sync_guild(PGconn *db, const char *guild, const char *index_dir,
           const rag_embed_conf *ec, char *err, size_t errlen)
{
    char coll[80], url[256], desc[128];
    const char *p[3];
    PGresult *res = NULL, *cr = NULL;
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
    p[0] = coll;
    if (rag_db_exec(db, "SELECT pg_advisory_xact_lock(hashtext($1))", 1, p) !=
        0) {
        snprintf(err, errlen, "lock: %.200s", PQerrorMessage(db));
        goto fail;
    }
    snprintf(desc, sizeof(desc), "Community answers from guild %s", guild);
    p[1] = desc;
    cr = rag_db_query(db,
                      "INSERT INTO collections (name, description, source)"
                      " VALUES ($1, $2, '{\"type\":\"community\"}')"
                      " ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name"
                      " RETURNING id",
                      2, p);
    if (cr == NULL || PQntuples(cr) != 1) {
        snprintf(err, errlen, "collection: %.200s", PQerrorMessage(db));
        goto fail;
    }
    p[0] = guild;
    res = rag_db_query(db, solved_sql, 1, p);
    if (res == NULL) {
        snprintf(err, errlen, "solved threads: %.200s", PQerrorMessage(db));
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
        if (sync_thread(db, PQgetvalue(cr, 0, 0), url, PQgetvalue(res, i, 1),
                        body.data, err, errlen) != 0)
            goto fail;
        /* URLs hold only [0-9A-Za-z_/:.-]: safe in a text[] literal */
        if ((urls.len > 1 ? rag_buf_putc(&urls, ',') : 0) != 0 ||
            rag_buf_printf(&urls, "\"%s\"", url) != 0) {
            snprintf(err, errlen, "too many threads");
            goto fail;
        }
    }
    rag_buf_putc(&urls, '}');
    p[0] = PQgetvalue(cr, 0, 0);
    p[1] = urls.data;
    if (rag_db_exec(db,
                    "DELETE FROM documents WHERE collection_id = $1"
                    " AND source = 'community'"
                    " AND NOT (url = ANY ($2::text[]))",
                    2, p) != 0) {
        snprintf(err, errlen, "prune: %.200s", PQerrorMessage(db));
        goto fail;
    }
    if (rag_db_commit(db) != 0) {
        snprintf(err, errlen, "commit: %.200s", PQerrorMessage(db));
        goto done;
    }
    if (ec != NULL && rag_embed_enabled(ec) &&
        rag_ingest_embed_pending(db, PQgetvalue(cr, 0, 0), ec, NULL, err,
                                 errlen) != 0)
        rag_warn("msg=\"community embeddings failed, lexical index\" "
                 "collection=%s error=\"%s\"",
                 coll, err);
    if (rag_reindex_collection(db, coll, index_dir, err, errlen) != 0)
        goto done;
    rag_info("msg=\"community sync\" guild=%s collection=%s threads=%d", guild,
             coll, n);
    rc = n;
    goto done;
fail:
    rag_db_rollback(db);
done:
    PQclear(res);
    PQclear(cr);
    rag_buf_free(&body);
    rag_buf_free(&urls);
    return rc;
}

int
rag_community_sync(PGconn *db, const char *guild, const char *index_dir,
                   char *err, size_t errlen)
{
    return rag_community_sync_embed(db, guild, index_dir, NULL, err, errlen);
}

int
rag_community_sync_embed(PGconn *db, const char *guild, const char *index_dir,
                         const rag_embed_conf *ec, char *err, size_t errlen)
{
    PGresult *res;
    int i, n, r, total = 0, rc = 0;

    if (guild != NULL)
        return sync_guild(db, guild, index_dir, ec, err, errlen);
    res = rag_db_query(db,
                       "SELECT DISTINCT guild_id FROM threads"
                       " WHERE solved AND guild_id IS NOT NULL"
                       " ORDER BY 1",
                       0, NULL);
    if (res == NULL) {
        snprintf(err, errlen, "guilds: %.200s", PQerrorMessage(db));
        return -1;
    }
    n = PQntuples(res);
    for (i = 0; i < n && rc == 0; i++) {
        r = sync_guild(db, PQgetvalue(res, i, 0), index_dir, ec, err, errlen);
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
                  const rag_embed_conf *ec, char *err, size_t errlen)
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
    return rag_community_sync_embed(db, gs ? guild : NULL, index_dir, ec, err,
                                    errlen) < 0
               ? -1
               : 0;
}
