/*
 * queue_bench — measures the Postgres job queue (lib/rag_store_jobs.c):
 *
 *   queue_bench claim CONNINFO THREADS BATCH [nocomplete]
 *       claims every ready job with THREADS connections, up to BATCH per
 *       claim statement, completing each (fenced, one statement and one
 *       commit per job) unless nocomplete; prints "jobs seconds"
 *   queue_bench legacy CONNINFO THREADS [nocomplete]
 *       the same with the claim and completion statements as they were
 *       before batched claims (commit 75f904a): the baseline
 *   queue_bench latency CONNINFO MODE N INTERVAL_MS
 *       a producer enqueues N jobs (rag_enqueue, which NOTIFYs) at random
 *       gaps of 0-100 ms while one consumer claims them; prints the
 *       enqueue→claim latency percentiles. MODE:
 *         notify  LISTEN rag_jobs + poll every INTERVAL_MS, batched
 *                 claims (rag-worker)
 *         legacy  the same, one job per claim, statements of 75f904a
 *         poll    poll every INTERVAL_MS, claims back to back
 *         naive   every INTERVAL_MS, one UPDATE ... RETURNING claims all
 *                 ready rows, no lease (the original's task loop)
 *
 * Built and run by bench/queue.sh; not part of the product.
 */
#include "rag_db.h"
#include "rag_log.h"
#include "rag_store_jobs.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_JOBS 100000

static const char *conninfo;
static double enq_at[MAX_JOBS]; /* by job id: bench state, one run */
static double claim_at[MAX_JOBS];
static double enq_done_at[MAX_JOBS]; /* when rag_enqueue's commit returned */
static volatile int produced_all;

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static PGconn *
connect_or_die(void)
{
    char err[256];
    PGconn *db = rag_db_connect(conninfo, "queue_bench", err, sizeof(err));

    if (db == NULL) {
        fprintf(stderr, "connect: %s\n", err);
        exit(1);
    }
    return db;
}

static long claimed_total;
static int do_complete = 1, batch = 1;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *
claimer(void *arg)
{
    PGconn *db = connect_or_die();
    rag_store_jobs_session me_s;
    rag_job j[RAG_STORE_JOBS_MAX_BATCH];
    char me[32];
    long total = 0;
    int n;

    snprintf(me, sizeof(me), "bench/%ld", (long)(size_t)arg);
    if (rag_store_jobs_session_get(db, &me_s) != 0)
        exit(1);
    while ((n = rag_store_jobs_claim(db, me, &me_s, 60, batch, j)) > 0) {
        for (int i = 0; i < n; i++) {
            if (do_complete && rag_store_jobs_complete(db, &j[i]) != 1)
                exit(1);
            rag_job_free(&j[i]);
        }
        total += n;
    }
    if (n < 0)
        exit(1);
    pthread_mutex_lock(&mu);
    claimed_total += total;
    pthread_mutex_unlock(&mu);
    PQfinish(db);
    return NULL;
}

/* The statements of worker/queue.c before batched claims (75f904a), as
 * the baseline measured in the same run. */
static const char legacy_claim_sql[] =
    "WITH c AS (SELECT id FROM jobs"
    " WHERE state IN ('queued','retry') AND run_at <= now()"
    " ORDER BY priority, run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
    " UPDATE jobs j SET state = 'running', attempts = j.attempts + 1,"
    " locked_by = $1, lease_until = now() + make_interval(secs => $2)"
    " FROM c WHERE j.id = c.id"
    " RETURNING j.id, j.kind, j.payload::text, j.attempts, j.max_attempts";
static const char legacy_complete_sql[] =
    "UPDATE jobs SET state = 'done', lease_until = NULL, last_error = NULL,"
    " finished_at = now() WHERE id = $1 AND locked_by = $2 AND attempts = $3"
    " AND state = 'running' RETURNING id";

