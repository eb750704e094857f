#include "rag_store_jobs.h"

#include "rag_db.h"
#include "rag_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAG_JOB_MAX_PAYLOAD (1024 * 1024)
#define RAG_JOB_MAX_ERROR 2000

/* The ready index is (priority, run_at, id) WHERE state IN
 * ('queued','retry'): the inner SELECT walks it, skipping rows another
 * claimer holds, until it has $3 jobs. A keyed job (one collection's) is
 * taken only when none of its key runs and it is the first ready one of
 * its key, so one claim never takes two of a key either. Two claimers
 * racing for one key (their snapshots cannot see each other) are stopped
 * by the unique index jobs_serial_running: the loser's statement fails
 * with unique_violation and is retried. */
static const char claim_sql[] =
    "WITH c AS (SELECT id FROM jobs j"
    " WHERE state IN ('queued','retry') AND run_at <= now()"
    " AND (serial_key IS NULL OR (NOT EXISTS (SELECT 1 FROM jobs r"
    " WHERE r.serial_key = j.serial_key AND r.state = 'running')"
    " AND NOT EXISTS (SELECT 1 FROM jobs e"
    " WHERE e.serial_key = j.serial_key AND e.state IN ('queued','retry')"
    " AND e.run_at <= now()"
    " AND (e.priority, e.run_at, e.id) < (j.priority, j.run_at, j.id))))"
    " ORDER BY priority, run_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)"
    " UPDATE jobs j SET state = 'running', attempts = j.attempts + 1,"
    " locked_by = $1, lease_until = now() + make_interval(secs => $2),"
    " claim_token = pg_current_xact_id()::text::bigint,"
    " owner_pid = $4, owner_started = $5"
    " FROM c WHERE j.id = c.id"
    " RETURNING j.id, j.claim_token, j.kind, j.payload::text, j.attempts,"
    " j.max_attempts";

#define FENCE " WHERE id = $1 AND claim_token = $2 AND state = 'running'"

static const char complete_sql[] =
    "UPDATE jobs SET state = 'done', lease_until = NULL, last_error = NULL,"
    " finished_at = now()" FENCE " RETURNING id";

static const char fail_sql[] =
    "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts OR $4"
    " THEN 'dead' ELSE 'retry' END,"
    " run_at = now() + make_interval(secs => $3), lease_until = NULL,"
    " last_error = $5,"
    " finished_at = CASE WHEN attempts >= max_attempts OR $4 THEN now() "
    "END" FENCE " RETURNING state";

static const char release_sql[] =
    "UPDATE jobs SET state = 'retry', lease_until = NULL,"
    " run_at = now() + make_interval(secs => $3),"
    " attempts = attempts - 1, last_error = $4" FENCE " RETURNING id";

static const char extend_sql[] =
    "UPDATE jobs j SET lease_until = now() + make_interval(secs => $3),"
    " owner_pid = $4, owner_started = $5"
    " FROM unnest($1::bigint[], $2::bigint[]) AS f(id, token)"
    " WHERE j.id = f.id AND j.claim_token = f.token AND j.state = 'running'"
    " RETURNING j.id, j.claim_token";

/* A session is gone when no backend has its pid and start time (the
 * start time is hidden for other roles' sessions without
 * pg_read_all_stats: then the pid decides). */
static const char rescue_sql[] =
    "WITH r AS (SELECT id, lease_until < now() AS expired FROM jobs j"
    " WHERE state = 'running' AND (lease_until < now()"
    " OR (owner_pid IS NOT NULL AND NOT EXISTS (SELECT 1"
    " FROM pg_stat_activity a WHERE a.pid = j.owner_pid"
    " AND (a.backend_start IS NULL"
    " OR a.backend_start = j.owner_started))))"
    " FOR UPDATE SKIP LOCKED)"
    " UPDATE jobs j SET state = CASE WHEN attempts >= max_attempts"
    " THEN 'dead' ELSE 'retry' END, run_at = now(), lease_until = NULL,"
    " last_error = CASE WHEN r.expired THEN 'lease expired'"
    " ELSE 'database session gone' END"
    " || ' (worker ' || coalesce(locked_by, '?') || ' lost)',"
    " finished_at = CASE WHEN attempts >= max_attempts THEN now() END"
    " FROM r WHERE j.id = r.id"
    " RETURNING j.id, j.state, j.last_error";

