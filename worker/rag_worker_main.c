/*
 * rag-worker — claims jobs from the Postgres queue and runs them:
 * answers (retrieval + LLM or extractive), reindex, ingest.
 *
 *   rag-worker [-c FILE]
 *   rag-worker -h | --help
 *
 * Settings come from the file and RAG_<KEY> environment variables (see
 * conf/worker.conf): database_url, index_dir, concurrency,
 * poll_interval_ms, queue_listen, queue_session_liveness, lease_seconds,
 * shutdown_grace_ms, retry_base_seconds,
 * llm_*, embed_*, answer_*, log_level, worker_id.
 * SIGTERM: finish or release in-flight jobs, exit. SIGHUP: reload.
 */
#include "conf_tables.h"
#include "index_heal.h"
#include "jobs.h"
#include "queue_runner.h"
#include "rag_conf.h"
#include "rag_http.h"
#include "rag_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
usage(FILE *f)
{
    fprintf(f, "usage: rag-worker [-c FILE]\n"
               "       rag-worker -h | --help\n");
}

int
main(int argc, char **argv)
{
    const char *path = NULL;
    char err[512];
    rag_runner_conf rc;
    rag_conf *conf;
    rag_jobs *jobs;
    char *conninfo, *worker_id;
    int ret;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "-h") == 0 ||
                   strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    conf = rag_conf_load_program(path, &rag_conf_prog_worker, err, sizeof(err));
    if (conf == NULL) {
        fprintf(stderr, "rag-worker: %s\n", err);
        return 1;
    }
    rag_http_global_init(); /* before any thread */
    jobs = rag_jobs_new(path, conf);
    if (jobs == NULL) {
        fprintf(stderr, "rag-worker: out of memory\n");
        return 1;
    }
    memset(&rc, 0, sizeof(rc));
    rag_jobs_runner_conf(jobs, &rc);
    /* the runner outlives this conf object across reloads: copy */
    conninfo = strdup(rag_conf_database(conf));
    worker_id = rc.worker_id ? strdup(rc.worker_id) : NULL;
    if (conninfo == NULL || (rc.worker_id && worker_id == NULL)) {
        fprintf(stderr, "rag-worker: out of memory\n");
        return 1;
    }
    /* files nginx cannot serve (an upgrade changed the format, a lost
     * disk) are rebuilt without an operator: see index_heal.h */
    rag_index_heal(conninfo, rag_conf_str(conf, &rag_conf_common, "index_dir"));
    rc.conninfo = conninfo;
    rc.worker_id = worker_id;
    rc.handler = rag_jobs_run;
    rc.reload = rag_jobs_reload;
    rc.ctx = jobs;
    ret = rag_runner_run(&rc);
    if (ret == 0) {
        rag_jobs_free(jobs);
        free(conninfo);
        free(worker_id);
    }
    /* ret == 1: released jobs' threads may still use jobs; exit() ends
     * them */
    return ret >= 0 ? 0 : 1;
}
