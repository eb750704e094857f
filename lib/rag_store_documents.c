#include "rag_store_documents.h"

#include "rag_db.h"

#include <stdio.h>
#include <string.h>

PGresult *
rag_store_documents_list(PGconn *db, const char *coll_id)
{
    const char *p[1] = {coll_id};

    return rag_db_query(db,
                        "SELECT url, id, content_hash, chunked_hash, title, "
                        "coalesce(etag,''), coalesce(last_modified,''), source "
                        "FROM documents WHERE collection_id = $1",
                        1, p);
}

PGresult *
rag_store_documents_upsert(PGconn *db, const char *coll_id, const char *url,
                           const char *title, const char *body,
                           const char *hash, const char *etag,
                           const char *lastmod, const char *source,
                           const char *links)
{
    const char *p[9] = {coll_id, url,    title, body, etag,
                        lastmod, source, links, hash};

    return rag_db_query(
        db,
        "INSERT INTO documents (collection_id, url, title, body, etag, "
        "last_modified, source, fetched_at, out_links, content_hash) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, now(), "
        "coalesce(string_to_array($8, E'\\n'), '{}'), $9) "
        "ON CONFLICT (collection_id, url) DO UPDATE SET title = $3, "
        "body = $4, etag = $5, last_modified = $6, source = $7, "
        "fetched_at = now(), out_links = coalesce(string_to_array($8, "
        "E'\\n'), '{}'), content_hash = $9 RETURNING id",
        9, p);
}

int
rag_store_documents_touch(PGconn *db, const char *id, const char *etag,
                          const char *lastmod, const char *links)
{
    const char *p[4] = {id, etag, lastmod, links};

    return rag_db_exec(db,
                       "UPDATE documents SET fetched_at = now(), "
                       "etag = $2, last_modified = $3, "
                       "out_links = coalesce(string_to_array($4, "
                       "E'\\n'), out_links) WHERE id = $1",
                       4, p);
}

int
rag_store_documents_touch_fetched(PGconn *db, const char *id)
{
    const char *p[1] = {id};

    return rag_db_exec(
        db, "UPDATE documents SET fetched_at = now() WHERE id = $1", 1, p);
}

int
rag_store_documents_delete(PGconn *db, const char *id)
{
    const char *p[1] = {id};

    return rag_db_exec(db, "DELETE FROM documents WHERE id = $1", 1, p);
}

int
rag_store_documents_delete_url(PGconn *db, const char *coll_id, const char *url)
{
    const char *p[2] = {coll_id, url};

    return rag_db_exec(
        db, "DELETE FROM documents WHERE collection_id = $1 AND url = $2", 2,
        p);
}

PGresult *
rag_store_documents_out_links(PGconn *db, const char *id)
{
    const char *p[1] = {id};

    return rag_db_query(
        db, "SELECT unnest(out_links) FROM documents WHERE id = $1", 1, p);
}

PGresult *
rag_store_documents_stale(PGconn *db, const char *coll_id, const char *after_id,
                          int limit)
{
    char lim[16];
    const char *p[3] = {coll_id, after_id, lim};

    snprintf(lim, sizeof(lim), "%d", limit);
    return rag_db_query(
        db,
        "SELECT id, title, body, source FROM documents "
        "WHERE collection_id = $1 AND id > $2 "
        "AND (chunked_hash <> content_hash OR content_hash = '' "
        "OR NOT EXISTS (SELECT 1 FROM chunks c WHERE c.document_id = "
        "documents.id)) ORDER BY id LIMIT $3",
        3, p);
}

PGresult *
rag_store_documents_bodies(PGconn *db, const char *coll_id, const char *source,
                           const char *after_id, int limit)
{
    char lim[16];
    const char *p[4] = {coll_id, source, after_id, lim};

    snprintf(lim, sizeof(lim), "%d", limit);
    return rag_db_query(db,
                        "SELECT id, body FROM documents WHERE collection_id = "
                        "$1 AND source = $2 AND id > $3 ORDER BY id LIMIT $4",
                        4, p);
}

int
rag_store_documents_set_chunked(PGconn *db, const char *id, const char *hash)
{
    const char *p[2] = {id, hash};

    return rag_db_exec(db,
                       "UPDATE documents SET chunked_hash = $2, "
                       "content_hash = $2 WHERE id = $1",
                       2, p);
}

