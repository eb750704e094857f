#include "rag_db.h"

#include "rag_buf.h"
#include "rag_log.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per thread: connections are not shared between threads, nor are their
 * failures. */
static __thread rag_db_error rag_db_tls_error;
static __thread int rag_db_tls_quiet;

#define RAG_MIGRATION_MAX_BYTES (4u * 1024 * 1024)
#define RAG_MIGRATION_MAX_FILES 512
/* arbitrary constant shared by every rag-admin: serialises migrations */
#define RAG_MIGRATION_LOCK "7418827301"

PGconn *
rag_db_connect(const char *conninfo, const char *app, char *err, size_t errlen)
{
    PGconn *db = PQconnectdb(conninfo ? conninfo : "");
    char *nl;

    if (PQstatus(db) != CONNECTION_OK) {
        snprintf(err, errlen, "%s", PQerrorMessage(db));
        nl = strchr(err, '\n');
        if (nl)
            *nl = '\0';
        PQfinish(db);
        return NULL;
    }
    if (app) {
        const char *p[1] = {app};
        PGresult *r = PQexecParams(db,
                                   "SELECT set_config('application_name',"
                                   " $1, false)",
                                   1, NULL, p, NULL, NULL, 0);
        PQclear(r);
    }
    return db;
}

const rag_db_error *
rag_db_last_error(void)
{
    return &rag_db_tls_error;
}

void
rag_db_log_errors(int on)
{
    rag_db_tls_quiet = !on;
}

/* Records why r (NULL: no result at all) failed, as one line. */
static void
record_error(PGconn *db, const PGresult *r)
{
    rag_db_error *e = &rag_db_tls_error;
    const char *msg, *state, *sev;
    size_t i = 0;

    msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    sev = r ? PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED) : NULL;
    for (msg = msg ? msg : PQerrorMessage(db);
         *msg && i + 1 < sizeof(e->message); msg++) {
        if (*msg == '\n' || *msg == '\r' || *msg == '\t') {
            if (i > 0 && e->message[i - 1] != ' ')
                e->message[i++] = ' ';
        } else {
            e->message[i++] = *msg;
        }
    }
    while (i > 0 && e->message[i - 1] == ' ')
        i--;
    e->message[i] = '\0';
    snprintf(e->sqlstate, sizeof(e->sqlstate), "%s", state ? state : "");
    e->conn_lost =
        PQstatus(db) != CONNECTION_OK ||
        (sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0));
}

PGresult *
rag_db_query(PGconn *db, const char *sql, int nparams,
             const char *const *params)
{
    PGresult *r = PQexecParams(db, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        rag_db_tls_error.message[0] = '\0';
        rag_db_tls_error.sqlstate[0] = '\0';
        rag_db_tls_error.conn_lost = 0;
        return r;
    }
    record_error(db, r);
    if (!rag_db_tls_quiet)
        rag_error("msg=\"query failed\" status=%s error=\"%s\" sqlstate=%s "
                  "sql=\"%.60s\"",
                  PQresStatus(st), rag_db_tls_error.message,
                  rag_db_tls_error.sqlstate[0] ? rag_db_tls_error.sqlstate
                                               : "-",
                  sql);
    PQclear(r);
    return NULL;
}