static void *
legacy_claimer(void *arg)
{
    PGconn *db = connect_or_die();
    char me[32];
    long total = 0;

    snprintf(me, sizeof(me), "bench/%ld", (long)(size_t)arg);
    for (;;) {
        const char *p[3] = {me, "60", NULL};
        PGresult *r = rag_db_query(db, legacy_claim_sql, 2, p);
        char *payload;

        if (r == NULL)
            exit(1);
        if (PQntuples(r) == 0) {
            PQclear(r);
            break;
        }
        payload = strdup(PQgetvalue(r, 0, 2)); /* as the old code did */
        free(payload);
        if (do_complete) {
            const char *c[3] = {PQgetvalue(r, 0, 0), me, PQgetvalue(r, 0, 3)};
            PGresult *d = rag_db_query(db, legacy_complete_sql, 3, c);

            if (d == NULL || PQntuples(d) != 1)
                exit(1);
            PQclear(d);
        }
        PQclear(r);
        total++;
    }
    pthread_mutex_lock(&mu);
    claimed_total += total;
    pthread_mutex_unlock(&mu);
    PQfinish(db);
    return NULL;
}

static int
run_claim(int threads, void *(*fn)(void *))
{
    pthread_t t[64];
    double t0;

    if (threads < 1 || threads > 64 || batch < 1 ||
        batch > RAG_STORE_JOBS_MAX_BATCH)
        return 2;
    t0 = now_s();
    for (long i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, fn, (void *)i);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    printf("%ld %.4f\n", claimed_total, now_s() - t0);
    return 0;
}

static int nprod;

static void *
producer(void *arg)
{
    PGconn *db = connect_or_die();
    unsigned seed = 42;

    (void)arg;
    usleep(300000); /* consumer is listening */
    for (int i = 0; i < nprod; i++) {
        char key[32];
        const char *p[1] = {key};
        double t;
        PGresult *r;
        long id;

        usleep((useconds_t)(rand_r(&seed) % 100) * 1000);
        snprintf(key, sizeof(key), "bench:%d:%d", (int)getpid(), i);
        t = now_s();
        r = rag_db_query(db, "SELECT rag_enqueue('embed', '{}', $1)", 1, p);
        if (r == NULL)
            exit(1);
        id = atol(PQgetvalue(r, 0, 0));
        PQclear(r);
        if (id > 0 && id < MAX_JOBS && enq_at[id] == 0) {
            enq_at[id] = t; /* consumer may already have it: keep it */
            enq_done_at[id] = now_s();
        }
    }
    produced_all = 1;
    PQfinish(db);
    return NULL;
}

static void
record(long id, double t)
{
    if (id > 0 && id < MAX_JOBS && claim_at[id] == 0)
        claim_at[id] = t;
}

