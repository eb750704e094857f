/*
 * jobs — the rag-worker's job dispatcher: runs 'answer', 'reindex',
 * 'ingest' and 'community' jobs, and holds the live configuration.
 *
 * The configuration (a rag_conf plus the rag_answer_env borrowing from
 * it) is reference-counted: a job keeps the snapshot it started with,
 * SIGHUP swaps in a freshly read one, and the old one is freed when its
 * last job ends. The index cache is shared across reloads.
 */
#ifndef RAG_JOBS_H
#define RAG_JOBS_H

#include "answer.h"
#include "queue_runner.h"
#include "rag_conf.h"

typedef struct rag_jobs rag_jobs;

/* Takes ownership of conf. conf_path (may be NULL) is re-read on reload. */
rag_jobs *rag_jobs_new(const char *conf_path, rag_conf *conf);
void rag_jobs_free(rag_jobs *j);

/* Fills the runner settings from the current configuration. */
void rag_jobs_runner_conf(rag_jobs *j, rag_runner_conf *rc);

/* rag_job_handler: ctx is the rag_jobs. */
int rag_jobs_run(void *ctx, PGconn *db, const rag_job *job, char *err,
                 size_t errlen);

/* Runner reload callback (SIGHUP): re-reads the file; on error keeps the
 * old configuration. */
void rag_jobs_reload(void *ctx, void *runner_conf);

#endif
