/*
 * One libpq connection per pool thread, made on first use and kept for
 * the thread's life. Only pool threads call these functions; the event
 * loop never touches libpq. Thread-local storage is the state here, not
 * a module global: each thread owns its connection.
 *
 * The SQL itself lives in lib/'s stores (rag_store_*.h, on rag_db.h),
 * the same code the daemons run; ngx_rag_pg_call runs one store call on
 * this thread's connection.
 *
 * A kept connection goes stale when the server closes it while it sits
 * idle (a restart, pg_terminate_backend, an idle timeout). The server
 * says so first (a FATAL message, then end of file), so before each use
 * a zero-timeout poll() looks for pending input and reads it: a stale
 * connection is replaced before any statement is sent on it. A
 * connection lost while a call runs is replaced too, and the call run
 * once more only if that is safe (see ngx_rag_pg_call).
 *
 * Errors never reach the client: rag_db records them instead of logging
 * (rag_db_log_errors(0) on these threads), the text goes to
 * t->db_error, which the event loop logs on the request's log
 * (ngx_rag_task.c).
 *
 * There is deliberately no thread-exit destructor: pool threads only end
 * when the worker process exits, and nginx unloads this module (dlclose)
 * right after its thread pool lets the last thread go — a destructor in
 * this object could still be running then (seen under ASan as a jump to
 * an unmapped address). The kernel closes the socket at exit.
 */

#include "ngx_rag_module.h"

#include "rag_db.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>


static __thread PGconn  *ngx_rag_pg_tls_conn;
static __thread char     ngx_rag_pg_tls_info[1024];
static __thread int      ngx_rag_pg_tls_closing;  /* server sent FATAL */


void
ngx_rag_pg_discard(void)
{
    if (ngx_rag_pg_tls_conn) {
        PQfinish(ngx_rag_pg_tls_conn);
        ngx_rag_pg_tls_conn = NULL;
    }
}


/*
 * Notices and errors that arrive outside a statement. On an idle
 * connection the only error the server sends is the one that explains
 * why it is about to close it. Also keeps libpq's default receiver from
 * printing to nginx's stderr.
 */
static void
ngx_rag_pg_notice(void *arg, const PGresult *res)
{
    int         *closing = arg;
    const char  *sev;

    sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);

    if (sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0)) {
        *closing = 1;
    }
}


/* 1 when db can take a statement, as far as can be told without a round
 * trip; reads whatever the server sent while the connection was idle. */
static int
ngx_rag_pg_usable(PGconn *db)
{
    int            n;
    PGnotify      *nf;
    struct pollfd  pfd;

    if (PQstatus(db) != CONNECTION_OK
        || PQtransactionStatus(db) != PQTRANS_IDLE
        || ngx_rag_pg_tls_closing)
    {
        return 0;
    }

    pfd.fd = PQsocket(db);
    pfd.events = POLLIN;
    pfd.revents = 0;

    n = poll(&pfd, 1, 0);

    if (n <= 0) {
        /* nothing pending (or EINTR): the statement will tell */
        return 1;
    }

    if (!PQconsumeInput(db)) {
        return 0;
    }

    while ((nf = PQnotifies(db)) != NULL) {
        PQfreemem(nf);
    }

    return PQstatus(db) == CONNECTION_OK && !ngx_rag_pg_tls_closing;
}


void
ngx_rag_pg_error(ngx_rag_task_t *t, ngx_uint_t down, const char *msg)
{
    char  *d, *end;

    /* one log line: newlines and tabs of libpq's messages become spaces,
     * runs of spaces one */
    d = t->db_error;
    end = t->db_error + sizeof(t->db_error) - 1;

    for ( /* void */ ; msg && *msg && d < end; msg++) {
        if (*msg == '\n' || *msg == '\t' || *msg == '\r' || *msg == ' ') {
            if (d > t->db_error && d[-1] != ' ') {
                *d++ = ' ';
            }
            continue;
        }
        *d++ = *msg;
    }

    while (d > t->db_error && d[-1] == ' ') {
        d--;
    }
    *d = '\0';

    t->db_down = down ? 1 : 0;
}


