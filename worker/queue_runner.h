/*
 * queue_runner — the rag-worker's claim loop: `concurrency` threads, each
 * with its own PGconn, claim and run jobs back to back while work is
 * ready; the main thread holds a separate LISTEN rag_jobs connection,
 * wakes the threads on NOTIFY (a hint) and on every poll tick anyway,
 * rescues jobs whose lease expired, and extends the leases of long jobs
 * (heartbeat every lease/3).
 *
 * Signals: SIGTERM/SIGINT stop claiming and wait up to grace_ms for the
 * in-flight jobs; jobs still running then are released (back to 'retry',
 * attempt not burnt) and the process exits. SIGHUP calls the reload
 * callback (config re-read) on the main thread.
 *
 * The handler runs on a worker thread with that thread's connection and
 * returns one of RAG_JOB_*; the runner then records the outcome (fenced)
 * and logs one line per job.
 */
#ifndef RAG_QUEUE_RUNNER_H
#define RAG_QUEUE_RUNNER_H

#include "queue.h"

#include <libpq-fe.h>
#include <stddef.h>

enum {
    RAG_JOB_OK = 0,         /* runner completes the job */
    RAG_JOB_COMPLETED = 1,  /* handler completed it in its own txn */
    RAG_JOB_RETRY = -1,     /* transient failure: retry with backoff */
    RAG_JOB_PERMANENT = -2, /* will never succeed: dead now */
    RAG_JOB_LOST = -3       /* lease lost during the job: do nothing */
};

typedef int (*rag_job_handler)(void *ctx, PGconn *db, const rag_job *job,
                               char *err, size_t errlen);

typedef struct {
    const char *conninfo;
    const char *worker_id;   /* default: hostname:pid */
    int concurrency;         /* default 2 */
    long poll_interval_ms;   /* default 1000 */
    int lease_seconds;       /* default 300 */
    long grace_ms;           /* shutdown grace, default 20000 */
    double backoff_base_s;   /* retry delay base (attempts^4 * base) */
    double backoff_cap_s;    /* default 3600 */
    double retention_days;   /* purge 'done' jobs older than this; 0 keeps */
    int no_listen;           /* poll only (e.g. behind a transaction-mode
                                pooler, where LISTEN does not work) */
    rag_job_handler handler;
    void *ctx;
    /* SIGHUP: may update the fields above except concurrency/conninfo. */
    void (*reload)(void *ctx, void *runner_conf);
} rag_runner_conf;

/* Runs until SIGTERM/SIGINT. 0 on a clean stop (every thread joined),
 * 1 when jobs were released and their threads left running (the caller
 * must not free the handler's context, just exit), -1 if it could not
 * start (no database). */
int rag_runner_run(rag_runner_conf *rc);

#endif
