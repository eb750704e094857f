/*
 * rag_db — thin, checked wrappers over libpq for the daemons, the tools
 * and the nginx module's stores.
 *
 * Every call checks the result status and logs the server's message
 * (never the parameters, which may hold user content) through rag_log,
 * and records it for rag_db_last_error. Returned PGresults belong to the
 * caller (PQclear). Connections are not shared between threads.
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

/* Like rag_db_query for a statement whose answer is one value: the
 * first column of the first row is copied into out (cut to outlen - 1).
 * 1 when there was a row, 0 when none (out untouched), -1 on error. */
int rag_db_value(PGconn *db, const char *sql, int nparams,
                 const char *const *params, char *out, size_t outlen);

/* A statement whose answer is one integer (a count a function returns):
 * the first column of the first row, or -1 on error, no row or NULL. */
long rag_db_int(PGconn *db, const char *sql, int nparams,
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

/* The migrations recorded as applied (schema_migrations), in order: one
 * column, version. NULL when the table is missing (never migrated). */
PGresult *rag_db_migrations_applied(PGconn *db);

/* Applies sql/NNN_*.sql files from dir in order, each in its own
 * transaction, recording them in schema_migrations; safe to re-run and
 * to run concurrently (advisory lock). Returns the number applied, or -1.
 */
int rag_db_migrate(PGconn *db, const char *dir, char *err, size_t errlen);

/* The last failure of a rag_db call on this thread: the server's primary
 * message (else libpq's, one line), its SQLSTATE ("" when the server did
 * not answer) and whether the connection is gone (lost, or the server
 * ending the session) rather than the statement refused. Cleared by each
 * successful call; valid until the next rag_db call on this thread. */
typedef struct {
    char message[512];
    char sqlstate[6];
    int conn_lost;
} rag_db_error;

const rag_db_error *rag_db_last_error(void);

/* Whether this thread's failures are logged (the default) or only
 * recorded for rag_db_last_error: for a caller that reports them itself
 * (the nginx module, on the request's log). */
void rag_db_log_errors(int on);

#endif
