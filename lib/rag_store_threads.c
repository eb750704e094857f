/*
 * rag_store_threads — the threads table (see rag_store_threads.h).
 */
#include "rag_store_threads.h"

#include "rag_db.h"

#include <stdio.h>
#include <string.h>

/* Runs a statement that RETURNs one row when it changed something:
 * 1 changed, 0 not, -1 error. */
static int
changed(PGconn *db, const char *sql, int n, const char *const *p)
{
    PGresult *r = rag_db_query(db, sql, n, p);
    int rc;

    if (r == NULL)
        return -1;
    rc = PQntuples(r) > 0;
    PQclear(r);
    return rc;
}

int
rag_store_threads_by_controller(PGconn *db, const char *controller_id,
                                rag_thread_ref *out)
{
    const char *p[] = {controller_id};
    PGresult *r;
    int rc;

    r = rag_db_query(db,
                     "SELECT thread_id, coalesce(author_id, ''), "
                     "coalesce(solved_by, '') FROM threads "
                     "WHERE thread_controller_id = $1",
                     1, p);
    if (r == NULL)
        return -1;
    rc = PQntuples(r) == 1;
    if (rc) {
        snprintf(out->thread_id, sizeof(out->thread_id), "%s",
                 PQgetvalue(r, 0, 0));
        snprintf(out->author_id, sizeof(out->author_id), "%s",
                 PQgetvalue(r, 0, 1));
        snprintf(out->solved_by, sizeof(out->solved_by), "%s",
                 PQgetvalue(r, 0, 2));
    }
    PQclear(r);
    return rc;
}

int
rag_store_threads_solve(PGconn *db, const char *thread_id, const char *user_id)
{
    const char *p[] = {thread_id, user_id};

    return changed(db,
                   "UPDATE threads SET solved = true, solved_by = $2, "
                   "solved_at = now() WHERE thread_id = $1 AND NOT solved "
                   "RETURNING 1",
                   2, p);
}

int
rag_store_threads_unsolve(PGconn *db, const char *thread_id)
{
    const char *p[] = {thread_id};

    return changed(db,
                   "UPDATE threads SET solved = false WHERE thread_id = $1 "
                   "AND solved RETURNING 1",
                   1, p);
}

int
rag_store_threads_set_open(PGconn *db, const char *thread_id, int open)
{
    const char *p[] = {thread_id, open ? "true" : "false"};

    return changed(db,
                   "UPDATE threads SET open = $2::boolean WHERE "
                   "thread_id = $1 AND open <> $2::boolean RETURNING 1",
                   2, p);
}
