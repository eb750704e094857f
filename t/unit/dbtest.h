/*
 * dbtest.h — what the t/unit/dbtest_* programs share: the database they
 * were given (argv[1], else RAG_TEST_DATABASE_URL; t/90-stores.t passes
 * one per program), connections to it, and reading one value.
 * Included by one test program each, like unit.h.
 */
#ifndef RAG_DBTEST_H
#define RAG_DBTEST_H

#include "rag_db.h"
#include "rag_log.h"

#include <stdio.h>
#include <stdlib.h>

static const char *dbtest_conninfo;
static const char *dbtest_name;

/* A new connection (application_name: the program's name, which
 * t/90-stores.t finds in Postgres' log); exits 2 when there is none. */
static PGconn *
connect_db(void)
{
    char err[256];
    PGconn *db = rag_db_connect(dbtest_conninfo, dbtest_name, err, sizeof(err));

    if (db == NULL) {
        fprintf(stderr, "%s: connect: %s\n", dbtest_name, err);
        exit(2);
    }
    return db;
}

/* The program's start: its database, or exit 2 with its usage. */
static PGconn *
dbtest_start(int argc, char **argv, const char *name)
{
    dbtest_name = name;
    dbtest_conninfo = argc > 1 ? argv[1] : getenv("RAG_TEST_DATABASE_URL");
    if (dbtest_conninfo == NULL) {
        fprintf(stderr, "usage: %s CONNINFO (see t/90-stores.t)\n", name);
        exit(2);
    }
    rag_log_set_level(RAG_LOG_ERROR);
    return connect_db();
}

/* First column of the first row of sql, as text ("" when no row). */
static char *
val(PGconn *db, const char *sql)
{
    static char out[1024];
    PGresult *r = rag_db_query(db, sql, 0, NULL);

    out[0] = '\0';
    if (r && PQntuples(r) > 0)
        snprintf(out, sizeof(out), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return out;
}

#endif
