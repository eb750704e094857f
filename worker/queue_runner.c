#include "queue_runner.h"

#include "rag_db.h"
#include "rag_log.h"
#include "rag_time.h"

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
    int assigned; /* holds a job until its outcome is recorded */
    rag_job job;  /* the fence (the payload is the thread's) */
    int released; /* given back at shutdown: record nothing */
    int exited;   /* thread has left its loop */
} rag_slot;

struct rag_runner {
    rag_runner_conf *conf;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* slot got a job / stop / slot finished */
    int stopping;
    int wake[2]; /* job threads -> dispatcher: a slot is free */
    rag_slot slots[RAG_RUNNER_MAX_THREADS];
    int nslots;
    /* dispatcher only */
    PGconn *db; /* queue connection: LISTEN, claims, leases */
    rag_store_jobs_session session;
    double next_beat;
};

/* Signal state is process-wide by nature: set by the handlers, read by
 * the main thread, which is the only thread with the signals unblocked. */
static volatile sig_atomic_t sig_term, sig_hup;
static int sig_pipe[2] = {-1, -1};

static void
on_signal(int sig)
{
    int saved = errno;
    char c = (char)sig;

    if (sig == SIGHUP)
        sig_hup = 1;
    else
        sig_term = 1;
    if (sig_pipe[1] >= 0 && write(sig_pipe[1], &c, 1) < 0) {
        /* pipe full: the flag is enough */
    }
    errno = saved;
}

static void
drain(int fd)
{
    char buf[64];

    while (read(fd, buf, sizeof(buf)) > 0) {
    }
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
    case RAG_JOB_DEFER:
        return "deferred";
    default:
        return "failed";
    }
}

/* Records the handler's outcome, fenced; logs the one line per job. */
static void
finish_job(rag_runner *rn, int slot, PGconn *db, rag_job *job, int rc,
           const char *err, double t0, unsigned *seed)
{
    rag_runner_conf *c = rn->conf;
    char state[16] = "";
    double delay = 0;
    int r = 1;

    snprintf(state, sizeof(state), "%s", outcome_state(rc));
    if (rc == RAG_JOB_OK) {
        r = rag_store_jobs_complete(db, job);
    } else if (rc == RAG_JOB_DEFER) {
        delay = c->defer_s > 0 ? c->defer_s : 2;
        r = rag_store_jobs_release(db, job, delay, err);
    } else if (rc == RAG_JOB_RETRY || rc == RAG_JOB_PERMANENT) {
        delay = rag_queue_backoff(job->attempts, c->backoff_base_s,
                                  c->backoff_cap_s,
                                  (double)rand_r(seed) / RAND_MAX);
        r = rag_store_jobs_fail(db, job, err, delay, rc == RAG_JOB_PERMANENT,
                                state);
    }
    if (r == 0)
        snprintf(state, sizeof(state), "lost");
    else if (r < 0)
        snprintf(state, sizeof(state), "unrecorded");
    rag_log(
        r > 0 && (rc == RAG_JOB_OK || rc == RAG_JOB_COMPLETED) ? RAG_LOG_INFO
                                                               : RAG_LOG_WARN,
        "msg=\"job\" id=%lld kind=%s attempt=%d/%d state=%s "
        "duration_ms=%.0f retry_in_s=%.1f slot=%d error=\"%s\"",
        (long long)job->id, job->kind, job->attempts, job->max_attempts, state,
        (rag_time_mono_s() - t0) * 1000,
        strcmp(state, "retry") == 0 || strcmp(state, "deferred") == 0 ? delay
                                                                      : 0.0,
        slot, err && *err ? err : "");
}

static int
stopping(rag_runner *rn)
{
    int s;

    pthread_mutex_lock(&rn->mu);
    s = rn->stopping;
    pthread_mutex_unlock(&rn->mu);
    return s;
}

/* Connects, retrying with backoff until it works or the runner stops. */
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
        if (stopping(rn))
            return NULL;
        rag_time_sleep_ms(backoff);
        if (backoff < 5000)
            backoff *= 2;
    }
}