int
rag_db_value(PGconn *db, const char *sql, int nparams,
             const char *const *params, char *out, size_t outlen)
{
    PGresult *r = rag_db_query(db, sql, nparams, params);
    int rc;

    if (r == NULL)
        return -1;
    rc = PQntuples(r) > 0;
    if (rc)
        snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

long
rag_db_int(PGconn *db, const char *sql, int nparams, const char *const *params)
{
    PGresult *r = rag_db_query(db, sql, nparams, params);
    long v = -1;

    if (r != NULL && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

int
rag_db_exec(PGconn *db, const char *sql, int nparams, const char *const *params)
{
    PGresult *r = rag_db_query(db, sql, nparams, params);

    if (r == NULL)
        return -1;
    PQclear(r);
    return 0;
}

int
rag_db_count(PGconn *db, const char *sql, int nparams,
             const char *const *params)
{
    PGresult *r = rag_db_query(db, sql, nparams, params);
    int n;

    if (r == NULL)
        return -1;
    n = PQntuples(r);
    PQclear(r);
    return n;
}

int
rag_db_begin(PGconn *db)
{
    return rag_db_exec(db, "BEGIN", 0, NULL);
}

int
rag_db_commit(PGconn *db)
{
    return rag_db_exec(db, "COMMIT", 0, NULL);
}

void
rag_db_rollback(PGconn *db)
{
    PQclear(PQexec(db, "ROLLBACK"));
}

int
rag_db_ensure(PGconn *db)
{
    if (PQstatus(db) == CONNECTION_OK)
        return 1;
    PQreset(db);
    return PQstatus(db) == CONNECTION_OK;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
read_file(const char *path, rag_buf *out)
{
    char chunk[8192];
    size_t n;
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return -1;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (rag_buf_append(out, chunk, n) != 0) {
            fclose(f);
            return -1;
        }
    }
    n = (size_t)ferror(f);
    fclose(f);
    return n ? -1 : 0;
}

/* Applies one migration file unless already recorded. 1 applied, 0 skip. */
static int
migrate_one(PGconn *db, const char *dir, const char *name, char *err,
            size_t errlen)
{
    char path[4096];
    const char *p[1] = {name};
    PGresult *r = NULL;
    rag_buf sql;
    int rc = -1;

    rag_buf_init(&sql, RAG_MIGRATION_MAX_BYTES);
    r = rag_db_query(db, "SELECT 1 FROM schema_migrations WHERE version = $1",
                     1, p);
    if (r == NULL) {
        snprintf(err, errlen, "cannot read schema_migrations");
        goto done;
    }
    if (PQntuples(r) > 0) {
        rc = 0;
        goto done;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (read_file(path, &sql) != 0) {
        snprintf(err, errlen, "%s: cannot read (%s)", path, strerror(errno));
        goto done;
    }
    if (rag_db_begin(db) != 0)
        goto done;
    PQclear(r);
    r = PQexec(db, sql.data ? sql.data : "");
    if (PQresultStatus(r) != PGRES_COMMAND_OK &&
        PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "%s: %s", name, PQerrorMessage(db));
        rag_db_rollback(db);
        goto done;
    }
    if (rag_db_exec(db, "INSERT INTO schema_migrations (version) VALUES ($1)",
                    1, p) != 0 ||
        rag_db_commit(db) != 0) {
        snprintf(err, errlen, "%s: cannot record migration", name);
        rag_db_rollback(db);
        goto done;
    }
    rc = 1;
done:
    PQclear(r);
    rag_buf_free(&sql);
    return rc;
}

PGresult *
rag_db_migrations_applied(PGconn *db)
{
    return rag_db_query(
        db, "SELECT version FROM schema_migrations ORDER BY version", 0, NULL);
}

int
rag_db_migrate(PGconn *db, const char *dir, char *err, size_t errlen)
{
    char *names[RAG_MIGRATION_MAX_FILES];
    size_t n = 0, i, len;
    struct dirent *de;
    DIR *d;
    int applied = 0, rc;

    d = opendir(dir);
    if (d == NULL) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    while ((de = readdir(d)) != NULL && n < RAG_MIGRATION_MAX_FILES) {
        len = strlen(de->d_name);
        if (len > 4 && strcmp(de->d_name + len - 4, ".sql") == 0 &&
            de->d_name[0] >= '0' && de->d_name[0] <= '9')
            names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_str);

    if (rag_db_exec(db, "SELECT pg_advisory_lock(" RAG_MIGRATION_LOCK ")", 0,
                    NULL) != 0 ||
        rag_db_exec(db,
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version text PRIMARY KEY,"
                    " applied_at timestamptz NOT NULL DEFAULT now())",
                    0, NULL) != 0) {
        snprintf(err, errlen, "cannot lock or create schema_migrations");
        applied = -1;
    }
    for (i = 0; i < n; i++) {
        if (applied >= 0 && names[i]) {
            rc = migrate_one(db, dir, names[i], err, errlen);
            if (rc < 0)
                applied = -1;
            else
                applied += rc;
        }
        free(names[i]);
    }
    rag_db_exec(db, "SELECT pg_advisory_unlock(" RAG_MIGRATION_LOCK ")", 0,
                NULL);
    return applied;
}
