#include "queue_runner.h"
#include "rag_time.h"

#include "rag_db.h"
#include "rag_log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RAG_RUNNER_MAX_THREADS 64

typedef struct rag_runner rag_runner;

typedef struct {
    rag_runner *rn;
    int slot;
    pthread_t tid;
    int started;
    /* under rn->mu */
    int busy;
    rag_job job;             /* fence copy (payload not owned here) */
    double last_extend;
    int released;
    int idle_exit;           /* thread has left its loop */
} rag_slot;

struct rag_runner {
    rag_runner_conf *conf;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned long wake_gen;  /* bumped on NOTIFY and poll ticks */
    int stopping;
    rag_slot slots[RAG_RUNNER_MAX_THREADS];
    int nslots;
};

/* Signal state is process-wide by nature: set by the handlers, read by
 * the main thread, which is the only thread with the signals unblocked. */
static volatile sig_atomic_t sig_term, sig_hup;
static int sig_pipe[2] = {-1, -1};

static void
on_signal(int sig)
{
    int saved = errno;
    char c = (char) sig;

    if (sig == SIGHUP)
        sig_hup = 1;
    else
        sig_term = 1;
    if (sig_pipe[1] >= 0 && write(sig_pipe[1], &c, 1) < 0) {
        /* pipe full: the flag is enough */
    }
    errno = saved;
}

static const char *
outcome_state(int rc)
{
    switch (rc) {
    case RAG_JOB_OK:
    case RAG_JOB_COMPLETED:
        return "done";
    case RAG_JOB_LOST:
        return "lost";
    default:
        return "failed";
    }
}

/* Records the handler's outcome, fenced; logs the one line per job. */
static void
finish_job(rag_runner *rn, PGconn *db, rag_job *job, int rc,
           const char *err, double t0, unsigned *seed)
{
    rag_runner_conf *c = rn->conf;
    char state[16] = "";
    double delay = 0;
    int r = 1;

    snprintf(state, sizeof(state), "%s", outcome_state(rc));
    if (rc == RAG_JOB_OK) {
        r = rag_queue_complete(db, job);
    } else if (rc == RAG_JOB_RETRY || rc == RAG_JOB_PERMANENT) {
        delay = rag_queue_backoff(job->attempts, c->backoff_base_s,
                                  c->backoff_cap_s,
                                  (double) rand_r(seed) / RAND_MAX);
        r = rag_queue_fail(db, job, err, delay, rc == RAG_JOB_PERMANENT,
                           state);
    }
    if (r == 0)
        snprintf(state, sizeof(state), "lost");
    else if (r < 0)
        snprintf(state, sizeof(state), "unrecorded");
    rag_log(r > 0 && (rc == RAG_JOB_OK || rc == RAG_JOB_COMPLETED)
                ? RAG_LOG_INFO
                : RAG_LOG_WARN,
            "msg=\"job\" id=%lld kind=%s attempt=%d/%d state=%s "
            "duration_ms=%.0f retry_in_s=%.1f error=\"%s\"",
            (long long) job->id, job->kind, job->attempts,
            job->max_attempts, state, (rag_time_mono_s() - t0) * 1000,
            strcmp(state, "retry") == 0 ? delay : 0.0,
            err && *err ? err : "");
}

static PGconn *
thread_connect(rag_runner *rn, const char *app)
{
    char err[256];
    long backoff = 200;
    PGconn *db;

    for (;;) {
        db = rag_db_connect(rn->conf->conninfo, app, err, sizeof(err));
        if (db)
            return db;
        rag_warn("msg=\"db connect failed\" error=\"%s\"", err);
        pthread_mutex_lock(&rn->mu);
        int stop = rn->stopping;
        pthread_mutex_unlock(&rn->mu);
        if (stop)
            return NULL;
        rag_time_sleep_ms(backoff);
        if (backoff < 5000)
            backoff *= 2;
    }
}