PGconn *
ngx_rag_pg_conn(ngx_rag_task_t *t)
{
    char        connect_timeout[24], options[64];
    PGconn     *db;
    const char *keys[5], *vals[5];

    if (ngx_rag_pg_tls_conn
        && strcmp(ngx_rag_pg_tls_info, t->conninfo) == 0)
    {
        if (ngx_rag_pg_usable(ngx_rag_pg_tls_conn)) {
            return ngx_rag_pg_tls_conn;
        }

        t->db_reconnected = 1;
    }

    ngx_rag_pg_discard();

    if (strlen(t->conninfo) >= sizeof(ngx_rag_pg_tls_info)) {
        ngx_rag_pg_error(t, 1, "rag_database string too long");
        return NULL;
    }

    /* a stalled server must cost a thread seconds, not forever */
    snprintf(connect_timeout, sizeof(connect_timeout), "%ld",
             t->db_timeout_ms / 1000 > 0 ? t->db_timeout_ms / 1000 : 1);
    snprintf(options, sizeof(options), "-c statement_timeout=%ld",
             t->db_timeout_ms);

    keys[0] = "dbname";            vals[0] = t->conninfo;
    keys[1] = "connect_timeout";   vals[1] = connect_timeout;
    keys[2] = "options";           vals[2] = options;
    keys[3] = "application_name";  vals[3] = "ngx_rag_module";
    keys[4] = NULL;                vals[4] = NULL;

    db = PQconnectdbParams(keys, vals, 1);

    if (db == NULL || PQstatus(db) != CONNECTION_OK) {
        ngx_rag_pg_error(t, 1, db ? PQerrorMessage(db) : "out of memory");
        PQfinish(db);
        return NULL;
    }

    ngx_rag_pg_tls_closing = 0;
    PQsetNoticeReceiver(db, ngx_rag_pg_notice, &ngx_rag_pg_tls_closing);

    /* failures are the request's: reported through t->db_error */
    rag_db_log_errors(0);

    ngx_rag_pg_tls_conn = db;
    snprintf(ngx_rag_pg_tls_info, sizeof(ngx_rag_pg_tls_info), "%s",
             t->conninfo);

    return db;
}


ngx_int_t
ngx_rag_pg_call(ngx_rag_task_t *t, ngx_rag_pg_call_pt call, void *arg,
    ngx_uint_t flags)
{
    char                 buf[sizeof(t->db_error)];
    PGconn              *db;
    ngx_uint_t           attempt;
    const rag_db_error  *e;

    for (attempt = 0; /* void */; attempt++) {

        db = ngx_rag_pg_conn(t);
        if (db == NULL) {
            return NGX_ERROR;
        }

        if (call(db, arg) == NGX_OK) {
            /* a lost connection before does not make this an error */
            t->db_error[0] = '\0';
            t->db_down = 0;
            return NGX_OK;
        }

        /* a call that ended inside a transaction did not finish it */
        if (PQtransactionStatus(db) != PQTRANS_IDLE) {
            rag_db_rollback(db);
        }

        e = rag_db_last_error();

        if (e->sqlstate[0]) {
            snprintf(buf, sizeof(buf), "%s (SQLSTATE %s)", e->message,
                     e->sqlstate);

        } else {
            snprintf(buf, sizeof(buf), "%s",
                     e->message[0] ? e->message : "statement failed");
        }

        if (!e->conn_lost && PQstatus(db) == CONNECTION_OK
            && !ngx_rag_pg_tls_closing)
        {
            /* the server refused the statement */
            ngx_rag_pg_error(t, 0, buf);
            return NGX_ERROR;
        }

        ngx_rag_pg_error(t, 1, buf);
        ngx_rag_pg_discard();

        /*
         * Run it again on a new connection only if running it twice has
         * the effect of running it once: the caller says so.
         */
        if (attempt > 0 || !(flags & NGX_RAG_PG_IDEMPOTENT)) {
            return NGX_ERROR;
        }

        t->db_reconnected = 1;
    }
}


ngx_int_t
ngx_rag_task_call(ngx_rag_task_t *t, ngx_rag_pg_call_pt call, void *arg,
    ngx_uint_t flags, const char *fail_msg)
{
    if (ngx_rag_pg_call(t, call, arg, flags) == NGX_OK) {
        return NGX_OK;
    }

    if (t->db_down) {
        ngx_rag_task_db_down(t);

    } else {
        ngx_rag_task_error(t, NGX_HTTP_INTERNAL_SERVER_ERROR, fail_msg);
    }

    return NGX_ERROR;
}