static const char purge_sql[] =
    "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs"
    " WHERE state = 'done' AND finished_at < now() -"
    " make_interval(secs => $1::float8 * 86400) LIMIT 10000)";

void
rag_job_free(rag_job *job)
{
    free(job->payload);
    job->payload = NULL;
}

int
rag_store_jobs_session_get(PGconn *db, rag_store_jobs_session *s)
{
    PGresult *r;
    int rc = -1;

    memset(s, 0, sizeof(*s));
    r = rag_db_query(db,
                     "SELECT pid, backend_start FROM pg_stat_activity"
                     " WHERE pid = pg_backend_pid()",
                     0, NULL);
    if (r == NULL)
        return -1;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 1)) {
        snprintf(s->pid, sizeof(s->pid), "%s", PQgetvalue(r, 0, 0));
        snprintf(s->started, sizeof(s->started), "%s", PQgetvalue(r, 0, 1));
        rc = 0;
    }
    PQclear(r);
    return rc;
}

/* The fence of row i of a claim result. */
static void
job_fence(PGresult *r, int i, rag_job *job)
{
    memset(job, 0, sizeof(*job));
    job->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
    job->token = strtoll(PQgetvalue(r, i, 1), NULL, 10);
    snprintf(job->id_str, sizeof(job->id_str), "%lld", (long long)job->id);
    snprintf(job->token_str, sizeof(job->token_str), "%lld",
             (long long)job->token);
}

/* Runs the claim into *out: 1, or 0 when it lost every race for a
 * collection (unique_violation on jobs_serial_running; the retry's new
 * snapshot sees the winner, so one retry normally does), or -1.
 *
 * The claim commits without waiting for its WAL flush (synchronous_commit
 * off for this transaction only): a claim lost in a Postgres crash leaves
 * the job queued, to be claimed again, and the claimer's fenced
 * completion then matches no row, which is what a lost lease gives
 * already. Any later synchronous commit (the job's own result) flushes
 * the claim before it. That saves one fsync between enqueue and claim. */
static int
claim_query(PGconn *db, const char *const *p, PGresult **out)
{
    for (int tries = 0; tries < 5; tries++) {
        PGresult *r;
        const char *st, *msg;

        if (rag_db_begin(db) != 0)
            return -1;
        if (rag_db_exec(db, "SET LOCAL synchronous_commit = off", 0, NULL) !=
            0) {
            rag_db_rollback(db);
            return -1;
        }
        r = PQexecParams(db, claim_sql, 5, NULL, p, NULL, NULL, 0);
        st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            if (rag_db_commit(db) != 0) {
                PQclear(r);
                return -1;
            }
            *out = r;
            return 1;
        }
        rag_db_rollback(db);
        if (st == NULL || strcmp(st, "23505") != 0) {
            rag_error("msg=\"claim failed\" status=%s error=\"%s\"",
                      PQresStatus(PQresultStatus(r)),
                      msg ? msg : PQerrorMessage(db));
            PQclear(r);
            return -1;
        }
        PQclear(r);
    }
    rag_warn("msg=\"claim lost every race for a collection\"");
    return 0;
}