static void *
slot_main(void *arg)
{
    rag_slot *s = arg;
    rag_runner *rn = s->rn;
    rag_runner_conf *c = rn->conf;
    char locked_by[128], err[1024];
    unsigned seed = (unsigned) time(NULL) ^ (unsigned) (s->slot * 7919);
    PGconn *db;

    snprintf(locked_by, sizeof(locked_by), "%s/%d", c->worker_id, s->slot);
    db = thread_connect(rn, "rag-worker");
    for (;;) {
        rag_job job;
        unsigned long gen;
        int got, rc;
        double t0;

        pthread_mutex_lock(&rn->mu);
        gen = rn->wake_gen;
        if (rn->stopping) {
            pthread_mutex_unlock(&rn->mu);
            break;
        }
        pthread_mutex_unlock(&rn->mu);
        if (db == NULL || !rag_db_ensure(db)) {
            if (db == NULL)
                db = thread_connect(rn, "rag-worker");
            if (db == NULL)
                break;
            rag_time_sleep_ms(500);
            continue;
        }
        got = rag_queue_claim(db, locked_by, c->lease_seconds, &job);
        if (got == 1) {
            t0 = rag_time_mono_s();
            pthread_mutex_lock(&rn->mu);
            if (rn->stopping) {
                /* claimed while shutdown began: give it straight back */
                pthread_mutex_unlock(&rn->mu);
                rag_queue_release(db, &job);
                rag_job_free(&job);
                break;
            }
            s->busy = 1;
            s->job = job;
            s->job.payload = NULL;
            s->last_extend = t0;
            s->released = 0;
            pthread_mutex_unlock(&rn->mu);
            err[0] = '\0';
            rc = c->handler(c->ctx, db, &job, err, sizeof(err));
            pthread_mutex_lock(&rn->mu);
            int released = s->released;
            pthread_mutex_unlock(&rn->mu);
            if (released) {
                rag_warn("msg=\"job finished after release\" id=%lld",
                         (long long) job.id);
            } else {
                if (!rag_db_ensure(db))
                    rag_error("msg=\"db lost during job\" id=%lld",
                              (long long) job.id);
                finish_job(rn, db, &job, rc, err, t0, &seed);
            }
            rag_job_free(&job);
            pthread_mutex_lock(&rn->mu);
            s->busy = 0;
            pthread_cond_broadcast(&rn->cv);
            pthread_mutex_unlock(&rn->mu);
            continue; /* back to back while work is ready */
        }
        if (got < 0)
            rag_time_sleep_ms(200);
        /* Nothing ready: sleep until NOTIFY, the next poll tick or stop. */
        pthread_mutex_lock(&rn->mu);
        if (rn->wake_gen == gen && !rn->stopping) {
            struct timespec ts = rag_time_abs_after_ms(
                c->poll_interval_ms > 0 ? c->poll_interval_ms : 1000);

            pthread_cond_timedwait(&rn->cv, &rn->mu, &ts);
        }
        pthread_mutex_unlock(&rn->mu);
    }
    if (db)
        PQfinish(db);
    pthread_mutex_lock(&rn->mu);
    s->idle_exit = 1;
    pthread_cond_broadcast(&rn->cv);
    pthread_mutex_unlock(&rn->mu);
    return NULL;
}

static void
wake_all(rag_runner *rn)
{
    pthread_mutex_lock(&rn->mu);
    rn->wake_gen++;
    pthread_cond_broadcast(&rn->cv);
    pthread_mutex_unlock(&rn->mu);
}

static PGconn *
listen_connect(rag_runner *rn)
{
    char err[256];
    PGconn *db = rag_db_connect(rn->conf->conninfo, "rag-worker-listen",
                                err, sizeof(err));

    if (db == NULL) {
        rag_warn("msg=\"listen connect failed\" error=\"%s\"", err);
        return NULL;
    }
    if (!rn->conf->no_listen &&
        rag_db_exec(db, "LISTEN rag_jobs", 0, NULL) != 0) {
        PQfinish(db);
        return NULL;
    }
    return db;
}

/* Extends leases of jobs running longer than lease/3 since the last
 * extension (the LISTEN connection is idle otherwise). */
static void
heartbeat(rag_runner *rn, PGconn *db)
{
    rag_runner_conf *c = rn->conf;
    double now = rag_time_mono_s(), every = c->lease_seconds / 3.0;

    for (int i = 0; i < rn->nslots; i++) {
        rag_slot *s = &rn->slots[i];
        rag_job j;
        int busy;

        pthread_mutex_lock(&rn->mu);
        busy = s->busy && !s->released && now - s->last_extend >= every;
        j = s->job;
        pthread_mutex_unlock(&rn->mu);
        if (!busy)
            continue;
        int r = rag_queue_extend(db, &j, c->lease_seconds);
        pthread_mutex_lock(&rn->mu);
        if (s->busy && s->job.id == j.id)
            s->last_extend = now;
        pthread_mutex_unlock(&rn->mu);
        if (r == 0)
            rag_warn("msg=\"lease lost\" id=%lld", (long long) j.id);
    }
}