/* A job connection is idle between jobs (no LISTEN), so the server
 * sends it nothing unless it is ending the session (restart, terminated
 * backend: a FATAL message, then EOF). A readable idle connection is
 * replaced before a job runs on it, so the job does not fail (and burn
 * an attempt) on a stale connection. */
static int
conn_ready(PGconn *db)
{
    struct pollfd p = {PQsocket(db), POLLIN, 0};

    if (PQstatus(db) == CONNECTION_OK && p.fd >= 0 && poll(&p, 1, 0) > 0)
        PQreset(db);
    return rag_db_ensure(db);
}

static void *
slot_main(void *arg)
{
    rag_slot *s = arg;
    rag_runner *rn = s->rn;
    rag_runner_conf *c = rn->conf;
    char err[1024];
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)(s->slot * 7919);
    PGconn *db = thread_connect(rn, "rag-worker");

    for (;;) {
        rag_job job;
        int rc, released;
        double t0;

        pthread_mutex_lock(&rn->mu);
        while (!s->assigned && !rn->stopping)
            pthread_cond_wait(&rn->cv, &rn->mu);
        if (!s->assigned) {
            pthread_mutex_unlock(&rn->mu);
            break;
        }
        job = s->job;
        s->job.payload = NULL; /* the thread owns it now */
        pthread_mutex_unlock(&rn->mu);

        while (db == NULL || !conn_ready(db)) {
            if (db)
                PQfinish(db);
            db = thread_connect(rn, "rag-worker");
            if (db == NULL)
                break;
        }
        if (db == NULL) {
            /* stopping without a database: the job stays assigned and
             * the dispatcher gives it back */
            rag_job_free(&job);
            break;
        }
        t0 = rag_time_mono_s();
        err[0] = '\0';
        rc = c->handler(c->ctx, db, &job, err, sizeof(err));
        pthread_mutex_lock(&rn->mu);
        released = s->released;
        pthread_mutex_unlock(&rn->mu);
        if (released) {
            rag_warn("msg=\"job finished after release\" id=%lld",
                     (long long)job.id);
        } else {
            if (!rag_db_ensure(db))
                rag_error("msg=\"db lost during job\" id=%lld",
                          (long long)job.id);
            finish_job(rn, s->slot, db, &job, rc, err, t0, &seed);
        }
        rag_job_free(&job);
        pthread_mutex_lock(&rn->mu);
        s->assigned = 0;
        pthread_cond_broadcast(&rn->cv);
        pthread_mutex_unlock(&rn->mu);
        if (write(rn->wake[1], "s", 1) < 0) {
            /* pipe full: the dispatcher is awake already */
        }
    }
    if (db)
        PQfinish(db);
    pthread_mutex_lock(&rn->mu);
    s->exited = 1;
    pthread_cond_broadcast(&rn->cv);
    pthread_mutex_unlock(&rn->mu);
    return NULL;
}

/* The fences of the jobs held by job threads (not released). */
static int
held_jobs(rag_runner *rn, rag_job *out)
{
    int n = 0;

    pthread_mutex_lock(&rn->mu);
    for (int i = 0; i < rn->nslots; i++) {
        rag_slot *s = &rn->slots[i];

        if (s->assigned && !s->released) {
            out[n] = s->job;
            out[n++].payload = NULL;
        }
    }
    pthread_mutex_unlock(&rn->mu);
    return n;
}

/* Extends the leases of every held job in one statement and makes this
 * session their owner (after a reconnect: re-asserts them). -1 when the
 * queue connection failed. */
