/*
 * dbtest_store_jobs — runs every statement of lib/rag_store_jobs.c
 * against the real, migrated schema and checks what each one did to the
 * rows. Needs a database: t/90-stores.t starts a throwaway cluster
 * and passes its conninfo as argv[1] (t/unit/run.sh does not run
 * dbtest_* programs).
 */
#include "unit.h"
#include "dbtest.h"

#include "rag_db.h"
#include "rag_log.h"
#include "rag_store_jobs.h"
#include "rag_time.h"

#include <pthread.h>
#include <stdlib.h>

static void
reset(PGconn *db)
{
    rag_db_exec(db, "TRUNCATE jobs RESTART IDENTITY", 0, NULL);
}

static void
test_session(PGconn *db)
{
    rag_store_jobs_session s;
    char want[32];

    CHECK_INT(rag_store_jobs_session_get(db, &s), 0);
    snprintf(want, sizeof(want), "%d", PQbackendPID(db));
    CHECK_STR(s.pid, want);
    CHECK(s.started[0] != '\0');
}

static void
test_claim_order_and_batch(PGconn *db)
{
    rag_store_jobs_session s;
    rag_job j[8];
    int n;

    reset(db);
    rag_store_jobs_session_get(db, &s);
    rag_db_exec(db,
                "INSERT INTO jobs (kind, payload, priority, run_at) VALUES"
                " ('embed', '{\"n\":1}', 100, now()),"
                " ('answer', '{\"n\":2}', 50, now()),"
                " ('embed', '{\"n\":3}', 100, now() + interval '1 hour'),"
                " ('embed', '{\"n\":4}', 100, now() - interval '1 s')",
                0, NULL);
    /* priority first, then run_at; a future run_at is not ready */
    n = rag_store_jobs_claim(db, "w1", &s, 30, 8, j);
    CHECK_INT(n, 3);
    if (n != 3)
        return;
    CHECK_STR(j[0].payload, "{\"n\": 2}");
    CHECK_STR(j[0].kind, "answer");
    CHECK_STR(j[1].payload, "{\"n\": 4}");
    CHECK_STR(j[2].payload, "{\"n\": 1}");
    CHECK_INT(j[0].attempts, 1);
    CHECK_INT(j[0].max_attempts, 5);
    /* one statement, one transaction: one token for the batch */
    CHECK(j[0].token > 0 && j[0].token == j[2].token);
    /* the claim's transaction is over, and its asynchronous commit did
     * not leak into the session (the job's result must be durable) */
    CHECK_INT(PQtransactionStatus(db), PQTRANS_IDLE);
    CHECK_STR(val(db, "SHOW synchronous_commit"), "on");
    CHECK_STR(val(db, "SELECT count(*) FROM jobs WHERE state = 'running'"
                      " AND locked_by = 'w1' AND owner_pid = pg_backend_pid()"
                      " AND lease_until > now() + interval '25 s'"),
              "3");
    CHECK_INT(rag_store_jobs_claim(db, "w1", &s, 30, 8, j + 3), 0);
    CHECK_INT(rag_store_jobs_claim(db, "w1", &s, 30, 0, j + 3), -1);
    for (int i = 0; i < n; i++)
        rag_job_free(&j[i]);
    /* no session: lease-only liveness */
    rag_db_exec(db, "UPDATE jobs SET run_at = now() WHERE state = 'queued'", 0,
                NULL);
    CHECK_INT(rag_store_jobs_claim(db, "w2", NULL, 30, 1, j), 1);
    CHECK_STR(val(db, "SELECT owner_pid IS NULL FROM jobs WHERE"
                      " locked_by = 'w2'"),
              "t");
    rag_job_free(&j[0]);
}