static int
busy_count(rag_runner *rn)
{
    int n = 0;

    for (int i = 0; i < rn->nslots; i++)
        n += rn->slots[i].busy && !rn->slots[i].released;
    return n;
}

static void
shutdown_slots(rag_runner *rn, PGconn *ldb)
{
    rag_runner_conf *c = rn->conf;
    double deadline = rag_time_mono_s() + (double) c->grace_ms / 1000;
    int busy;

    pthread_mutex_lock(&rn->mu);
    rn->stopping = 1;
    pthread_cond_broadcast(&rn->cv);
    busy = busy_count(rn);
    if (busy)
        rag_info("msg=\"stopping: waiting for in-flight jobs\" jobs=%d "
                 "grace_ms=%ld", busy, c->grace_ms);
    while (busy_count(rn) > 0 && rag_time_mono_s() < deadline) {
        struct timespec ts = rag_time_abs_after_ms(50);

        pthread_cond_timedwait(&rn->cv, &rn->mu, &ts);
    }
    pthread_mutex_unlock(&rn->mu);
    /* Grace over: give the remaining jobs back. The fence makes the
     * still-running handler's completion a no-op. */
    for (int i = 0; i < rn->nslots; i++) {
        rag_slot *s = &rn->slots[i];
        rag_job j;
        int b;

        pthread_mutex_lock(&rn->mu);
        b = s->busy && !s->released;
        j = s->job;
        if (b)
            s->released = 1;
        pthread_mutex_unlock(&rn->mu);
        if (!b)
            continue;
        int r = ldb ? rag_queue_release(ldb, &j) : -1;
        rag_warn("msg=\"job\" id=%lld kind=%s attempt=%d/%d state=%s "
                 "error=\"shutdown grace expired\"",
                 (long long) j.id, j.kind, j.attempts, j.max_attempts,
                 r > 0 ? "released" : r == 0 ? "lost" : "unreleased");
    }
}