static int
heartbeat(rag_runner *rn)
{
    rag_job held[RAG_RUNNER_MAX_THREADS];
    int ours[RAG_RUNNER_MAX_THREADS];
    int n = held_jobs(rn, held), r;

    rn->next_beat = rag_time_mono_s() + rn->conf->lease_seconds / 3.0;
    if (n == 0)
        return 0;
    r = rag_store_jobs_extend(rn->db, held, n,
                              rn->conf->no_session ? NULL : &rn->session,
                              rn->conf->lease_seconds, ours);
    if (r < 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (!ours[i])
            rag_warn("msg=\"lease lost\" id=%lld", (long long)held[i].id);
    return 0;
}

/* Claims jobs for every idle job thread in one statement (one round
 * trip and one commit for the lot) and hands them over. Never more than
 * there are idle threads: a claimed job waits for nobody, and a job that
 * becomes ready later is not stuck behind prefetched ones. Returns the
 * number handed over, -1 when the queue connection failed. */
static int
dispatch(rag_runner *rn)
{
    rag_runner_conf *c = rn->conf;
    rag_job jobs[RAG_RUNNER_MAX_THREADS];
    int idle[RAG_RUNNER_MAX_THREADS], nidle = 0, n;

    pthread_mutex_lock(&rn->mu);
    for (int i = 0; i < rn->nslots && !rn->stopping; i++)
        if (rn->slots[i].started && !rn->slots[i].assigned &&
            !rn->slots[i].exited)
            idle[nidle++] = i;
    pthread_mutex_unlock(&rn->mu);
    if (nidle == 0)
        return 0;
    n = rag_store_jobs_claim(rn->db, c->worker_id,
                             c->no_session ? NULL : &rn->session,
                             c->lease_seconds, nidle, jobs);
    if (n <= 0)
        return n;
    pthread_mutex_lock(&rn->mu);
    for (int k = 0; k < n; k++) {
        rn->slots[idle[k]].job = jobs[k];
        rn->slots[idle[k]].assigned = 1;
        rn->slots[idle[k]].released = 0;
    }
    pthread_cond_broadcast(&rn->cv);
    pthread_mutex_unlock(&rn->mu);
    return n;
}

/* (Re)opens the queue connection: LISTEN, this session's identity, then
 * the leases of the jobs still held (before any rescue can see the old
 * session gone and take them). 0, or -1. */
static int
queue_connect(rag_runner *rn)
{
    char err[256];
    PGconn *db = rag_db_connect(rn->conf->conninfo, "rag-worker-listen", err,
                                sizeof(err));

    if (db == NULL) {
        rag_warn("msg=\"listen connect failed\" error=\"%s\"", err);
        return -1;
    }
    if ((!rn->conf->no_listen && rag_store_jobs_listen(db) != 0) ||
        rag_store_jobs_session_get(db, &rn->session) != 0) {
        PQfinish(db);
        return -1;
    }
    rn->db = db;
    if (heartbeat(rn) != 0) {
        PQfinish(db);
        rn->db = NULL;
        return -1;
    }
    return 0;
}

static void
queue_lost(rag_runner *rn, const char *why)
{
    rag_warn("msg=\"listen connection lost\" during=%s", why);
    PQfinish(rn->db);
    rn->db = NULL;
}

static int
busy_count(rag_runner *rn)
{
    int n = 0;

    for (int i = 0; i < rn->nslots; i++)
        n += rn->slots[i].assigned && !rn->slots[i].released;
    return n;
}

static void
shutdown_slots(rag_runner *rn)
{
    rag_runner_conf *c = rn->conf;
    double deadline = rag_time_mono_s() + (double)c->grace_ms / 1000;
    int busy;

    pthread_mutex_lock(&rn->mu);
    rn->stopping = 1;
    pthread_cond_broadcast(&rn->cv);
    busy = busy_count(rn);
    if (busy)
        rag_info("msg=\"stopping: waiting for in-flight jobs\" jobs=%d "
                 "grace_ms=%ld",
                 busy, c->grace_ms);
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
        b = s->assigned && !s->released;
        j = s->job;
        j.payload = NULL;
        if (b)
            s->released = 1;
        pthread_mutex_unlock(&rn->mu);
        if (!b)
            continue;
        int r = rn->db ? rag_store_jobs_release(rn->db, &j, 0,
                                                "released at shutdown")
                       : -1;
        rag_warn("msg=\"job\" id=%lld kind=%s attempt=%d/%d state=%s "
                 "error=\"shutdown grace expired\"",
                 (long long)j.id, j.kind, j.attempts, j.max_attempts,
                 r > 0    ? "released"
                 : r == 0 ? "lost"
                          : "unreleased");
    }
}

