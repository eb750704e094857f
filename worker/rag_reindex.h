/*
 * rag_reindex — rebuild a collection's search index file from Postgres.
 *
 * Postgres rows are the source of truth; the index file
 * <index_dir>/<collection>.idx is derived from them. Concurrent reindexes
 * of one collection serialise on the collections row (SELECT ... FOR
 * UPDATE), so generations written to disk and recorded in
 * collections.index_generation only ever increase.
 *
 * The index carries the collection's semantic leg (worker/reindex_ft.h):
 * a fastText model kept from the file being replaced, or trained anew
 * when the collection changed enough (while the row stays locked: a
 * training takes minutes on a large manual), and every chunk's vector.
 */
#ifndef RAG_REINDEX_H
#define RAG_REINDEX_H

#include "ft_train.h"
#include "rag_collection.h" /* rag_index_path, rag_collection_name_ok */
#include "rag_conf.h"

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/* How an index is built. */
typedef struct {
    ft_train_conf ft; /* the semantic leg: semantic_leg, fasttext_* */
    int retrain;      /* train a new model whatever the rule says */
    /* Follower side: write the generation Postgres recorded for the
     * collection (not a new one) from one REPEATABLE READ snapshot,
     * without locking the row or recording anything. The rows are those
     * of the snapshot: the ones that generation was built from or newer,
     * never older. A collection never indexed (generation 0) is an
     * error. */
    int mirror;
    /* Document expansion (issue 16.1): each chunk's heading field also
     * holds the terms the docs' own index pages file it under
     * (sql/111_rank_expansions.sql). rag_reindex_opts_load reads the
     * index_expansion key (off by default: it gained nothing on the eval
     * sets, README "Ranking"). */
    int expand;
} rag_reindex_opts;

/* From a program's configuration (NULL: the environment's); retrain and
 * mirror off, expand from index_expansion. */
void rag_reindex_opts_load(rag_reindex_opts *o, rag_conf *conf);

typedef struct {
    uint64_t generation; /* written */
    uint32_t count;      /* records in it */
} rag_reindex_result;

/* Reads the collection's chunks (url#anchor, title, heading path, body,
 * embedding when present with the most common dimension) and writes
 * <index_dir>/<collection>.idx with generation
 * collections.index_generation + 1, then records index_generation,
 * index_path and indexed_at (unless opts->mirror). opts NULL: the
 * defaults and the environment (RAG_SEMANTIC_LEG, RAG_FASTTEXT_*); res
 * may be NULL. db must not be inside a transaction. 0, or -1 with err
 * filled. */
int rag_reindex(PGconn *db, const char *collection, const char *index_dir,
                const rag_reindex_opts *opts, rag_reindex_result *res,
                char *err, size_t errlen);

#endif