static void
test_fence(PGconn *db)
{
    rag_job a, b, stale;
    char state[16];

    reset(db);
    rag_db_exec(db,
                "INSERT INTO jobs (kind) VALUES ('embed'), ('embed'),"
                " ('embed')",
                0, NULL);
    CHECK_INT(rag_store_jobs_claim(db, "w", NULL, 30, 1, &a), 1);
    CHECK_INT(rag_store_jobs_complete(db, &a), 1);
    CHECK_STR(val(db, "SELECT state || ' ' || (finished_at IS NOT NULL)"
                      " FROM jobs WHERE id = 1"),
              "done true");
    CHECK_INT(rag_store_jobs_complete(db, &a), 0); /* not running now */
    rag_job_free(&a);

    /* fail: retry with a delay, then released: attempt given back */
    CHECK_INT(rag_store_jobs_claim(db, "w", NULL, 30, 1, &b), 1);
    CHECK_INT(rag_store_jobs_fail(db, &b, "boom", 60, 0, state), 1);
    CHECK_STR(state, "retry");
    CHECK_STR(val(db, "SELECT state || ' ' || attempts || ' ' || last_error"
                      " || ' ' || (run_at > now() + interval '50 s')"
                      " FROM jobs WHERE id = 2"),
              "retry 1 boom true");
    CHECK_INT(rag_store_jobs_fail(db, &b, "again", 0, 0, state), 0);
    rag_job_free(&b);
    rag_db_exec(db,
                "UPDATE jobs SET run_at = now(), priority = 1"
                " WHERE id = 2",
                0, NULL);
    CHECK_INT(rag_store_jobs_claim(db, "w", NULL, 30, 1, &b), 1);
    CHECK_INT(b.id, 2);
    CHECK_INT(b.attempts, 2);
    stale = b;
    stale.payload = NULL;
    CHECK_INT(rag_store_jobs_release(db, &b, 0, "released at shutdown"), 1);
    CHECK_STR(val(db, "SELECT state || ' ' || attempts || ' ' || last_error"
                      " FROM jobs WHERE id = 2"),
              "retry 1 released at shutdown");
    rag_job_free(&b);
    /* re-claimed with the same attempt count: the old fence is dead */
    CHECK_INT(rag_store_jobs_claim(db, "w", NULL, 30, 1, &b), 1);
    CHECK_INT(b.id, 2);
    CHECK_INT(b.attempts, stale.attempts);
    CHECK(b.token != stale.token);
    CHECK_INT(rag_store_jobs_complete(db, &stale), 0);
    CHECK_INT(rag_store_jobs_release(db, &stale, 0, "x"), 0);
    CHECK_INT(rag_store_jobs_complete(db, &b), 1);
    rag_job_free(&b);

    /* permanent failure and the last attempt: dead, error kept */
    CHECK_INT(rag_store_jobs_claim(db, "w", NULL, 30, 1, &a), 1);
    CHECK_INT(rag_store_jobs_fail(db, &a, "", 0, 1, state), 1);
    CHECK_STR(state, "dead");
    CHECK_STR(val(db, "SELECT state || ' ' || last_error || ' ' ||"
                      " (finished_at IS NOT NULL) FROM jobs WHERE id = 3"),
              "dead error true");
    rag_job_free(&a);
    rag_db_exec(db,
                "INSERT INTO jobs (kind, attempts, max_attempts)"
                " VALUES ('embed', 2, 3)",
                0, NULL);
    CHECK_INT(rag_store_jobs_claim(db, "w", NULL, 30, 1, &a), 1);
    CHECK_INT(rag_store_jobs_fail(db, &a, "third", 1, 0, state), 1);
    CHECK_STR(state, "dead");
    rag_job_free(&a);
}