static int
cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static int
run_latency(const char *mode, int n, long interval_ms)
{
    PGconn *db = connect_or_die();
    pthread_t pt;
    double next_tick = 0, *lat;
    int got = 0, m = 0;
    int listens = strcmp(mode, "notify") == 0 || strcmp(mode, "legacy") == 0;

    nprod = n;
    if (listens && rag_db_exec(db, "LISTEN rag_jobs", 0, NULL) != 0)
        return 1;
    pthread_create(&pt, NULL, producer, NULL);
    next_tick = now_s();
    while (got < n) {
        int woke = 0;
        double now = now_s();

        if (listens) {
            struct pollfd pfd = {PQsocket(db), POLLIN, 0};
            int wait = (int)((next_tick - now) * 1000);
            PGnotify *nt;

            if (wait > 0)
                poll(&pfd, 1, wait);
            PQconsumeInput(db);
            while ((nt = PQnotifies(db)) != NULL) {
                woke = 1;
                PQfreemem(nt);
            }
        } else if (next_tick > now) {
            usleep((useconds_t)((next_tick - now) * 1e6));
        }
        if (now_s() >= next_tick) {
            woke = 1;
            next_tick = now_s() + (double)interval_ms / 1000;
        }
        if (!woke)
            continue;
        if (strcmp(mode, "naive") == 0) {
            PGresult *r =
                rag_db_query(db,
                             "UPDATE jobs SET state = 'done' WHERE state IN "
                             "('queued','retry') RETURNING id",
                             0, NULL);
            double t = now_s();

            for (int i = 0; r && i < PQntuples(r); i++, got++)
                record(atol(PQgetvalue(r, i, 0)), t);
            PQclear(r);
        } else if (strcmp(mode, "legacy") == 0) {
            const char *p[3] = {"bench", "60", NULL};
            PGresult *r;

            while ((r = rag_db_query(db, legacy_claim_sql, 2, p)) != NULL &&
                   PQntuples(r) == 1) {
                const char *c[3] = {PQgetvalue(r, 0, 0), "bench",
                                    PQgetvalue(r, 0, 3)};

                record(atol(PQgetvalue(r, 0, 0)), now_s());
                PQclear(rag_db_query(db, legacy_complete_sql, 3, c));
                PQclear(r);
                got++;
            }
            PQclear(r);
        } else {
            rag_job j[64];
            int k;

            while ((k = rag_store_jobs_claim(db, "bench", NULL, 60, 64, j)) >
                   0) {
                double t = now_s();

                for (int i = 0; i < k; i++) {
                    record(j[i].id, t);
                    rag_store_jobs_complete(db, &j[i]);
                    rag_job_free(&j[i]);
                }
                got += k;
            }
        }
    }
    pthread_join(pt, NULL);
    /* lat: from the enqueue call; commit: the enqueue's own commit (its
     * WAL flush); after: from the commit's return (the job visible) */
    lat = calloc((size_t)n * 3, sizeof(double));
    for (long id = 0; id < MAX_JOBS && lat; id++)
        if (enq_at[id] > 0 && claim_at[id] > 0 && enq_done_at[id] > 0 &&
            m < n) {
            lat[m] = (claim_at[id] - enq_at[id]) * 1000;
            lat[n + m] = (enq_done_at[id] - enq_at[id]) * 1000;
            lat[2 * n + m] = (claim_at[id] - enq_done_at[id]) * 1000;
            m++;
        }
    if (lat == NULL || m == 0)
        return 1;
    qsort(lat, (size_t)m, sizeof(double), cmp_d);
    qsort(lat + n, (size_t)m, sizeof(double), cmp_d);
    qsort(lat + 2 * n, (size_t)m, sizeof(double), cmp_d);
    printf("%d %.3f %.3f %.3f %.3f %.3f %.3f\n", m, lat[m / 2],
           lat[m * 95 / 100], lat[m - 1], lat[0], lat[n + m / 2],
           lat[2 * n + m / 2]);
    free(lat);
    PQfinish(db);
    return 0;
}

int
main(int argc, char **argv)
{
    rag_log_set_level(RAG_LOG_ERROR);
    if (argc >= 5 && strcmp(argv[1], "claim") == 0) {
        conninfo = argv[2];
        batch = atoi(argv[4]);
        do_complete = argc < 6 || strcmp(argv[5], "nocomplete") != 0;
        return run_claim(atoi(argv[3]), claimer);
    }
    if (argc >= 4 && strcmp(argv[1], "legacy") == 0) {
        conninfo = argv[2];
        do_complete = argc < 5 || strcmp(argv[4], "nocomplete") != 0;
        return run_claim(atoi(argv[3]), legacy_claimer);
    }
    if (argc >= 6 && strcmp(argv[1], "latency") == 0) {
        conninfo = argv[2];
        return run_latency(argv[3], atoi(argv[4]), atol(argv[5]));
    }
    fprintf(stderr,
            "usage: queue_bench claim CONNINFO THREADS BATCH "
            "[nocomplete]\n"
            "       queue_bench legacy CONNINFO THREADS [nocomplete]\n"
            "       queue_bench latency CONNINFO notify|legacy|poll|naive "
            "N INTERVAL_MS\n");
    return 2;
}
