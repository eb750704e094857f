/*
 * lib/'s log lines (rag_log.h) in nginx's error log.
 *
 * The lib/ code the module shares with the daemons logs through
 * rag_log(); in a worker process its sink is set here, at init_process,
 * so nothing is written to nginx's stderr.
 *
 * A pool thread may not call the nginx API, and its lines belong to the
 * request it works for: a line logged while a task runs is kept in the
 * task (t->lib_log, bounded) and written by the event loop when the task
 * completes, on the request's log, with the request's context. A line
 * logged on the event loop goes to the cycle's log at once. A line from
 * any other thread (none of ours) is written to stderr in one write(),
 * which nginx points at its error log.
 */

#include "ngx_rag_module.h"

#include "rag_log.h"
#include "rag_time.h"

#include <pthread.h>
#include <stdio.h>
#include <unistd.h>


static __thread ngx_rag_task_t  *ngx_rag_log_tls_task;


static ngx_uint_t
ngx_rag_log_ngx_level(enum rag_log_level lvl)
{
    switch (lvl) {
    case RAG_LOG_DEBUG:
        return NGX_LOG_DEBUG;
    case RAG_LOG_INFO:
        return NGX_LOG_INFO;
    case RAG_LOG_WARN:
        return NGX_LOG_WARN;
    default:
        return NGX_LOG_ERR;
    }
}


/* Keeps one line in t: "<level digit><msg>\n"; lines past the room are
 * counted, not kept. */
static void
ngx_rag_log_keep(ngx_rag_task_t *t, enum rag_log_level lvl, const char *msg,
    size_t len)
{
    size_t  room;

    room = sizeof(t->lib_log) - t->lib_log_len;

    if (len + 3 > room) {
        t->lib_log_dropped++;
        return;
    }

    t->lib_log[t->lib_log_len++] = (char) ('0' + lvl);
    ngx_memcpy(t->lib_log + t->lib_log_len, msg, len);
    t->lib_log_len += len;
    t->lib_log[t->lib_log_len++] = '\n';
}


static void
ngx_rag_log_sink(void *ud, enum rag_log_level lvl, const char *msg,
    size_t len)
{
    char        line[1024];
    int         n;
    pthread_t  *loop = ud;

    if (ngx_rag_log_tls_task != NULL) {
        ngx_rag_log_keep(ngx_rag_log_tls_task, lvl, msg, len);
        return;
    }

    if (pthread_equal(pthread_self(), *loop)) {
        ngx_log_error(ngx_rag_log_ngx_level(lvl), ngx_cycle->log, 0,
                      "rag: %*s", len, msg);
        return;
    }

    n = snprintf(line, sizeof(line), "rag: [%s] %.*s\n",
                 rag_log_level_name(lvl), (int) len, msg);
    if (n > 0) {
        (void) write(STDERR_FILENO, line,
                     (size_t) n < sizeof(line) ? (size_t) n
                                               : sizeof(line) - 1);
    }
}


ngx_int_t
ngx_rag_log_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t           level;
    pthread_t           *loop;
    enum rag_log_level   min;

    /* the sink's only state: which thread runs the event loop */
    loop = ngx_palloc(cycle->pool, sizeof(pthread_t));
    if (loop == NULL) {
        return NGX_ERROR;
    }

    *loop = pthread_self();

    level = cycle->log->log_level;
    min = level >= NGX_LOG_DEBUG ? RAG_LOG_DEBUG
          : level >= NGX_LOG_INFO ? RAG_LOG_INFO
          : level >= NGX_LOG_WARN ? RAG_LOG_WARN
                                  : RAG_LOG_ERROR;

    rag_log_set_level(min);
    rag_log_set_sink(ngx_rag_log_sink, loop);

    /* lib/ code (rag_http's retries) must never sleep on our threads */
    rag_time_forbid_sleep();

    return NGX_OK;
}


void
ngx_rag_log_task_begin(ngx_rag_task_t *t)
{
    ngx_rag_log_tls_task = t;
}


void
ngx_rag_log_task_end(void)
{
    ngx_rag_log_tls_task = NULL;
}


void
ngx_rag_log_task_flush(ngx_rag_task_t *t, ngx_log_t *log)
{
    char  *p, *end, *nl;

    p = t->lib_log;
    end = t->lib_log + t->lib_log_len;

    while (p < end) {
        nl = memchr(p, '\n', end - p);
        if (nl == NULL) {
            break;
        }

        ngx_log_error(ngx_rag_log_ngx_level((enum rag_log_level) (*p - '0')),
                      log, 0, "rag: %*s", (size_t) (nl - p - 1), p + 1);
        p = nl + 1;
    }

    if (t->lib_log_dropped) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "rag: %ui more log lines of this request dropped",
                      t->lib_log_dropped);
    }

    t->lib_log_len = 0;
    t->lib_log_dropped = 0;
}