static void
test_extend(PGconn *db)
{
    rag_store_jobs_session s;
    rag_job j[3], lost;
    int ours[3] = {-1, -1, -1};

    reset(db);
    rag_store_jobs_session_get(db, &s);
    rag_db_exec(db, "INSERT INTO jobs (kind) VALUES ('embed'), ('embed')", 0,
                NULL);
    CHECK_INT(rag_store_jobs_claim(db, "w", NULL, 5, 2, j), 2);
    lost = j[1];
    lost.payload = NULL;
    snprintf(lost.token_str, sizeof(lost.token_str), "1"); /* never ours */
    j[2] = lost;
    CHECK_INT(rag_store_jobs_extend(db, j, 3, &s, 600, ours), 2);
    CHECK_INT(ours[0], 1);
    CHECK_INT(ours[1], 1);
    CHECK_INT(ours[2], 0);
    /* the heartbeat makes this session the owner (re-assert) */
    CHECK_STR(val(db, "SELECT count(*) FROM jobs WHERE owner_pid ="
                      " pg_backend_pid() AND lease_until > now() +"
                      " interval '500 s'"),
              "2");
    CHECK_INT(rag_store_jobs_extend(db, j, 0, &s, 600, ours), 0);
    rag_job_free(&j[0]);
    rag_job_free(&j[1]);
}

static void
test_rescue(PGconn *db)
{
    rag_store_jobs_session s, other;
    PGconn *dead = connect_db(), *live = connect_db();
    rag_job a, b, c;
    int gone = 0;

    reset(db);
    rag_db_exec(db,
                "INSERT INTO jobs (kind) VALUES ('embed'), ('embed'),"
                " ('embed'), ('embed')",
                0, NULL);
    /* a: claimed in a session that then ends (the worker died) */
    rag_store_jobs_session_get(dead, &other);
    CHECK_INT(rag_store_jobs_claim(dead, "dead-worker", &other, 300, 1, &a), 1);
    /* b: in a session that lives; c: lease-only, lease expired */
    rag_store_jobs_session_get(live, &s);
    CHECK_INT(rag_store_jobs_claim(live, "live-worker", &s, 300, 1, &b), 1);
    CHECK_INT(rag_store_jobs_claim(live, "old-worker", NULL, 300, 1, &c), 1);
    rag_db_exec(db,
                "UPDATE jobs SET lease_until = now() - interval '1 s'"
                " WHERE locked_by = 'old-worker'",
                0, NULL);
    CHECK_INT(rag_store_jobs_rescue(db), 1); /* c only: a's session lives */
    PQfinish(dead);
    for (int i = 0; i < 100 && !gone; i++) {
        char sql[128];

        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM pg_stat_activity"
                 " WHERE pid = %s",
                 other.pid);
        gone = strcmp(val(db, sql), "0") == 0;
        if (!gone)
            rag_time_sleep_ms(20);
    }
    CHECK(gone);
    rag_db_exec(db, "LISTEN rag_jobs", 0, NULL);
    CHECK_INT(rag_store_jobs_rescue(db), 1); /* a */
    {
        PGnotify *n;
        int woke = 0;

        PQconsumeInput(db);
        while ((n = PQnotifies(db)) != NULL) {
            woke = 1;
            PQfreemem(n);
        }
        CHECK(woke);
    }
    rag_db_exec(db, "UNLISTEN rag_jobs", 0, NULL);
    CHECK_STR(val(db, "SELECT state || ' ' || attempts || ' ' || last_error"
                      " FROM jobs WHERE locked_by = 'dead-worker'"),
              "retry 1 database session gone (worker dead-worker lost)");
    CHECK_STR(val(db, "SELECT state || ' ' || last_error FROM jobs"
                      " WHERE locked_by = 'old-worker'"),
              "retry lease expired (worker old-worker lost)");
    CHECK_STR(val(db, "SELECT state FROM jobs WHERE locked_by ="
                      " 'live-worker'"),
              "running");
    CHECK_INT(rag_store_jobs_rescue(db), 0);
    CHECK_INT(rag_store_jobs_complete(live, &b), 1);
    CHECK_INT(rag_store_jobs_complete(live, &c), 0); /* rescued: fenced */
    /* the last attempt of a dead worker: dead-lettered */
    rag_db_exec(db,
                "UPDATE jobs SET attempts = 5, state = 'running',"
                " lease_until = now() - interval '1 s', owner_pid = NULL"
                " WHERE id = 4",
                0, NULL);
    CHECK_INT(rag_store_jobs_rescue(db), 1);
    CHECK_STR(val(db, "SELECT state || ' ' || (finished_at IS NOT NULL)"
                      " FROM jobs WHERE id = 4"),
              "dead true");
    rag_job_free(&a);
    rag_job_free(&b);
    rag_job_free(&c);
    PQfinish(live);
}

