/*
 * rag_db — thin, checked wrappers over libpq for the daemons and tools.
 *
 * Every call checks the result status and logs the server's message
 * (never the parameters, which may hold user content). Returned
 * PGresults belong to the caller (PQclear). Connections are not shared
 * between threads.
 */
#ifndef RAG_DB_H
#define RAG_DB_H

#include <libpq-fe.h>
#include <stddef.h>

/* Connects (blocking) and sets application_name. NULL + err on failure. */
PGconn *rag_db_connect(const char *conninfo, const char *app, char *err,
                       size_t errlen);

/* Runs a statement with text parameters (params may hold NULLs for SQL
 * NULL). Returns the result when its status is COMMAND_OK or TUPLES_OK,
 * else logs, clears and returns NULL. */
PGresult *rag_db_query(PGconn *db, const char *sql, int nparams,
                       const char *const *params);

/* Like rag_db_query but for statements whose rows are not needed.
 * Returns 0 or -1. */
int rag_db_exec(PGconn *db, const char *sql, int nparams,
                const char *const *params);

/* Like rag_db_query for a statement whose rows are only counted (an
 * UPDATE ... RETURNING 1: "did it change anything"). Returns the number
 * of rows, or -1. */
int rag_db_count(PGconn *db, const char *sql, int nparams,
                 const char *const *params);

/* BEGIN / COMMIT / ROLLBACK; return 0 or -1. ROLLBACK never logs. */
int rag_db_begin(PGconn *db);
int rag_db_commit(PGconn *db);
void rag_db_rollback(PGconn *db);

/* Returns 1 when the connection is usable, resetting it once if not. */
int rag_db_ensure(PGconn *db);

/* Applies sql/NNN_*.sql files from dir in order, each in its own
 * transaction, recording them in schema_migrations; safe to re-run and
 * to run concurrently (advisory lock). Returns the number applied, or -1.
 */
int rag_db_migrate(PGconn *db, const char *dir, char *err, size_t errlen);

#endif