int
rag_store_documents_mark_stale(PGconn *db, const char *coll_id,
                               const char *source)
{
    const char *p[2] = {coll_id, source};

    return rag_db_exec(db,
                       "UPDATE documents SET chunked_hash = '' "
                       "WHERE collection_id = $1 AND source = $2",
                       2, p);
}

int
rag_store_documents_put_changed(PGconn *db, const char *coll_id,
                                const char *url, const char *title,
                                const char *body, const char *source, char *id,
                                size_t idlen, char *hash, size_t hashlen)
{
    const char *p[5] = {coll_id, url, title, source, body};
    PGresult *r;
    int rc;

    /* RETURNING only when inserted or changed: unchanged documents keep
     * their chunks (and embeddings) */
    r = rag_db_query(
        db,
        "INSERT INTO documents (collection_id, url, title, source, body,"
        "  content_hash, fetched_at)"
        " VALUES ($1, $2, $3, $4, $5,"
        "  encode(sha256(convert_to($5, 'UTF8')), 'hex'), now())"
        " ON CONFLICT (collection_id, url) DO UPDATE SET"
        "  title = EXCLUDED.title, body = EXCLUDED.body,"
        "  content_hash = EXCLUDED.content_hash, fetched_at = now()"
        " WHERE documents.content_hash <> EXCLUDED.content_hash"
        "    OR documents.chunked_hash <> EXCLUDED.content_hash"
        "    OR documents.title <> EXCLUDED.title"
        " RETURNING id, content_hash",
        5, p);
    if (r == NULL)
        return -1;
    rc = PQntuples(r) == 1;
    if (rc) {
        snprintf(id, idlen, "%s", PQgetvalue(r, 0, 0));
        snprintf(hash, hashlen, "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return rc;
}

int
rag_store_documents_prune(PGconn *db, const char *coll_id, const char *source,
                          const char *keep_urls)
{
    const char *p[3] = {coll_id, source, keep_urls};

    return rag_db_exec(db,
                       "DELETE FROM documents WHERE collection_id = $1"
                       " AND source = $2 AND NOT (url = ANY ($3::text[]))",
                       3, p);
}

PGresult *
rag_store_documents_upload(PGconn *db, const char *coll_id,
                           const char *batch_json, int max_dups)
{
    char lim[16];
    const char *p[3] = {coll_id, batch_json, lim};

    snprintf(lim, sizeof(lim), "%d", max_dups);
    return rag_db_query(
        db,
        "WITH b AS (SELECT $2::jsonb AS j),"
        " d AS (SELECT x->>'url' AS url, coalesce(x->>'title', '') AS title,"
        "         x->>'body' AS body,"
        "         coalesce(ARRAY(SELECT jsonb_array_elements_text("
        "           CASE jsonb_typeof(x->'tags') WHEN 'array' THEN x->'tags'"
        "           ELSE '[]' END)), '{}')"
        "         || CASE WHEN x->>'source' IS NOT NULL"
        "            THEN ARRAY[x->>'source'] ELSE '{}' END AS tags, n"
        "       FROM b, jsonb_array_elements(coalesce(j->'documents',"
        "            jsonb_build_array(j->'document')))"
        "            WITH ORDINALITY AS a(x, n)),"
        " u AS (INSERT INTO documents (collection_id, url, title, body,"
        "         source, tags, content_hash, fetched_at)"
        "       SELECT DISTINCT ON (d.url) $1::bigint, d.url, d.title,"
        "         d.body, 'upload', d.tags,"
        "         encode(sha256(convert_to(d.body, 'UTF8')), 'hex'), now()"
        "       FROM d ORDER BY d.url, d.n DESC"
        "       ON CONFLICT (collection_id, url) DO UPDATE SET"
        "         title = EXCLUDED.title, body = EXCLUDED.body,"
        "         tags = EXCLUDED.tags, content_hash = EXCLUDED.content_hash,"
        "         fetched_at = now()"
        "       WHERE documents.content_hash <> EXCLUDED.content_hash"
        "          OR documents.title <> EXCLUDED.title"
        "          OR documents.tags <> EXCLUDED.tags"
        "       RETURNING 1)"
        " SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM u),"
        "   (SELECT count(*) - count(DISTINCT url) FROM d),"
        "   (SELECT coalesce(json_agg(url ORDER BY url), '[]') FROM"
        "     (SELECT url FROM d GROUP BY url HAVING count(*) > 1"
        "      ORDER BY url LIMIT $3::int) z),"
        "   md5($2::text)",
        3, p);
}
