#include "rag_store_collections.h"

#include "rag_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
rag_store_collections_upsert(PGconn *db, const char *name,
                             const char *description, const char *source_json,
                             char *id, size_t idlen)
{
    const char *p[3] = {name, description, source_json};
    int rc;

    rc = rag_db_value(db,
                      "INSERT INTO collections (name, description, source)"
                      " VALUES ($1, coalesce($2, ''),"
                      "  coalesce($3::jsonb, '{}'))"
                      " ON CONFLICT (name) DO UPDATE SET"
                      "  description = coalesce($2, collections.description),"
                      "  source = coalesce($3::jsonb, collections.source)"
                      " WHERE collections.description IS DISTINCT FROM"
                      "   coalesce($2, collections.description)"
                      "  OR collections.source IS DISTINCT FROM"
                      "   coalesce($3::jsonb, collections.source)"
                      " RETURNING id",
                      3, p, id, idlen);
    if (rc == 0) /* there already, unchanged: a fresh snapshot sees it
                  * even when a concurrent upsert created it */
        rc = rag_store_collections_id(db, name, id, idlen);
    return rc == 1 ? 0 : -1;
}

int
rag_store_collections_id(PGconn *db, const char *name, char *id, size_t idlen)
{
    const char *p[1] = {name};

    return rag_db_value(db, "SELECT id FROM collections WHERE name = $1", 1, p,
                        id, idlen);
}

int
rag_store_collections_product(PGconn *db, const char *name, char *out,
                              size_t outlen)
{
    const char *p[1] = {name};

    return rag_db_value(db,
                        "SELECT coalesce(nullif(description, ''), name)"
                        " FROM collections WHERE name = $1",
                        1, p, out, outlen);
}

int
rag_store_collections_try_lock(PGconn *db, const char *name)
{
    const char *p[1] = {name};
    PGresult *r = rag_db_query(
        db, "SELECT pg_try_advisory_lock(hashtext('rag_ingest:' || $1))", 1, p);
    int rc;

    if (r == NULL)
        return -1;
    rc = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return rc;
}

void
rag_store_collections_unlock(PGconn *db, const char *name)
{
    const char *p[1] = {name};

    rag_db_exec(db, "SELECT pg_advisory_unlock(hashtext('rag_ingest:' || $1))",
                1, p);
}

int
rag_store_collections_xact_lock(PGconn *db, const char *name)
{
    const char *p[1] = {name};

    return rag_db_exec(db, "SELECT pg_advisory_xact_lock(hashtext($1))", 1, p);
}

int
rag_store_collections_set_source(PGconn *db, const char *id, const char *json)
{
    const char *p[2] = {id, json};

    return rag_db_exec(
        db, "UPDATE collections SET source = $2::jsonb WHERE id = $1", 2, p);
}

char *
rag_store_collections_source(PGconn *db, const char *name)
{
    const char *p[1] = {name};
    PGresult *r = rag_db_query(
        db, "SELECT source::text FROM collections WHERE name = $1", 1, p);
    char *s = NULL;

    if (r && PQntuples(r) == 1)
        s = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return s;
}

int
rag_store_collections_boilerplate_sig(PGconn *db, const char *id, char *out,
                                      size_t outlen)
{
    const char *p[1] = {id};
    PGresult *r = rag_db_query(
        db, "SELECT boilerplate_sig FROM collections WHERE id = $1", 1, p);
    int rc = -1;

    if (r && PQntuples(r) == 1) {
        snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
        rc = 0;
    }
    PQclear(r);
    return rc;
}

int
rag_store_collections_set_boilerplate_sig(PGconn *db, const char *id,
                                          const char *sig)
{
    const char *p[2] = {id, sig};

    return rag_db_exec(
        db, "UPDATE collections SET boilerplate_sig = $2 WHERE id = $1", 2, p);
}

long long
rag_store_collections_generation(PGconn *db, const char *id)
{
    const char *p[1] = {id};
    PGresult *r = rag_db_query(
        db, "SELECT index_generation FROM collections WHERE id = $1", 1, p);
    long long g = -1;

    if (r && PQntuples(r) == 1)
        g = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return g;
}

long long
rag_store_collections_generation_named(PGconn *db, const char *name)
{
    const char *p[1] = {name};
    PGresult *r = rag_db_query(
        db, "SELECT index_generation FROM collections WHERE name = $1", 1, p);
    long long g = -1;

    if (r)
        g = PQntuples(r) == 1 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return g;
}

PGresult *
rag_store_collections_indexed(PGconn *db)
{
    return rag_db_query(db,
                        "SELECT name, index_generation FROM collections"
                        " WHERE index_generation > 0 ORDER BY name",
                        0, NULL);
}

PGresult *
rag_store_collections_overview(PGconn *db, int limit)
{
    char lim[16];
    const char *p[1] = {lim};

    snprintf(lim, sizeof(lim), "%d", limit);
    return rag_db_query(db,
                        "SELECT name, index_generation,"
                        " max(index_generation) OVER (), count(*) OVER ()"
                        " FROM collections ORDER BY name LIMIT $1::int",
                        1, p);
}

PGresult *
rag_store_collections_list(PGconn *db, int limit)
{
    char lim[16];
    const char *p[1] = {lim};

    snprintf(lim, sizeof(lim), "%d", limit);
    return rag_db_query(db,
                        "SELECT name, description FROM collections"
                        " ORDER BY name LIMIT $1::int",
                        1, p);
}

PGresult *
rag_store_collections_index_state(PGconn *db)
{
    return rag_db_query(db,
                        "SELECT c.name, c.index_generation,"
                        " EXISTS (SELECT 1 FROM documents WHERE"
                        " collection_id = c.id)"
                        " FROM collections c ORDER BY c.name",
                        0, NULL);
}

int
rag_store_collections_listen(PGconn *db)
{
    return rag_db_exec(db, "LISTEN rag_index", 0, NULL);
}

int
rag_store_collections_index_row(PGconn *db, const char *name, int lock,
                                long long *id, unsigned long long *gen,
                                char *language, size_t langlen)
{
    const char *p[1] = {name};
    PGresult *r = rag_db_query(
        db,
        lock ? "SELECT id, index_generation, coalesce(language, '')"
               " FROM collections WHERE name = $1 FOR UPDATE"
             : "SELECT id, index_generation, coalesce(language, '')"
               " FROM collections WHERE name = $1",
        1, p);
    int rc = -1;

    if (r) {
        rc = PQntuples(r) == 1;
        if (rc) {
            *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
            *gen = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
            snprintf(language, langlen, "%s", PQgetvalue(r, 0, 2));
        }
    }
    PQclear(r);
    return rc;
}

int
rag_store_collections_set_indexed(PGconn *db, long long id,
                                  unsigned long long gen, const char *path)
{
    char idbuf[32], genbuf[32];
    const char *p[3] = {idbuf, genbuf, path};

    snprintf(idbuf, sizeof(idbuf), "%lld", id);
    snprintf(genbuf, sizeof(genbuf), "%llu", gen);
    return rag_db_exec(db,
                       "UPDATE collections SET index_generation = $2,"
                       " index_path = $3, indexed_at = now() WHERE id = $1",
                       3, p);
}

int
rag_store_collections_set_language(PGconn *db, const char *name,
                                   const char *language)
{
    const char *p[2] = {name, language};
    PGresult *r = rag_db_query(db,
                               "UPDATE collections SET language = $2"
                               " WHERE name = $1 RETURNING id",
                               2, p);
    int rc = r && PQntuples(r) == 1 ? 0 : -1;

    PQclear(r);
    return rc;
}