static void
apply_defaults(rag_runner_conf *c, char *wid, size_t widlen)
{
    char hostname[64];

    if (c->concurrency < 1)
        c->concurrency = 2;
    if (c->concurrency > RAG_RUNNER_MAX_THREADS)
        c->concurrency = RAG_RUNNER_MAX_THREADS;
    if (c->poll_interval_ms <= 0)
        c->poll_interval_ms = 1000;
    if (c->lease_seconds < 1)
        c->lease_seconds = 60;
    if (c->backoff_cap_s <= 0)
        c->backoff_cap_s = 3600;
    if (c->worker_id == NULL || *c->worker_id == '\0') {
        if (gethostname(hostname, sizeof(hostname)) != 0)
            snprintf(hostname, sizeof(hostname), "worker");
        hostname[sizeof(hostname) - 1] = '\0';
        snprintf(wid, widlen, "%s:%d", hostname, (int)getpid());
        c->worker_id = wid;
    }
}

static int
setup_signals(void)
{
    struct sigaction sa;

    if (pipe(sig_pipe) != 0)
        return -1;
    fcntl(sig_pipe[0], F_SETFL, O_NONBLOCK);
    fcntl(sig_pipe[1], F_SETFL, O_NONBLOCK);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/* Starts the job threads with the signals blocked: only the dispatcher
 * takes them. */
static void
start_slots(rag_runner *rn)
{
    sigset_t block, old;

    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (int i = 0; i < rn->nslots; i++) {
        rn->slots[i].rn = rn;
        rn->slots[i].slot = i;
        if (pthread_create(&rn->slots[i].tid, NULL, slot_main, &rn->slots[i]) ==
            0)
            rn->slots[i].started = 1;
        else
            rag_error("msg=\"pthread_create failed\" slot=%d", i);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* The dispatcher: one iteration waits for a signal, a NOTIFY, a free job
 * thread or the next tick, then claims for the idle job threads. */
static void
dispatcher_loop(rag_runner *rn)
{
    rag_runner_conf *c = rn->conf;
    double last_tick = 0, next_reconnect = 0, next_purge = 0;

    while (!sig_term) {
        struct pollfd pfd[3];
        int nfd = 2, want = 0;
        /* ticks also drive the heartbeat: at least 3 per lease */
        long tick_ms = c->poll_interval_ms < c->lease_seconds * 333L
                           ? c->poll_interval_ms
                           : c->lease_seconds * 333L;
        double now = rag_time_mono_s();
        long wait = (long)((last_tick + (double)tick_ms / 1000 - now) * 1000);

        pfd[0].fd = sig_pipe[0];
        pfd[0].events = POLLIN;
        pfd[1].fd = rn->wake[0];
        pfd[1].events = POLLIN;
        if (rn->db && PQsocket(rn->db) >= 0) {
            pfd[2].fd = PQsocket(rn->db);
            pfd[2].events = POLLIN;
            nfd = 3;
        }
        if (wait < 0)
            wait = 0;
        if (wait > tick_ms)
            wait = tick_ms;
        if (rn->db == NULL) { /* retry the connection every second */
            long rw = (long)((next_reconnect - now) * 1000);
            if (rw < wait)
                wait = rw < 0 ? 0 : rw;
        }
        if (poll(pfd, (nfds_t)nfd, (int)wait) < 0 && errno != EINTR)
            break;
        if (pfd[0].revents & POLLIN)
            drain(sig_pipe[0]);
        if (sig_term)
            break;
        if (sig_hup) {
            sig_hup = 0;
            if (c->reload) {
                pthread_mutex_lock(&rn->mu);
                c->reload(c->ctx, c);
                pthread_mutex_unlock(&rn->mu);
                rag_info("msg=\"config reloaded\" poll_interval_ms=%ld "
                         "lease_seconds=%d",
                         c->poll_interval_ms, c->lease_seconds);
            }
        }
        if (pfd[1].revents & POLLIN) {
            drain(rn->wake[0]);
            want = 1;
        }
        if (nfd == 3 && (pfd[2].revents & (POLLIN | POLLERR | POLLHUP)) &&
            !PQconsumeInput(rn->db)) {
            queue_lost(rn, "listen");
            next_reconnect = rag_time_mono_s() + 0.2;
        }
        if (rn->db) {
            /* claims may have buffered notifications: always drain */
            PGnotify *n;

            while ((n = PQnotifies(rn->db)) != NULL) {
                want = 1;
                PQfreemem(n);
            }
        }
        now = rag_time_mono_s();
        if (rn->db == NULL && now >= next_reconnect) {
            next_reconnect = now + 1;
            if (queue_connect(rn) == 0) {
                rag_info("msg=\"listen connection restored\"");
                want = 1; /* catch up on anything missed */
            }
        }
        if (rn->db && now - last_tick >= (double)tick_ms / 1000) {
            last_tick = now;
            want = 1; /* NOTIFY is only a hint: poll anyway */
            if (now >= rn->next_beat && heartbeat(rn) != 0)
                queue_lost(rn, "heartbeat");
            if (rn->db && rag_store_jobs_rescue(rn->db) < 0)
                queue_lost(rn, "rescue");
            if (rn->db && c->retention_days > 0 && now >= next_purge) {
                int n = rag_store_jobs_purge(rn->db, c->retention_days);
                if (n > 0)
                    rag_info("msg=\"purged finished jobs\" count=%d", n);
                next_purge = now + 60;
            }
        }
        if (want && rn->db && dispatch(rn) < 0)
            queue_lost(rn, "claim");
        if (rn->db == NULL && next_reconnect < now)
            next_reconnect = now + 0.2;
    }
}

int
rag_runner_run(rag_runner_conf *c)
{
    rag_runner *rn;
    char wid[128];
    int rc = -1;

    apply_defaults(c, wid, sizeof(wid));
    rn = calloc(1, sizeof(*rn));
    if (rn == NULL)
        return -1;
    rn->conf = c;
    rn->nslots = c->concurrency;
    rn->wake[0] = rn->wake[1] = -1;
    pthread_mutex_init(&rn->mu, NULL);
    pthread_cond_init(&rn->cv, NULL);
    if (setup_signals() != 0 || pipe(rn->wake) != 0)
        goto done;
    fcntl(rn->wake[0], F_SETFL, O_NONBLOCK);
    fcntl(rn->wake[1], F_SETFL, O_NONBLOCK);
    if (queue_connect(rn) != 0) {
        rag_error("msg=\"cannot reach the database\"");
        goto done;
    }
    start_slots(rn);
    rag_info("msg=\"worker started\" worker_id=%s concurrency=%d "
             "poll_interval_ms=%ld lease_seconds=%d listen=%s "
             "session_liveness=%s",
             c->worker_id, c->concurrency, c->poll_interval_ms,
             c->lease_seconds, c->no_listen ? "off" : "on",
             c->no_session ? "off" : "on");
    dispatcher_loop(rn);
    rag_info("msg=\"worker stopping\"");
    if (rn->db == NULL && queue_connect(rn) != 0)
        rn->db = NULL;
    shutdown_slots(rn);
    rc = 0;
    for (int i = 0; i < rn->nslots; i++) {
        rag_slot *s = &rn->slots[i];

        if (!s->started)
            continue;
        pthread_mutex_lock(&rn->mu);
        int done_ = s->exited || !s->assigned;
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
    if (rn->db)
        PQfinish(rn->db);
    if (rc <= 0) {
        /* no thread is left that could touch rn */
        if (rn->wake[0] >= 0) {
            close(rn->wake[0]);
            close(rn->wake[1]);
        }
        pthread_cond_destroy(&rn->cv);
        pthread_mutex_destroy(&rn->mu);
        free(rn);
    }
    /* rc == 1: a detached thread may still use rn (and the handler's
     * context); the process exits right after, so both are left to it */
    return rc;
}