/* Ingest, reindex and community jobs of one collection run one at a
 * time; other jobs are not held up by them. */
static void
test_serial(PGconn *db)
{
    PGconn *other = connect_db();
    rag_job j[8], next, none;
    int n;

    reset(db);
    rag_db_exec(db,
                "INSERT INTO jobs (kind, payload) VALUES"
                " ('ingest', '{\"collection\":\"a\",\"n\":1}'),"
                " ('reindex', '{\"collection\":\"a\"}'),"
                " ('ingest', '{\"collection\":\"b\"}'),"
                " ('community', '{\"guild\":\"42\"}'),"
                " ('answer', '{}')",
                0, NULL);
    CHECK_STR(val(db, "SELECT string_agg(coalesce(serial_key, '-'), ','"
                      " ORDER BY id) FROM jobs"),
              "collection:a,collection:a,collection:b,"
              "collection:community-42,-");
    n = rag_store_jobs_claim(db, "w", NULL, 30, 8, j);
    CHECK_INT(n, 4); /* not the second job of collection a */
    CHECK_STR(val(db, "SELECT string_agg(id::text, ',' ORDER BY id) FROM"
                      " jobs WHERE state = 'running'"),
              "1,3,4,5");
    CHECK_INT(rag_store_jobs_claim(db, "w", NULL, 30, 8, &next), 0);
    /* its end wakes the workers, then the next one is claimable */
    rag_db_exec(other, "LISTEN rag_jobs", 0, NULL);
    CHECK_INT(rag_store_jobs_fail(db, &j[0], "x", 0, 0, NULL), 1);
    {
        PGnotify *nt;
        int woke = 0;

        rag_db_exec(other, "SELECT 1", 0, NULL);
        PQconsumeInput(other);
        while ((nt = PQnotifies(other)) != NULL) {
            woke |= strcmp(nt->extra, "collection:a") == 0;
            PQfreemem(nt);
        }
        CHECK(woke);
    }
    rag_db_exec(other, "UNLISTEN rag_jobs", 0, NULL);
    /* the retry (run_at now) queues behind job 2, one at a time */
    CHECK_INT(rag_store_jobs_claim(db, "w", NULL, 30, 8, &next), 1);
    CHECK_INT(next.id, 2);
    CHECK_INT(rag_store_jobs_claim(db, "w", NULL, 30, 1, &none), 0);
    CHECK_INT(rag_store_jobs_complete(db, &next), 1);
    rag_job_free(&next);
    CHECK_INT(rag_store_jobs_claim(db, "w", NULL, 30, 8, &next), 1);
    CHECK_INT(next.id, 1);
    CHECK_INT(next.attempts, 2);
    rag_job_free(&next);
    for (int i = 0; i < n; i++)
        rag_job_free(&j[i]);
    PQfinish(other);
}

typedef struct {
    PGconn *db;
} committer;

static void *
commit_later(void *arg)
{
    committer *c = arg;

    rag_time_sleep_ms(300);
    rag_db_commit(c->db);
    return NULL;
}

/* Two claimers whose snapshots both see a collection free: the unique
 * index stops the second, which retries and finds the key taken. */
