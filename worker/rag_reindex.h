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

/* How an index is built; the functions without opts use the defaults
 * and the environment (RAG_SEMANTIC_LEG, RAG_FASTTEXT_*). */
typedef struct {
    ft_train_conf ft; /* the semantic leg: semantic_leg, fasttext_* */
    int retrain;      /* train a new model whatever the rule says */
} rag_reindex_opts;

/* From a program's configuration (NULL: the environment's). */
void rag_reindex_opts_load(rag_reindex_opts *o, rag_conf *conf);

/* Reads the collection's chunks (url#anchor, title, heading path, body,
 * embedding when present with the most common dimension) and writes the
 * index with generation = collections.index_generation + 1, then records
 * index_generation, index_path and indexed_at. db must not be inside a
 * transaction. 0, or -1 with err filled. */
int rag_reindex_collection(PGconn *db, const char *collection,
                           const char *index_dir, char *err, size_t errlen);

/* Same, also returning the generation written and the record count. */
int rag_reindex_collection2(PGconn *db, const char *collection,
                            const char *index_dir, uint64_t *generation,
                            uint32_t *count, char *err, size_t errlen);

/* rag_reindex_collection2 with opts (NULL: defaults). */
int rag_reindex_collection_opts(PGconn *db, const char *collection,
                                const char *index_dir,
                                const rag_reindex_opts *opts,
                                uint64_t *generation, uint32_t *count,
                                char *err, size_t errlen);

/* Follower side: writes the index of the generation Postgres recorded
 * for the collection (collections.index_generation, not a new one) from
 * one REPEATABLE READ snapshot, without locking the row or recording
 * anything. The rows are those of the snapshot: the ones generation N
 * was built from or newer, never older. -1 with err filled when the
 * collection is unknown or was never indexed (generation 0). */
int rag_reindex_mirror(PGconn *db, const char *collection,
                       const char *index_dir, uint64_t *generation,
                       uint32_t *count, char *err, size_t errlen);
int rag_reindex_mirror_opts(PGconn *db, const char *collection,
                            const char *index_dir,
                            const rag_reindex_opts *opts,
                            uint64_t *generation, uint32_t *count,
                            char *err, size_t errlen);

#endif
