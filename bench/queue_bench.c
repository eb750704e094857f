/*
 * queue_bench — measures the Postgres job queue (lib/rag_store_jobs.c):
 *
 *   queue_bench claim CONNINFO THREADS [nocomplete]
 *       claims (+ completes, unless nocomplete) every ready job with
 *       THREADS connections, prints jobs/s
 *   queue_bench latency CONNINFO MODE N INTERVAL_MS
 *       a producer enqueues N jobs (rag_enqueue, which NOTIFYs) at random
 *       gaps of 0-100 ms while one consumer claims them; prints the
 *       enqueue→claim latency percentiles. MODE:
 *         notify  LISTEN rag_jobs + poll every INTERVAL_MS (rag-worker)
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
static double enq_at[MAX_JOBS];   /* by job id: bench state, one run */
static double claim_at[MAX_JOBS];
static volatile int produced_all;

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
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
static int do_complete = 1;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *
claimer(void *arg)
{
    PGconn *db = connect_or_die();
    char me[32];
    long n = 0;
    rag_job j;

    snprintf(me, sizeof(me), "bench/%ld", (long) (size_t) arg);
    while (rag_store_jobs_claim(db, me, NULL, 60, 1, &j) == 1) {
        if (do_complete)
            rag_store_jobs_complete(db, &j);
        rag_job_free(&j);
        n++;
    }
    pthread_mutex_lock(&mu);
    claimed_total += n;
    pthread_mutex_unlock(&mu);
    PQfinish(db);
    return NULL;
}

static int
run_claim(int threads)
{
    pthread_t t[64];
    double t0;

    if (threads < 1 || threads > 64)
        return 2;
    t0 = now_s();
    for (long i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, claimer, (void *) i);
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

    (void) arg;
    usleep(300000); /* consumer is listening */
    for (int i = 0; i < nprod; i++) {
        char key[32];
        const char *p[1] = {key};
        double t;
        PGresult *r;
        long id;

        usleep((useconds_t) (rand_r(&seed) % 100) * 1000);
        snprintf(key, sizeof(key), "bench:%d:%d", (int) getpid(), i);
        t = now_s();
        r = rag_db_query(db, "SELECT rag_enqueue('embed', '{}', $1)", 1, p);
        if (r == NULL)
            exit(1);
        id = atol(PQgetvalue(r, 0, 0));
        PQclear(r);
        if (id > 0 && id < MAX_JOBS && enq_at[id] == 0)
            enq_at[id] = t; /* consumer may already have it: keep it */
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
    double x = *(const double *) a, y = *(const double *) b;

    return x < y ? -1 : x > y;
}

static int
run_latency(const char *mode, int n, long interval_ms)
{
    PGconn *db = connect_or_die();
    pthread_t pt;
    double next_tick = 0, *lat;
    int got = 0, m = 0;

    nprod = n;
    if (strcmp(mode, "notify") == 0 &&
        rag_db_exec(db, "LISTEN rag_jobs", 0, NULL) != 0)
        return 1;
    pthread_create(&pt, NULL, producer, NULL);
    next_tick = now_s();
    while (got < n) {
        int woke = 0;
        double now = now_s();

        if (strcmp(mode, "notify") == 0) {
            struct pollfd pfd = {PQsocket(db), POLLIN, 0};
            int wait = (int) ((next_tick - now) * 1000);
            PGnotify *nt;

            if (wait > 0)
                poll(&pfd, 1, wait);
            PQconsumeInput(db);
            while ((nt = PQnotifies(db)) != NULL) {
                woke = 1;
                PQfreemem(nt);
            }
        } else if (next_tick > now) {
            usleep((useconds_t) ((next_tick - now) * 1e6));
        }
        if (now_s() >= next_tick) {
            woke = 1;
            next_tick = now_s() + (double) interval_ms / 1000;
        }
        if (!woke)
            continue;
        if (strcmp(mode, "naive") == 0) {
            PGresult *r = rag_db_query(db,
                "UPDATE jobs SET state = 'done' WHERE state IN "
                "('queued','retry') RETURNING id", 0, NULL);
            double t = now_s();

            for (int i = 0; r && i < PQntuples(r); i++, got++)
                record(atol(PQgetvalue(r, i, 0)), t);
            PQclear(r);
        } else {
            rag_job j;

            while (rag_store_jobs_claim(db, "bench", NULL, 60, 1, &j) == 1) {
                record(j.id, now_s());
                rag_store_jobs_complete(db, &j);
                rag_job_free(&j);
                got++;
            }
        }
    }
    pthread_join(pt, NULL);
    lat = calloc((size_t) n, sizeof(double));
    for (long id = 0; id < MAX_JOBS && lat; id++)
        if (enq_at[id] > 0 && claim_at[id] > 0 && m < n)
            lat[m++] = (claim_at[id] - enq_at[id]) * 1000;
    if (lat == NULL || m == 0)
        return 1;
    qsort(lat, (size_t) m, sizeof(double), cmp_d);
    printf("%d %.3f %.3f %.3f %.3f\n", m, lat[m / 2], lat[m * 95 / 100],
           lat[m - 1], lat[0]);
    free(lat);
    PQfinish(db);
    return 0;
}

int
main(int argc, char **argv)
{
    rag_log_set_level(RAG_LOG_ERROR);
    if (argc >= 4 && strcmp(argv[1], "claim") == 0) {
        conninfo = argv[2];
        do_complete = argc < 5 || strcmp(argv[4], "nocomplete") != 0;
        return run_claim(atoi(argv[3]));
    }
    if (argc >= 6 && strcmp(argv[1], "latency") == 0) {
        conninfo = argv[2];
        return run_latency(argv[3], atoi(argv[4]), atol(argv[5]));
    }
    fprintf(stderr, "usage: queue_bench claim CONNINFO THREADS [nocomplete]\n"
                    "       queue_bench latency CONNINFO notify|poll|naive "
                    "N INTERVAL_MS\n");
    return 2;
}
