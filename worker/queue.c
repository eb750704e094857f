#include "queue.h"

#include "rag_db.h"
#include "rag_log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAG_JOB_MAX_PAYLOAD (1024 * 1024)
#define RAG_JOB_MAX_ERROR 2000

/* The ready index is (priority, run_at, id) WHERE state IN
 * ('queued','retry'): the inner SELECT walks it and skips rows another
 * worker holds. */
static const char claim_sql[] =
    "WITH c AS (SELECT id FROM jobs"
    " WHERE state IN ('queued','retry') AND run_at <= now()"
    " ORDER BY priority, run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
    " UPDATE jobs j SET state = 'running', attempts = j.attempts + 1,"
    " locked_by = $1, lease_until = now() + make_interval(secs => $2)"
    " FROM c WHERE j.id = c.id"
    " RETURNING j.id, j.kind, j.payload::text, j.attempts, j.max_attempts";

#define FENCE " WHERE id = $1 AND locked_by = $2 AND attempts = $3" \
              " AND state = 'running'"

const char rag_queue_complete_sql[] =
    "UPDATE jobs SET state = 'done', lease_until = NULL, last_error = NULL,"
    " finished_at = now()" FENCE " RETURNING id";

static const char fail_sql[] =
    "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts OR $5"
    " THEN 'dead' ELSE 'retry' END,"
    " run_at = now() + make_interval(secs => $4), lease_until = NULL,"
    " last_error = $6,"
    " finished_at = CASE WHEN attempts >= max_attempts OR $5 THEN now() END"
    FENCE " RETURNING state";

static const char release_sql[] =
    "UPDATE jobs SET state = 'retry', run_at = now(), lease_until = NULL,"
    " attempts = attempts - 1, last_error = 'released at shutdown'"
    FENCE " RETURNING id";

static const char extend_sql[] =
    "UPDATE jobs SET lease_until = now() + make_interval(secs => $4)"
    FENCE " RETURNING id";

static const char rescue_sql[] =
    "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts"
    " THEN 'dead' ELSE 'retry' END, run_at = now(), lease_until = NULL,"
    " last_error = 'lease expired (worker ' || coalesce(locked_by, '?')"
    " || ' lost)',"
    " finished_at = CASE WHEN attempts >= max_attempts THEN now() END"
    " WHERE id IN (SELECT id FROM jobs WHERE state = 'running'"
    " AND lease_until < now() FOR UPDATE SKIP LOCKED)"
    " RETURNING id";

void
rag_job_free(rag_job *job)
{
    free(job->payload);
    job->payload = NULL;
}

int
rag_queue_claim(PGconn *db, const char *locked_by, int lease_seconds,
                rag_job *job)
{
    char lease[16];
    const char *p[2] = {locked_by, lease};
    PGresult *r;
    const char *pl;
    int rc = -1;

    memset(job, 0, sizeof(*job));
    snprintf(lease, sizeof(lease), "%d", lease_seconds);
    r = rag_db_query(db, claim_sql, 2, p);
    if (r == NULL)
        return -1;
    if (PQntuples(r) == 0) {
        rc = 0;
        goto done;
    }
    job->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    snprintf(job->kind, sizeof(job->kind), "%s", PQgetvalue(r, 0, 1));
    pl = PQgetvalue(r, 0, 2);
    if (strlen(pl) > RAG_JOB_MAX_PAYLOAD)
        pl = "{}"; /* the handler rejects it as invalid */
    job->payload = strdup(pl);
    if (job->payload == NULL)
        goto done;
    job->attempts = atoi(PQgetvalue(r, 0, 3));
    job->max_attempts = atoi(PQgetvalue(r, 0, 4));
    snprintf(job->locked_by, sizeof(job->locked_by), "%s", locked_by);
    snprintf(job->id_str, sizeof(job->id_str), "%lld", (long long) job->id);
    snprintf(job->attempts_str, sizeof(job->attempts_str), "%d",
             job->attempts);
    rc = 1;
done:
    PQclear(r);
    return rc;
}

/* Runs a fenced statement with $1..$3 = job fence plus extra params;
 * returns 1 if a row came back (copying column 0 into out), 0 if not. */
static int
fenced(PGconn *db, const char *sql, const rag_job *job, int nextra,
       const char *const *extra, char *out, size_t outlen)
{
    const char *p[6] = {job->id_str, job->locked_by, job->attempts_str,
                        NULL, NULL, NULL};
    PGresult *r;
    int rc;

    for (int i = 0; i < nextra && i < 3; i++)
        p[3 + i] = extra[i];
    r = rag_db_query(db, sql, 3 + nextra, p);
    if (r == NULL)
        return -1;
    rc = PQntuples(r) > 0;
    if (rc && out)
        snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

int
rag_queue_complete(PGconn *db, const rag_job *job)
{
    return fenced(db, rag_queue_complete_sql, job, 0, NULL, NULL, 0);
}

int
rag_queue_fail(PGconn *db, const rag_job *job, const char *error,
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
rag_queue_release(PGconn *db, const rag_job *job)
{
    return fenced(db, release_sql, job, 0, NULL, NULL, 0);
}

int
rag_queue_extend(PGconn *db, const rag_job *job, int lease_seconds)
{
    char lease[16];
    const char *extra[1] = {lease};

    snprintf(lease, sizeof(lease), "%d", lease_seconds);
    return fenced(db, extend_sql, job, 1, extra, NULL, 0);
}

int
rag_queue_rescue(PGconn *db)
{
    PGresult *r = rag_db_query(db, rescue_sql, 0, NULL);
    int n;

    if (r == NULL)
        return -1;
    n = PQntuples(r);
    for (int i = 0; i < n; i++)
        rag_warn("msg=\"job lease expired, rescued\" id=%s",
                 PQgetvalue(r, i, 0));
    PQclear(r);
    return n;
}

int
rag_queue_purge(PGconn *db, double days)
{
    char d[32];
    const char *p[1] = {d};
    PGresult *r;
    int n;

    snprintf(d, sizeof(d), "%.3f", days);
    /* bounded batch: a big backlog is worked off over several ticks */
    r = rag_db_query(db, "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs"
                         " WHERE state = 'done' AND finished_at < now() -"
                         " make_interval(secs => $1::float8 * 86400)"
                         " LIMIT 10000)", 1, p);
    if (r == NULL)
        return -1;
    n = atoi(PQcmdTuples(r));
    PQclear(r);
    return n;
}

double
rag_queue_backoff(int attempts, double base_s, double cap_s, double jitter01)
{
    double d;

    if (attempts < 1)
        attempts = 1;
    d = base_s * pow((double) attempts, 4.0);
    if (d > cap_s)
        d = cap_s;
    if (jitter01 < 0)
        jitter01 = 0;
    if (jitter01 > 1)
        jitter01 = 1;
    return d * (0.9 + 0.2 * jitter01);
}
