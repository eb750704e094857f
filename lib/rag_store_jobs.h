/*
 * rag_store_jobs — every statement the daemons run on the `jobs` table
 * (sql/001_init.sql, sql/020_queue_liveness.sql, sql/021_queue_serial.sql):
 * claim, fenced completion / failure / release, lease heartbeat, rescue of
 * jobs whose worker is gone, purge. Enqueueing is the SQL function
 * rag_enqueue() (triggers and the module call it).
 *
 * Claim: one autocommit statement takes up to `max` ready jobs
 * (`FOR UPDATE SKIP LOCKED` over the ready index, by priority, run_at,
 * id), sets them 'running', attempts + 1, a lease, a fresh claim token
 * (the claiming transaction's id) and the claiming session's identity
 * (backend pid + start time). Jobs that change one collection (ingest,
 * reindex, community: jobs.serial_key) are claimed one at a time per
 * collection: the next waits, queued, until the running one ends.
 *
 * Fence: every later change to a job matches (id, claim token,
 * state = 'running'), so whoever lost the job — its lease expired, its
 * session died, it was released — can no longer complete, fail, extend
 * or release it.
 *
 * Liveness: a running job is rescued (back to 'retry', or 'dead' after
 * its last attempt) when its lease expires or, at once, when the session
 * that claimed it no longer exists in pg_stat_activity (the worker
 * crashed or lost its connection). Behind a transaction-mode pooler the
 * backend is not the worker's: pass a NULL session and the lease alone
 * decides.
 *
 * Ownership: a claimed rag_job owns its payload (rag_job_free). Every
 * function takes a PGconn the caller owns and keeps nothing between calls.
 * Return values: counts or 1 = done, 0 = not ours any more (fence), -1 =
 * database error (logged).
 */
#ifndef RAG_STORE_JOBS_H
#define RAG_STORE_JOBS_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#define RAG_STORE_JOBS_MAX_BATCH 256

typedef struct {
    int64_t id;
    int64_t token; /* claim token: the fence */
    char kind[16];
    char *payload; /* JSON text (malloc'd) */
    int attempts;  /* including this one */
    int max_attempts;
    char id_str[24]; /* id and token as text, for SQL parameters */
    char token_str[24];
} rag_job;

void rag_job_free(rag_job *job);

/* The claiming connection's identity in pg_stat_activity. */
typedef struct {
    char pid[16];
    char started[64]; /* backend_start as text */
} rag_store_jobs_session;

/* Fills s for db's own backend. 0, or -1. */
int rag_store_jobs_session_get(PGconn *db, rag_store_jobs_session *s);

/* Claims up to max (1..RAG_STORE_JOBS_MAX_BATCH) ready jobs into
 * jobs[0..n), leased for lease_seconds to locked_by (a label for people)
 * and session (NULL: lease only). Returns n (0 when none is ready) or -1.
 * On -1 nothing is claimed; on n > 0 the caller frees each job. */
int rag_store_jobs_claim(PGconn *db, const char *locked_by,
                         const rag_store_jobs_session *session,
                         int lease_seconds, int max, rag_job *jobs);

/* Fenced completion: 'done'. Also usable inside the caller's own
 * transaction (the answer job commits its reply with it). */
int rag_store_jobs_complete(PGconn *db, const rag_job *job);

/* Records a failure: 'retry' with run_at = now() + delay_s, or 'dead'
 * when attempts reached max_attempts or permanent is set. last_error is
 * kept either way. Writes "retry" or "dead" into state_out (>= 8 bytes,
 * may be NULL). */
int rag_store_jobs_fail(PGconn *db, const rag_job *job, const char *error,
                        double delay_s, int permanent, char *state_out);

/* Gives a job back without burning its attempt: 'retry', run_at =
 * now() + delay_s, attempts - 1, last_error = reason (shutdown, or a
 * job that must wait for something outside the queue). */
int rag_store_jobs_release(PGconn *db, const rag_job *job, double delay_s,
                           const char *reason);

/* Heartbeat for n jobs at once: lease_until = now() + lease_seconds and
 * the owner set to session (re-asserted after a reconnect). ours[i] is
 * set to 1 for each job still held, 0 for each lost. Returns the number
 * still held, or -1 (ours untouched). */
int rag_store_jobs_extend(PGconn *db, const rag_job *jobs, int n,
                          const rag_store_jobs_session *session,
                          int lease_seconds, int *ours);

/* Returns running jobs whose lease expired or whose claiming session is
 * gone to 'retry' ('dead' after their last attempt) and wakes the
 * workers (NOTIFY rag_jobs). Returns the number rescued, or -1. */
int rag_store_jobs_rescue(PGconn *db);

/* Deletes up to 10000 'done' jobs finished more than days ago ('dead'
 * ones stay for inspection). Returns the number deleted, or -1. */
int rag_store_jobs_purge(PGconn *db, double days);

/* Enqueues through the SQL function rag_enqueue() (dedupe key: a replay
 * returns the first job; a waiting identical collection job absorbs the
 * new one). The job's id (text) into id. 0 or -1. */
int rag_store_jobs_enqueue(PGconn *db, const char *kind,
                           const char *payload_json, const char *dedupe_key,
                           int priority, char *id, size_t idlen);

/* The answer job for a stored message, with the key and predicate the
 * messages trigger uses (sql/001): 1 enqueued (or already there: id
 * filled), 0 the message is unknown or needs no answer, -1 on error. */
int rag_store_jobs_enqueue_answer(PGconn *db, const char *thread_id,
                                  const char *message_id, const char *event_id,
                                  char *id, size_t idlen);

/* LISTEN rag_jobs: enqueues, rescues and ends of serialized jobs notify.
 * 0 or -1. */
int rag_store_jobs_listen(PGconn *db);

#endif