static void
test_serial_race(PGconn *db)
{
    committer c = {connect_db()};
    pthread_t t;
    rag_job j;
    long t0;

    reset(db);
    rag_db_exec(db,
                "INSERT INTO jobs (kind, payload) VALUES"
                " ('ingest', '{\"collection\":\"r\",\"n\":1}'),"
                " ('ingest', '{\"collection\":\"r\",\"n\":2}')",
                0, NULL);
    /* another claimer, mid-transaction, took the later job of r */
    rag_db_begin(c.db);
    rag_db_exec(c.db, "UPDATE jobs SET state = 'running' WHERE id = 2", 0,
                NULL);
    t0 = rag_time_mono_ms();
    pthread_create(&t, NULL, commit_later, &c);
    CHECK_INT(rag_store_jobs_claim(db, "w", NULL, 30, 8, &j), 0);
    CHECK(rag_time_mono_ms() - t0 >= 250); /* it waited for the other */
    pthread_join(t, NULL);
    CHECK_STR(val(db, "SELECT string_agg(id || ' ' || state, ',' ORDER BY id)"
                      " FROM jobs"),
              "1 queued,2 running");
    PQfinish(c.db);
}

/* rag_enqueue: replays return the first job; identical collection jobs
 * still waiting absorb new ones; a running one does not. */
static void
test_enqueue(PGconn *db)
{
    static const char *pl =
        "'{\"collection\":\"c\",\"source\":{\"type\":\"rechunk\"}}'";
    char sql[256], first[32], second[32];
    rag_job j;

    reset(db);
#define ENQ(key, prio)                                                         \
    (snprintf(sql, sizeof(sql),                                                \
              "SELECT rag_enqueue('ingest', %s, '%s',"                         \
              " %d)",                                                          \
              pl, key, prio),                                                  \
     val(db, sql))
    snprintf(first, sizeof(first), "%s", ENQ("k1", 80));
    CHECK_STR(first, "1");
    CHECK_STR(ENQ("k1", 80), first); /* replay */
    CHECK_STR(ENQ("k2", 80), first); /* joins the waiting job */
    CHECK_STR(val(db, "SELECT count(*) FROM jobs"), "1");
    CHECK_INT(rag_store_jobs_claim(db, "w", NULL, 30, 1, &j), 1);
    snprintf(second, sizeof(second), "%s", ENQ("k3", 80));
    CHECK(strcmp(second, first) != 0); /* the first one started */
    CHECK_STR(ENQ("k4", 10), second);
    snprintf(sql, sizeof(sql), "SELECT priority FROM jobs WHERE id = %s",
             second);
    CHECK_STR(val(db, sql), "10"); /* the more urgent priority */
    CHECK_STR(val(db, "SELECT rag_enqueue('ingest', '{\"collection\":\"c\","
                      "\"source\":{\"type\":\"rechunk\"},\"force\":true}',"
                      " 'k5', 80) > 2"),
              "t"); /* different work: own job */
    CHECK_STR(val(db, "SELECT rag_enqueue('answer', '{}', 'a1') <>"
                      " rag_enqueue('answer', '{}', 'a2')"),
              "t");
#undef ENQ
    rag_job_free(&j);
}

static void
test_purge(PGconn *db)
{
    reset(db);
    rag_db_exec(db,
                "INSERT INTO jobs (kind, state, finished_at) VALUES"
                " ('embed', 'done', now() - interval '10 days'),"
                " ('embed', 'done', now() - interval '1 day'),"
                " ('embed', 'dead', now() - interval '10 days')",
                0, NULL);
    CHECK_INT(rag_store_jobs_purge(db, 7), 1);
    CHECK_STR(val(db, "SELECT string_agg(state, ',' ORDER BY id) FROM jobs"),
              "done,dead");
    CHECK_INT(rag_store_jobs_purge(db, 7), 0);
}

int
main(int argc, char **argv)
{
    PGconn *db = dbtest_start(argc, argv, "dbtest_store_jobs");

    test_session(db);
    test_claim_order_and_batch(db);
    test_fence(db);
    test_extend(db);
    test_rescue(db);
    test_serial(db);
    test_serial_race(db);
    test_enqueue(db);
    test_purge(db);
    PQfinish(db);
    UNIT_DONE();
}
