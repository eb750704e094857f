#include "jobs.h"
#include "conf_tables.h"

#include "rag_log.h"
#include "rag_reindex.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "community.h"
#include "ingest.h"

typedef struct {
    rag_conf *conf;
    rag_answer_env env;
    int refs;
} jobs_cfg;

struct rag_jobs {
    pthread_mutex_t mu;
    char *conf_path;
    jobs_cfg *cur;
    rag_ixcache *ixc;
};

static jobs_cfg *
cfg_new(rag_conf *conf, rag_ixcache *ixc)
{
    jobs_cfg *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->conf = conf;
    c->refs = 1;
    rag_answer_env_load(&c->env, conf);
    c->env.ixc = ixc;
    return c;
}

static void
cfg_unref(rag_jobs *j, jobs_cfg *c)
{
    int last;

    pthread_mutex_lock(&j->mu);
    last = --c->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (last) {
        rag_conf_free(c->conf);
        free(c);
    }
}

static jobs_cfg *
cfg_get(rag_jobs *j)
{
    jobs_cfg *c;

    pthread_mutex_lock(&j->mu);
    c = j->cur;
    c->refs++;
    pthread_mutex_unlock(&j->mu);
    return c;
}

rag_jobs *
rag_jobs_new(const char *conf_path, rag_conf *conf)
{
    rag_jobs *j = calloc(1, sizeof(*j));

    if (j == NULL)
        return NULL;
    pthread_mutex_init(&j->mu, NULL);
    j->conf_path = conf_path ? strdup(conf_path) : NULL;
    j->ixc = rag_ixcache_new();
    j->cur = j->ixc ? cfg_new(conf, j->ixc) : NULL;
    if (j->cur == NULL) {
        rag_jobs_free(j);
        return NULL;
    }
    rag_conf_apply_log_level(conf, &rag_conf_worker_own);
    return j;
}

void
rag_jobs_free(rag_jobs *j)
{
    if (j == NULL)
        return;
    if (j->cur)
        cfg_unref(j, j->cur);
    rag_ixcache_free(j->ixc);
    free(j->conf_path);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

/* The runner's settings from c; all: also those that need a restart
 * (concurrency, worker_id), which a reload leaves alone. */
static void
runner_conf_read(rag_conf *c, rag_runner_conf *rc, int all)
{
    const rag_conf_section *q = &rag_conf_queue;

    if (all) {
        rc->worker_id = rag_conf_str(c, q, "worker_id");
        rc->concurrency = (int)rag_conf_long(c, q, "concurrency");
        rc->no_listen = !rag_conf_on(c, q, "queue_listen");
        rc->no_session = !rag_conf_on(c, q, "queue_session_liveness");
    }
    rc->poll_interval_ms = rag_conf_long(c, q, "poll_interval_ms");
    rc->lease_seconds = (int)rag_conf_long(c, q, "lease_seconds");
    rc->grace_ms = rag_conf_long(c, q, "shutdown_grace_ms");
    rc->backoff_base_s = rag_conf_num(c, q, "retry_base_seconds");
    rc->backoff_cap_s = rag_conf_num(c, q, "retry_cap_seconds");
    rc->retention_days = rag_conf_num(c, q, "job_retention_days");
}

void
rag_jobs_runner_conf(rag_jobs *j, rag_runner_conf *rc)
{
    runner_conf_read(j->cur->conf, rc, 1);
}

void
rag_jobs_reload(void *ctx, void *runner_conf)
{
    rag_jobs *j = ctx;
    char err[512];
    rag_conf *conf = rag_conf_load_program(j->conf_path, &rag_conf_prog_worker,
                                           err, sizeof(err));
    jobs_cfg *nc, *old;

    if (conf == NULL) {
        rag_error("msg=\"reload failed, keeping the old config\" "
                  "error=\"%s\"",
                  err);
        return;
    }
    nc = cfg_new(conf, j->ixc);
    if (nc == NULL) {
        rag_conf_free(conf);
        return;
    }
    pthread_mutex_lock(&j->mu);
    old = j->cur;
    j->cur = nc;
    pthread_mutex_unlock(&j->mu);
    rag_conf_apply_log_level(conf, &rag_conf_worker_own);
    /* concurrency, worker_id and the database need a restart */
    runner_conf_read(conf, runner_conf, 0);
    cfg_unref(j, old);
}

static int
run_reindex(jobs_cfg *c, PGconn *db, const rag_job *job, char *err,
            size_t errlen)
{
    static const char *cp[] = {"collection", NULL};
    char perr[128], coll[128];
    yajl_val root = yajl_tree_parse(job->payload, perr, sizeof(perr)), v;
    const char *s = NULL;

    if (root) {
        v = yajl_tree_get(root, cp, yajl_t_string);
        s = v ? YAJL_GET_STRING(v) : NULL;
    }
    if (s == NULL || !rag_collection_name_ok(s)) {
        yajl_tree_free(root);
        snprintf(err, errlen, "invalid payload: want {\"collection\": name}");
        return RAG_JOB_PERMANENT;
    }
    snprintf(coll, sizeof(coll), "%s", s);
    yajl_tree_free(root);
    rag_reindex_opts ro;
    rag_reindex_opts_load(&ro, c->conf);
    if (rag_reindex(db, coll, c->env.index_dir, &ro, NULL, err, errlen) != 0)
        return RAG_JOB_RETRY;
    return RAG_JOB_OK;
}

int
rag_jobs_run(void *ctx, PGconn *db, const rag_job *job, char *err,
             size_t errlen)
{
    rag_jobs *j = ctx;
    jobs_cfg *c = cfg_get(j);
    int rc;

    if (strcmp(job->kind, "answer") == 0) {
        rc = rag_answer_job(&c->env, db, job, err, errlen);
    } else if (strcmp(job->kind, "reindex") == 0) {
        rc = run_reindex(c, db, job, err, errlen);
    } else if (strcmp(job->kind, "ingest") == 0) {
        /* Worker jobs of one collection never overlap (the claim
         * serialises them); a command-line rag-ingest can still hold the
         * collection: wait for it without burning an attempt. */
        int r = rag_ingest_run_job(db, c->conf, job->payload, err, errlen);

        rc = r == 0                    ? RAG_JOB_OK
             : r == RAG_INGEST_BUSY    ? RAG_JOB_DEFER
             : r == RAG_INGEST_BAD_JOB ? RAG_JOB_PERMANENT
                                       : RAG_JOB_RETRY;
    } else if (strcmp(job->kind, "community") == 0) {
        rag_reindex_opts ro;
        int r;

        rag_reindex_opts_load(&ro, c->conf);
        r = rag_community_job(db, job->payload, c->env.index_dir, &c->env.embed,
                              &ro, err, errlen);

        rc = r == 0 ? RAG_JOB_OK : r == -2 ? RAG_JOB_PERMANENT : RAG_JOB_RETRY;
    } else {
        snprintf(err, errlen, "job kind '%s' is not built into this worker",
                 job->kind);
        rc = RAG_JOB_PERMANENT;
    }
    cfg_unref(j, c);
    return rc;
}
