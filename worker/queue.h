/*
 * queue — the Postgres job queue over the `jobs` table (sql/001_init.sql).
 *
 * Claim: one short autocommit statement, `FOR UPDATE SKIP LOCKED` over
 * the ready partial index, setting state 'running', attempts + 1,
 * locked_by and a lease (lease_until). Every later change to the job is
 * fenced by (id, locked_by, attempts, state = 'running'), so a worker
 * whose lease expired and whose job was re-leased cannot complete, fail
 * or release it any more. Jobs of crashed workers are rescued by
 * rag_queue_rescue() once their lease has expired (River's "rescuer":
 * a rescued job may have run partly, so handlers are idempotent).
 *
 * Delivery is at-least-once; the answer job makes its effect exactly-once
 * by writing its reply in the same transaction as the fenced completion
 * (rag_queue_complete_sql).
 *
 * A rag_job owns its payload (free with rag_job_free). Functions take a
 * PGconn the caller owns; none keeps state between calls.
 */
#ifndef RAG_QUEUE_H
#define RAG_QUEUE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t id;
    char kind[16];
    char *payload;        /* JSON text (malloc'd) */
    int attempts;         /* including this one */
    int max_attempts;
    char locked_by[128];  /* "<worker_id>/<slot>" */
    char id_str[24];      /* id as text, for SQL parameters */
    char attempts_str[16];
} rag_job;

void rag_job_free(rag_job *job);

/* 1 and *job filled when a job was claimed, 0 when none is ready,
 * -1 on a database error. */
int rag_queue_claim(PGconn *db, const char *locked_by, int lease_seconds,
                    rag_job *job);

/* Fenced completion; 1 done, 0 when the lease was lost (someone else
 * owns the job now), -1 on error. */
int rag_queue_complete(PGconn *db, const rag_job *job);

/* The fenced completion statement, for use inside the caller's own
 * transaction: parameters $1 id, $2 locked_by, $3 attempts; returns one
 * row when the job was still ours. */
extern const char rag_queue_complete_sql[];

/* Records a failure: 'retry' with run_at = now() + delay_s, or 'dead'
 * when attempts reached max_attempts or permanent is set. last_error is
 * kept either way. Writes "retry" or "dead" into state_out (>= 8 bytes).
 * 1 recorded, 0 lease lost, -1 error. */
int rag_queue_fail(PGconn *db, const rag_job *job, const char *error,
                   double delay_s, int permanent, char *state_out);

/* Gives an in-flight job back (shutdown): 'retry', run_at now, attempts
 * restored so the release does not burn an attempt. 1, 0 lost, -1. */
int rag_queue_release(PGconn *db, const rag_job *job);

/* Extends the lease (heartbeat for long jobs). 1, 0 lost, -1. */
int rag_queue_extend(PGconn *db, const rag_job *job, int lease_seconds);

/* Returns running jobs whose lease expired to 'retry' (or 'dead' when
 * they used their last attempt). Returns the number rescued or -1. */
int rag_queue_rescue(PGconn *db);

/* Deletes 'done' jobs finished more than days ago (the table is high
 * churn; 'dead' jobs stay for inspection and requeue). Returns the
 * number deleted or -1. */
int rag_queue_purge(PGconn *db, double days);

/* Retry delay in seconds after `attempts` failed attempts:
 * min(cap, base * attempts^4) scaled by 0.9 + 0.2 * jitter01 (±10%).
 * Pure; jitter01 in [0, 1). */
double rag_queue_backoff(int attempts, double base_s, double cap_s,
                         double jitter01);

#endif
