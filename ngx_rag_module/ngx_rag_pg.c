/*
 * One libpq connection per pool thread, made on first use and kept for
 * the thread's life. Only pool threads call these functions; the event
 * loop never touches libpq. Thread-local storage is the state here, not
 * a module global: each thread owns its connection.
 *
 * There is deliberately no thread-exit destructor: pool threads only end
 * when the worker process exits, and nginx unloads this module (dlclose)
 * right after its thread pool lets the last thread go — a destructor in
 * this object could still be running then (seen under ASan as a jump to
 * an unmapped address). The kernel closes the socket at exit.
 */

#include "ngx_rag_module.h"

#include <stdio.h>
#include <string.h>


static __thread PGconn  *ngx_rag_pg_tls_conn;
static __thread char     ngx_rag_pg_tls_info[1024];

void
ngx_rag_pg_discard(void)
{
    if (ngx_rag_pg_tls_conn) {
        PQfinish(ngx_rag_pg_tls_conn);
        ngx_rag_pg_tls_conn = NULL;
    }
}


PGconn *
ngx_rag_pg_conn(const char *conninfo, long timeout_ms, char *err,
    size_t errlen)
{
    char        connect_timeout[24], options[64];
    char       *nl;
    PGconn     *db;
    const char *keys[5], *vals[5];

    if (ngx_rag_pg_tls_conn
        && strcmp(ngx_rag_pg_tls_info, conninfo) == 0
        && PQstatus(ngx_rag_pg_tls_conn) == CONNECTION_OK
        && PQtransactionStatus(ngx_rag_pg_tls_conn) == PQTRANS_IDLE)
    {
        return ngx_rag_pg_tls_conn;
    }

    ngx_rag_pg_discard();

    if (strlen(conninfo) >= sizeof(ngx_rag_pg_tls_info)) {
        snprintf(err, errlen, "rag_database string too long");
        return NULL;
    }

    /* a stalled server must cost a thread seconds, not forever */
    snprintf(connect_timeout, sizeof(connect_timeout), "%ld",
             timeout_ms / 1000 > 0 ? timeout_ms / 1000 : 1);
    snprintf(options, sizeof(options), "-c statement_timeout=%ld",
             timeout_ms);

    keys[0] = "dbname";            vals[0] = conninfo;
    keys[1] = "connect_timeout";   vals[1] = connect_timeout;
    keys[2] = "options";           vals[2] = options;
    keys[3] = "application_name";  vals[3] = "ngx_rag_module";
    keys[4] = NULL;                vals[4] = NULL;

    db = PQconnectdbParams(keys, vals, 1);

    if (db == NULL || PQstatus(db) != CONNECTION_OK) {
        snprintf(err, errlen, "%s",
                 db ? PQerrorMessage(db) : "out of memory");
        nl = strchr(err, '\n');
        if (nl) {
            *nl = '\0';
        }
        PQfinish(db);
        return NULL;
    }

    ngx_rag_pg_tls_conn = db;
    snprintf(ngx_rag_pg_tls_info, sizeof(ngx_rag_pg_tls_info), "%s",
             conninfo);

    return db;
}


void
ngx_rag_task_db_down(ngx_rag_task_t *t, const char *err)
{
    rag_buf_reset(&t->body);
    t->status = NGX_HTTP_SERVICE_UNAVAILABLE;
    t->retry_after = 5;

    if (rag_buf_puts(&t->body, "{\"error\":\"database unavailable\","
                               "\"detail\":") != 0
        || rag_buf_json_str(&t->body, err, strlen(err)) != 0
        || rag_buf_putc(&t->body, '}') != 0)
    {
        rag_buf_reset(&t->body);
    }
}


PGresult *
ngx_rag_task_query(ngx_rag_task_t *t, const char *sql, int nparams,
    const char *const *params, const char *fail_msg)
{
    char       err[256];
    PGconn    *db;
    PGresult  *res;

    db = ngx_rag_pg_conn(t->conninfo, t->db_timeout_ms, err, sizeof(err));
    if (db == NULL) {
        ngx_rag_task_db_down(t, err);
        return NULL;
    }

    res = PQexecParams(db, sql, nparams, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(res) == PGRES_TUPLES_OK
        || PQresultStatus(res) == PGRES_COMMAND_OK)
    {
        return res;
    }

    snprintf(err, sizeof(err), "%s", PQerrorMessage(db));
    PQclear(res);

    if (PQstatus(db) != CONNECTION_OK) {
        /* the server went away mid-query: 503, and reconnect next time */
        ngx_rag_pg_discard();
        ngx_rag_task_db_down(t, err);

    } else {
        /* the detail stays in the Postgres log, not in the response */
        ngx_rag_task_error(t, NGX_HTTP_INTERNAL_SERVER_ERROR, fail_msg);
    }

    return NULL;
}