int
rag_store_jobs_claim(PGconn *db, const char *locked_by,
                     const rag_store_jobs_session *session, int lease_seconds,
                     int max, rag_job *jobs)
{
    char lease[16], lim[16];
    int has = session && session->pid[0];
    const char *p[5] = {locked_by, lease, lim, has ? session->pid : NULL,
                        has ? session->started : NULL};
    PGresult *r;
    int n, i;

    if (max < 1 || max > RAG_STORE_JOBS_MAX_BATCH)
        return -1;
    snprintf(lease, sizeof(lease), "%d", lease_seconds);
    snprintf(lim, sizeof(lim), "%d", max);
    n = claim_query(db, p, &r);
    if (n <= 0)
        return n;
    n = PQntuples(r);
    for (i = 0; i < n; i++) {
        const char *pl = PQgetvalue(r, i, 3);

        job_fence(r, i, &jobs[i]);
        snprintf(jobs[i].kind, sizeof(jobs[i].kind), "%s", PQgetvalue(r, i, 2));
        jobs[i].attempts = atoi(PQgetvalue(r, i, 4));
        jobs[i].max_attempts = atoi(PQgetvalue(r, i, 5));
        if (strlen(pl) > RAG_JOB_MAX_PAYLOAD)
            pl = "{}"; /* the handler rejects it as invalid */
        jobs[i].payload = strdup(pl);
        if (jobs[i].payload == NULL)
            break;
    }
    if (i < n) {
        /* out of memory: every claimed row goes straight back */
        for (int k = 0; k < n; k++) {
            rag_job stub;

            if (k < i)
                rag_job_free(&jobs[k]);
            job_fence(r, k, &stub);
            rag_store_jobs_release(db, &stub, 0, "out of memory");
        }
        n = -1;
    }
    PQclear(r);
    return n;
}

/* Runs a fenced statement with $1, $2 = the job's fence plus extra
 * parameters; 1 if a row came back (column 0 copied into out), 0 if the
 * job is not ours, -1 on error. */
