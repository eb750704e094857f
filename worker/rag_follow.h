/*
 * rag_follow — keeps one machine's index files at the generations
 * Postgres records, for nginx machines that do not share the worker's
 * filesystem (rag-reindex --follow DIR).
 *
 * The follower LISTENs on "rag_index" (sql/060_pkg_index_notify.sql:
 * one notification per collection whose index_generation changed) and
 * rebuilds that collection's file in DIR from Postgres with the writer's
 * atomic swap (tmp + fsync + rename), at the recorded generation
 * (rag_reindex, mirroring). At start, after every reconnect and every
 * poll_ms it compares every indexed collection with the file on disk, so
 * a follower that was down or missed a notification catches up. A failed
 * rebuild is retried after retry_ms; nginx keeps serving the file it has.
 *
 * Local state: the generation and file identity (inode, size, mtime) this
 * follower last wrote or validated per collection, so a periodic check
 * costs one query and a stat() per collection.
 */
#ifndef RAG_FOLLOW_H
#define RAG_FOLLOW_H

#include "rag_reindex.h"

#include <signal.h>

typedef struct {
    const char *conninfo; /* the primary: LISTEN does not run on a standby */
    const char *index_dir;
    long poll_ms;  /* full comparison interval; default 30000 */
    long retry_ms; /* reconnect / failed rebuild delay; default 1000 */
    const rag_reindex_opts *reindex; /* the config's (semantic leg), or
                                        NULL: defaults and environment */
    volatile sig_atomic_t *stop;
} rag_follow_conf;

/* Runs until *stop becomes non-zero; returns 0 then. Returns 1 when the
 * index directory is unusable at start. */
int rag_follow_run(const rag_follow_conf *c);

#endif
