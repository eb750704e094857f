#include "rag_store_chunks.h"

#include "rag_buf.h"
#include "rag_db.h"

#include <stdio.h>
#include <stdlib.h>

/* Appends s as a quoted element of a Postgres array literal. */
static int
array_elem(rag_buf *b, const char *s)
{
    if (rag_buf_putc(b, '"'))
        return -1;
    for (; *s; s++) {
        if ((*s == '"' || *s == '\\') && rag_buf_putc(b, '\\'))
            return -1;
        if (rag_buf_putc(b, *s))
            return -1;
    }
    return rag_buf_putc(b, '"');
}

int
rag_store_chunks_replace(PGconn *db, const char *doc_id, const rag_chunks *cs)
{
    rag_buf hp, an, bd, tk;
    const char *p1[1] = {doc_id};
    int rc = -1;

    rag_buf_init(&hp, 0);
    rag_buf_init(&an, 0);
    rag_buf_init(&bd, 0);
    rag_buf_init(&tk, 0);
    if (rag_db_exec(db,
                    "UPDATE chunks SET ordinal = -ordinal - 1 "
                    "WHERE document_id = $1 AND ordinal >= 0",
                    1, p1) != 0)
        goto done;
    /* all chunks of the page in one statement: four parallel arrays */
    for (size_t i = 0; i < cs->n; i++) {
        const char *sep = i ? "," : "{";
        if (rag_buf_puts(&hp, sep) || array_elem(&hp, cs->v[i].heading_path) ||
            rag_buf_puts(&an, sep) || array_elem(&an, cs->v[i].anchor) ||
            rag_buf_puts(&bd, sep) || array_elem(&bd, cs->v[i].text) ||
            rag_buf_printf(&tk, "%s%zu", sep, cs->v[i].tokens))
            goto done;
    }
    if (cs->n) {
        const char *p[5];
        if (rag_buf_putc(&hp, '}') || rag_buf_putc(&an, '}') ||
            rag_buf_putc(&bd, '}') || rag_buf_putc(&tk, '}'))
            goto done;
        p[0] = doc_id;
        p[1] = hp.data;
        p[2] = an.data;
        p[3] = bd.data;
        p[4] = tk.data;
        if (rag_db_exec(db,
                        "INSERT INTO chunks (document_id, ordinal, "
                        "heading_path, anchor, body, token_count) "
                        "SELECT $1, t.n - 1, t.h, t.a, t.b, t.k FROM "
                        "unnest($2::text[], $3::text[], $4::text[], "
                        "$5::int[]) WITH ORDINALITY AS t(h, a, b, k, n)",
                        5, p) != 0)
            goto done;
    }
    if (rag_db_exec(db,
                    "UPDATE chunks n SET embedding = o.embedding, "
                    "embed_model = o.embed_model FROM chunks o "
                    "WHERE n.document_id = $1 AND o.document_id = $1 "
                    "AND n.ordinal >= 0 AND o.ordinal < 0 "
                    "AND o.embedding IS NOT NULL AND n.body = o.body",
                    1, p1) != 0 ||
        rag_db_exec(db,
                    "DELETE FROM chunks WHERE document_id = $1 "
                    "AND ordinal < 0",
                    1, p1) != 0)
        goto done;
    rc = 0;
done:
    rag_buf_free(&hp);
    rag_buf_free(&an);
    rag_buf_free(&bd);
    rag_buf_free(&tk);
    return rc;
}

PGresult *
rag_store_chunks_unembedded(PGconn *db, const char *coll_id, int limit)
{
    char lim[16];
    const char *p[2] = {coll_id, lim};

    snprintf(lim, sizeof(lim), "%d", limit);
    return rag_db_query(db,
                        "SELECT c.id, c.heading_path, c.body FROM chunks c "
                        "JOIN documents d ON d.id = c.document_id "
                        "WHERE d.collection_id = $1 AND c.embedding IS NULL "
                        "ORDER BY c.id LIMIT $2",
                        2, p);
}

int
rag_store_chunks_set_embedding(PGconn *db, const char *id, const char *vec,
                               const char *model)
{
    const char *p[3] = {id, vec, model};

    return rag_db_exec(db,
                       "UPDATE chunks SET embedding = $2::real[], "
                       "embed_model = $3 WHERE id = $1",
                       3, p);
}

long
rag_store_chunks_common_dims(PGconn *db, long long coll_id, long max_dims)
{
    char id[32];
    const char *p[1] = {id};
    PGresult *r;
    long d = 0;

    snprintf(id, sizeof(id), "%lld", coll_id);
    r = rag_db_query(db,
                     "SELECT array_length(c.embedding, 1), count(*)"
                     " FROM chunks c JOIN documents d ON d.id = c.document_id"
                     " WHERE d.collection_id = $1 AND c.embedding IS NOT NULL"
                     " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1",
                     1, p);
    if (r == NULL)
        return -1;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        d = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return d > 0 && d <= max_dims ? d : 0;
}

int
rag_store_chunks_index_open(PGconn *db, long long coll_id, unsigned dims)
{
    char sql[640];

    /* DECLARE takes no parameters: two numbers, printed */
    snprintf(sql, sizeof(sql),
             "DECLARE rag_reindex_cur NO SCROLL CURSOR FOR"
             " SELECT c.id, CASE WHEN c.anchor <> ''"
             "   THEN d.url || '#' || c.anchor ELSE d.url END,"
             " d.title, c.heading_path, c.body,"
             " CASE WHEN array_length(c.embedding, 1) = %u"
             "   THEN c.embedding::text END"
             " FROM chunks c JOIN documents d ON d.id = c.document_id"
             " WHERE d.collection_id = %lld"
             " ORDER BY d.url, c.ordinal, c.id",
             dims, coll_id);
    return rag_db_exec(db, sql, 0, NULL);
}

PGresult *
rag_store_chunks_index_fetch(PGconn *db, int n)
{
    char sql[64];

    snprintf(sql, sizeof(sql), "FETCH %d FROM rag_reindex_cur", n);
    return rag_db_query(db, sql, 0, NULL);
}

PGresult *
rag_store_chunks_search_fts(PGconn *db, const char *collection,
                            const char *query, int limit)
{
    char lim[16];
    const char *p[3] = {collection, query, lim};

    snprintf(lim, sizeof(lim), "%d", limit);
    return rag_db_query(
        db,
        "SELECT d.url, c.anchor, coalesce(nullif(d.title, ''), d.url),"
        " c.heading_path,"
        " ts_rank_cd(to_tsvector('english', c.body), q, 32) AS s"
        " FROM chunks c JOIN documents d ON d.id = c.document_id"
        " JOIN collections co ON co.id = d.collection_id,"
        " plainto_tsquery('english', $2) q"
        " WHERE co.name = $1 AND to_tsvector('english', c.body) @@ q"
        " ORDER BY s DESC, c.id LIMIT $3::int",
        3, p);
}
