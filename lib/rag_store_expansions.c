#include "rag_store_expansions.h"

#include "rag_buf.h"
#include "rag_db.h"

#include <stdio.h>

#define EXP_BATCH 1000 /* pairs per INSERT */

/* Appends s to an array literal as one quoted element. 0 or -1. */
static int
arr_put(rag_buf *b, const char *s)
{
    /* b holds "{" and the elements so far */
    if ((b->len > 1 && rag_buf_putc(b, ',') != 0) || rag_buf_putc(b, '"') != 0)
        return -1;
    for (; *s; s++)
        if (((*s == '"' || *s == '\\') && rag_buf_putc(b, '\\') != 0) ||
            rag_buf_putc(b, *s) != 0)
            return -1;
    return rag_buf_putc(b, '"');
}

static int
insert_batch(PGconn *db, const char *coll, const rag_store_expansion *v,
             size_t n)
{
    rag_buf a[3];
    int rc = -1;

    for (int k = 0; k < 3; k++)
        rag_buf_init(&a[k], 0);
    for (int k = 0; k < 3; k++)
        if (rag_buf_putc(&a[k], '{') != 0)
            goto done;
    for (size_t i = 0; i < n; i++) {
        if (arr_put(&a[0], v[i].page_url) != 0 ||
            arr_put(&a[1], v[i].anchor) != 0 || arr_put(&a[2], v[i].term) != 0)
            goto done;
    }
    for (int k = 0; k < 3; k++)
        if (rag_buf_putc(&a[k], '}') != 0)
            goto done;
    {
        const char *p[4] = {coll, a[0].data, a[1].data, a[2].data};
        rc = rag_db_exec(db,
                         "INSERT INTO expansions"
                         " (collection_id, page_url, anchor, term)"
                         " SELECT $1::bigint, u, a, t"
                         " FROM unnest($2::text[], $3::text[], $4::text[])"
                         "   AS x(u, a, t)"
                         " ON CONFLICT DO NOTHING",
                         4, p);
    }
done:
    for (int k = 0; k < 3; k++)
        rag_buf_free(&a[k]);
    return rc;
}

int
rag_store_expansions_store(PGconn *db, long long coll_id,
                           const rag_store_expansion *v, size_t n, int replace)
{
    char coll[24];
    const char *p[1] = {coll};

    snprintf(coll, sizeof(coll), "%lld", coll_id);
    if (rag_db_begin(db) != 0)
        return -1;
    if (replace &&
        rag_db_exec(db, "DELETE FROM expansions WHERE collection_id = $1", 1,
                    p) != 0)
        goto fail;
    for (size_t i = 0; i < n; i += EXP_BATCH)
        if (insert_batch(db, coll, v + i,
                         n - i < EXP_BATCH ? n - i : EXP_BATCH) != 0)
            goto fail;
    if (rag_db_commit(db) != 0)
        goto fail;
    return 0;
fail:
    rag_db_rollback(db);
    return -1;
}

PGresult *
rag_store_expansions_by_chunk(PGconn *db, long long coll_id)
{
    char coll[24];
    const char *p[1] = {coll};

    snprintf(coll, sizeof(coll), "%lld", coll_id);
    return rag_db_query(
        db,
        "SELECT r.chunk_id, string_agg(DISTINCT r.term, E'\\n')"
        " FROM (SELECT x.term, COALESCE("
        "   (SELECT c.id FROM chunks c WHERE c.document_id = d.id"
        "      AND x.anchor <> '' AND c.anchor = x.anchor"
        "    ORDER BY c.ordinal LIMIT 1),"
        "   (SELECT c.id FROM chunks c WHERE c.document_id = d.id"
        "    ORDER BY c.ordinal LIMIT 1)) AS chunk_id"
        "  FROM expansions x JOIN documents d"
        "    ON d.collection_id = x.collection_id AND d.url = x.page_url"
        "  WHERE x.collection_id = $1) r"
        " WHERE r.chunk_id IS NOT NULL"
        " GROUP BY r.chunk_id ORDER BY r.chunk_id",
        1, p);
}

long
rag_store_expansions_count(PGconn *db, long long coll_id)
{
    char coll[24];
    const char *p[1] = {coll};

    snprintf(coll, sizeof(coll), "%lld", coll_id);
    return rag_db_int(
        db, "SELECT count(*) FROM expansions WHERE collection_id = $1", 1, p);
}