int
rag_runner_run(rag_runner_conf *c)
{
    rag_runner *rn;
    struct sigaction sa;
    sigset_t block, old;
    PGconn *ldb = NULL;
    char hostname[64], wid[128];
    double last_tick = 0, next_reconnect = 0, next_purge = 0;
    int rc = -1;

    if (c->concurrency < 1)
        c->concurrency = 2;
    if (c->concurrency > RAG_RUNNER_MAX_THREADS)
        c->concurrency = RAG_RUNNER_MAX_THREADS;
    if (c->poll_interval_ms <= 0)
        c->poll_interval_ms = 1000;
    if (c->lease_seconds < 1)
        c->lease_seconds = 300;
    if (c->backoff_cap_s <= 0)
        c->backoff_cap_s = 3600;
    if (c->worker_id == NULL || *c->worker_id == '\0') {
        if (gethostname(hostname, sizeof(hostname)) != 0)
            snprintf(hostname, sizeof(hostname), "worker");
        hostname[sizeof(hostname) - 1] = '\0';
        snprintf(wid, sizeof(wid), "%s:%d", hostname, (int) getpid());
        c->worker_id = wid;
    }
    rn = calloc(1, sizeof(*rn));
    if (rn == NULL)
        return -1;
    rc = -1;
    rn->conf = c;
    rn->nslots = c->concurrency;
    pthread_mutex_init(&rn->mu, NULL);
    pthread_cond_init(&rn->cv, NULL);

    if (pipe(sig_pipe) != 0)
        goto done;
    fcntl(sig_pipe[0], F_SETFL, O_NONBLOCK);
    fcntl(sig_pipe[1], F_SETFL, O_NONBLOCK);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    ldb = listen_connect(rn);
    if (ldb == NULL) {
        rag_error("msg=\"cannot reach the database\"");
        goto done;
    }
    /* Threads inherit a mask with the signals blocked; only this thread
     * takes them. */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (int i = 0; i < rn->nslots; i++) {
        rn->slots[i].rn = rn;
        rn->slots[i].slot = i;
        if (pthread_create(&rn->slots[i].tid, NULL, slot_main,
                           &rn->slots[i]) == 0)
            rn->slots[i].started = 1;
        else
            rag_error("msg=\"pthread_create failed\" slot=%d", i);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    rag_info("msg=\"worker started\" worker_id=%s concurrency=%d "
             "poll_interval_ms=%ld lease_seconds=%d listen=%s",
             c->worker_id, c->concurrency, c->poll_interval_ms,
             c->lease_seconds, c->no_listen ? "off" : "on");

    while (!sig_term) {
        struct pollfd pfd[2];
        int nfd = 1, woke = 0;
        /* ticks also drive the heartbeat: at least 3 per lease */
        long tick_ms = c->poll_interval_ms < c->lease_seconds * 333L
                           ? c->poll_interval_ms
                           : c->lease_seconds * 333L;
        double now;

        pfd[0].fd = sig_pipe[0];
        pfd[0].events = POLLIN;
        if (ldb && PQsocket(ldb) >= 0) {
            pfd[1].fd = PQsocket(ldb);
            pfd[1].events = POLLIN;
            nfd = 2;
        }
        now = rag_time_mono_s();
        long wait = (long) ((last_tick + (double) tick_ms / 1000 - now) * 1000);
        if (wait < 0)
            wait = 0;
        if (wait > tick_ms)
            wait = tick_ms;
        if (ldb == NULL) { /* retry the LISTEN connection every second */
            long rw = (long) ((next_reconnect - now) * 1000);
            if (rw < wait)
                wait = rw < 0 ? 0 : rw;
        }
        if (poll(pfd, (nfds_t) nfd, (int) wait) < 0 && errno != EINTR)
            break;
        if (pfd[0].revents & POLLIN) {
            char buf[64];
            while (read(sig_pipe[0], buf, sizeof(buf)) > 0) {
            }
        }
        if (sig_term)
            break;
        if (sig_hup) {
            sig_hup = 0;
            if (c->reload) {
                pthread_mutex_lock(&rn->mu);
                c->reload(c->ctx, c);
                pthread_mutex_unlock(&rn->mu);
                rag_info("msg=\"config reloaded\" poll_interval_ms=%ld "
                         "lease_seconds=%d", c->poll_interval_ms,
                         c->lease_seconds);
            }
        }
        if (nfd == 2 && (pfd[1].revents & (POLLIN | POLLERR | POLLHUP))) {
            PGnotify *n;

            if (!PQconsumeInput(ldb)) {
                rag_warn("msg=\"listen connection lost\"");
                PQfinish(ldb);
                ldb = NULL;
                next_reconnect = rag_time_mono_s() + 0.2;
            } else {
                while ((n = PQnotifies(ldb)) != NULL) {
                    woke = 1;
                    PQfreemem(n);
                }
            }
        }
        if (woke)
            wake_all(rn);
        now = rag_time_mono_s();
        if (ldb == NULL && now >= next_reconnect) {
            ldb = listen_connect(rn);
            next_reconnect = now + 1;
            if (ldb) {
                rag_info("msg=\"listen connection restored\"");
                wake_all(rn); /* catch up on anything missed */
            }
        }
        if (now - last_tick >= (double) tick_ms / 1000) {
            last_tick = now;
            if (ldb) {
                if (rag_queue_rescue(ldb) < 0 && !rag_db_ensure(ldb)) {
                    PQfinish(ldb);
                    ldb = NULL;
                }
            }
            if (ldb)
                heartbeat(rn, ldb);
            if (ldb && c->retention_days > 0 && now >= next_purge) {
                int n = rag_queue_purge(ldb, c->retention_days);
                if (n > 0)
                    rag_info("msg=\"purged finished jobs\" count=%d", n);
                next_purge = now + 60;
            }
            wake_all(rn); /* NOTIFY is only a hint: poll anyway */
        }
    }
    rag_info("msg=\"worker stopping\"");
    if (ldb == NULL)
        ldb = listen_connect(rn);
    shutdown_slots(rn, ldb);
    rc = 0;
    for (int i = 0; i < rn->nslots; i++) {
        rag_slot *s = &rn->slots[i];

        if (!s->started)
            continue;
        pthread_mutex_lock(&rn->mu);
        int done_ = s->idle_exit || !s->busy;
        pthread_mutex_unlock(&rn->mu);
        if (done_) {
            pthread_join(s->tid, NULL);
        } else {
            pthread_detach(s->tid); /* released; exit ends it */
            rc = 1;
        }
    }
    rag_info("msg=\"worker stopped\"");
done:
    if (ldb)
        PQfinish(ldb);
    if (rc <= 0 && rn) {
        /* no thread is left that could touch rn */
        pthread_cond_destroy(&rn->cv);
        pthread_mutex_destroy(&rn->mu);
        free(rn);
    }
    /* rc == 1: a detached thread may still use rn (and the handler's
     * context); the process exits right after, so both are left to it */
    return rc;
}
