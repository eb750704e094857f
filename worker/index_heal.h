/*
 * index_heal — at rag-worker's start, a reindex job for every collection
 * Postgres records as indexed whose file in index_dir this build cannot
 * serve: missing, damaged, or written in an older index format (after an
 * upgrade that changed it nginx refuses those files and answers 503 for
 * the collection until they are rebuilt). A file of a newer format is
 * left alone: a newer worker wrote it, and rebuilding would downgrade it.
 *
 * One job per collection and recorded generation (dedupe key), so several
 * workers starting together, or restarts, enqueue it once. Nothing here
 * fails the worker: a database that is not up yet is logged and skipped.
 */
#ifndef INDEX_HEAL_H
#define INDEX_HEAL_H

/* Returns the number of reindex jobs enqueued, or -1 (logged). */
int rag_index_heal(const char *conninfo, const char *index_dir);

#endif