static int
fenced(PGconn *db, const char *sql, const rag_job *job, int nextra,
       const char *const *extra, char *out, size_t outlen)
{
    const char *p[5] = {job->id_str, job->token_str, NULL, NULL, NULL};
    PGresult *r;
    int rc;

    for (int i = 0; i < nextra && i < 3; i++)
        p[2 + i] = extra[i];
    r = rag_db_query(db, sql, 2 + nextra, p);
    if (r == NULL)
        return -1;
    rc = PQntuples(r) > 0;
    if (rc && out)
        snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

int
rag_store_jobs_complete(PGconn *db, const rag_job *job)
{
    return fenced(db, complete_sql, job, 0, NULL, NULL, 0);
}

int
rag_store_jobs_fail(PGconn *db, const rag_job *job, const char *error,
                    double delay_s, int permanent, char *state_out)
{
    char delay[32], msg[RAG_JOB_MAX_ERROR + 1];
    const char *extra[3] = {delay, permanent ? "true" : "false", msg};

    snprintf(delay, sizeof(delay), "%.3f", delay_s < 0 ? 0 : delay_s);
    snprintf(msg, sizeof(msg), "%s", error && *error ? error : "error");
    if (state_out)
        strcpy(state_out, "?");
    return fenced(db, fail_sql, job, 3, extra, state_out, 8);
}

int
rag_store_jobs_release(PGconn *db, const rag_job *job, double delay_s,
                       const char *reason)
{
    char delay[32], msg[RAG_JOB_MAX_ERROR + 1];
    const char *extra[2] = {delay, msg};

    snprintf(delay, sizeof(delay), "%.3f", delay_s < 0 ? 0 : delay_s);
    snprintf(msg, sizeof(msg), "%s", reason && *reason ? reason : "released");
    return fenced(db, release_sql, job, 2, extra, NULL, 0);
}

/* "{1,2,3}" from n numbers given as text; -1 when it does not fit. */
static int
int_array(char *out, size_t outlen, const rag_job *jobs, int n, int token)
{
    size_t len = 0;
    int w;

    for (int i = 0; i < n; i++) {
        w = snprintf(out + len, outlen - len, "%c%s", i ? ',' : '{',
                     token ? jobs[i].token_str : jobs[i].id_str);
        if (w < 0 || (size_t)w >= outlen - len)
            return -1;
        len += (size_t)w;
    }
    w = snprintf(out + len, outlen - len, "%s", n ? "}" : "{}");
    return w < 0 || (size_t)w >= outlen - len ? -1 : 0;
}

int
rag_store_jobs_extend(PGconn *db, const rag_job *jobs, int n,
                      const rag_store_jobs_session *session, int lease_seconds,
                      int *ours)
{
    /* 20 digits + comma per job */
    char ids[RAG_STORE_JOBS_MAX_BATCH * 21 + 3];
    char tokens[RAG_STORE_JOBS_MAX_BATCH * 21 + 3], lease[16];
    int has = session && session->pid[0];
    const char *p[5] = {ids, tokens, lease, has ? session->pid : NULL,
                        has ? session->started : NULL};
    PGresult *r;
    int held = 0;

    if (n < 0 || n > RAG_STORE_JOBS_MAX_BATCH ||
        int_array(ids, sizeof(ids), jobs, n, 0) != 0 ||
        int_array(tokens, sizeof(tokens), jobs, n, 1) != 0)
        return -1;
    if (n == 0)
        return 0;
    snprintf(lease, sizeof(lease), "%d", lease_seconds);
    r = rag_db_query(db, extend_sql, 5, p);
    if (r == NULL)
        return -1;
    for (int i = 0; i < n; i++) {
        ours[i] = 0;
        for (int k = 0; k < PQntuples(r); k++)
            if (strtoll(PQgetvalue(r, k, 0), NULL, 10) == jobs[i].id &&
                strcmp(PQgetvalue(r, k, 1), jobs[i].token_str) == 0)
                ours[i] = 1;
        held += ours[i];
    }
    PQclear(r);
    return held;
}

int
rag_store_jobs_rescue(PGconn *db)
{
    PGresult *r = rag_db_query(db, rescue_sql, 0, NULL);
    int n;

    if (r == NULL)
        return -1;
    n = PQntuples(r);
    for (int i = 0; i < n; i++)
        rag_warn("msg=\"job rescued\" id=%s state=%s reason=\"%s\"",
                 PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
    PQclear(r);
    /* wake every worker, not only this one: the job is ready now */
    if (n > 0 && rag_db_exec(db, "SELECT pg_notify('rag_jobs', 'rescued')", 0,
                             NULL) != 0)
        return -1;
    return n;
}

int
rag_store_jobs_purge(PGconn *db, double days)
{
    char d[32];
    const char *p[1] = {d};
    PGresult *r;
    int n;

    snprintf(d, sizeof(d), "%.3f", days);
    r = rag_db_query(db, purge_sql, 1, p);
    if (r == NULL)
        return -1;
    n = atoi(PQcmdTuples(r));
    PQclear(r);
    return n;
}

int
rag_store_jobs_enqueue(PGconn *db, const char *kind, const char *payload_json,
                       const char *dedupe_key, int priority, char *id,
                       size_t idlen)
{
    char prio[16];
    const char *p[4] = {kind, payload_json, dedupe_key, prio};

    snprintf(prio, sizeof(prio), "%d", priority);
    return rag_db_value(db, "SELECT rag_enqueue($1, $2::jsonb, $3, $4::int)", 4,
                        p, id, idlen) == 1
               ? 0
               : -1;
}

int
rag_store_jobs_enqueue_answer(PGconn *db, const char *thread_id,
                              const char *message_id, const char *event_id,
                              char *id, size_t idlen)
{
    const char *p[3] = {thread_id, message_id, event_id};

    return rag_db_value(
        db,
        "SELECT rag_enqueue('answer',"
        " jsonb_build_object('thread_id', $1::text, 'message_id', $2::text,"
        "                    'event_id', $3::text),"
        " rag_answer_dedupe_key($1, $2), 50)"
        " FROM messages m WHERE m.thread_id = $1 AND m.message_id = $2"
        " AND rag_message_wants_answer(m)",
        3, p, id, idlen);
}

int
rag_store_jobs_listen(PGconn *db)
{
    return rag_db_exec(db, "LISTEN rag_jobs", 0, NULL);
}
