#include "rag_store_collections.h"

#include "rag_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
rag_store_collections_ensure(PGconn *db, const char *name, char *id,
                             size_t idlen)
{
    const char *p[1] = {name};
    PGresult *r;
    int rc = -1;

    if (rag_db_exec(db,
                    "INSERT INTO collections (name) VALUES ($1) "
                    "ON CONFLICT (name) DO NOTHING",
                    1, p) != 0 ||
        (r = rag_db_query(db, "SELECT id FROM collections WHERE name = $1", 1,
                          p)) == NULL)
        return -1;
    if (PQntuples(r) == 1) {
        snprintf(id, idlen, "%s", PQgetvalue(r, 0, 0));
        rc = 0;
    }
    PQclear(r);
    return rc;
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
