/*
 * queue_runner — the rag-worker's claim loop.
 *
 * One dispatcher (the main thread) holds the worker's queue connection:
 * it LISTENs rag_jobs, claims ready jobs for the idle job threads, extends
 * the leases of running jobs (heartbeat every lease/3), rescues jobs of
 * dead workers and purges old ones. `concurrency` job threads, each with
 * its own PGconn, run the jobs handed to them and record the outcome
 * (fenced) on that connection.
 *
 * Liveness: jobs are claimed in the queue connection's session, so they
 * are rescued by any other worker as soon as that session ends (crash,
 * kill -9, lost connection), and after their lease otherwise (a paused or
 * hung process stops its heartbeat). After a reconnect the dispatcher
 * re-asserts its running jobs before anything else; a job another worker
 * rescued meanwhile is fenced off and its outcome is dropped ("lost").
 * Behind a transaction-mode pooler set no_session (the pooled backend is
 * not ours): the lease alone decides.
 *
 * Signals: SIGTERM/SIGINT stop claiming and wait up to grace_ms for the
 * in-flight jobs; jobs still running then are released (back to 'retry',
 * attempt not burnt) and the process exits. SIGHUP calls the reload
 * callback (config re-read) on the main thread.
 *
 * The handler runs on a job thread with that thread's connection and
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
    RAG_JOB_LOST = -3,      /* lease lost during the job: do nothing */
    RAG_JOB_DEFER = -4      /* must wait for something outside the queue:
                               back to the queue, attempt not counted */
};

typedef int (*rag_job_handler)(void *ctx, PGconn *db, const rag_job *job,
                               char *err, size_t errlen);

typedef struct {
    const char *conninfo;
    const char *worker_id; /* default: hostname:pid */
    int concurrency;       /* default 2 */
    long poll_interval_ms; /* default 1000 */
    int lease_seconds;     /* default 60 */
    long grace_ms;         /* shutdown grace, default 20000 */
    double backoff_base_s; /* retry delay base (attempts^4 * base) */
    double backoff_cap_s;  /* default 3600 */
    double defer_s;        /* RAG_JOB_DEFER: try again after, default 2 */
    double retention_days; /* purge 'done' jobs older than this; 0 keeps */
    int no_listen;         /* poll only (e.g. behind a transaction-mode
                              pooler, where LISTEN does not work) */
    int no_session;        /* lease-only liveness (transaction-mode
                              pooler: the backend is not ours) */
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
