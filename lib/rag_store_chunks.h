/*
 * rag_store_chunks — SQL for the chunks table (owned by ingest). Built
 * on rag_db.h. Returned PGresults belong to the caller (PQclear).
 */
#ifndef RAG_STORE_CHUNKS_H
#define RAG_STORE_CHUNKS_H

#include "rag_chunk.h"

#include <libpq-fe.h>

/* Replaces the chunks of a document with cs (one statement for all of
 * them); chunks whose text did not change keep their embedding. Run it
 * inside the caller's transaction. 0 or -1. */
int rag_store_chunks_replace(PGconn *db, const char *doc_id,
                             const rag_chunks *cs);

/* Up to limit chunks of a collection without an embedding: id,
 * heading_path, body; ordered by id. */
PGresult *rag_store_chunks_unembedded(PGconn *db, const char *coll_id,
                                      int limit);

/* vec: a Postgres real[] literal. 0 or -1. */
int rag_store_chunks_set_embedding(PGconn *db, const char *id, const char *vec,
                                   const char *model);

/* The index writer's reads (worker/rag_reindex.c), inside the caller's
 * transaction. The most common embedding size among the collection's
 * chunks: 0 when none is embedded (or it is over max_dims), -1 on
 * error. */
long rag_store_chunks_common_dims(PGconn *db, long long coll_id, long max_dims);

/* Opens a cursor over every chunk of the collection in index order
 * (document URL, ordinal): id, url#anchor, title, heading_path, body,
 * and the embedding as real[] text when it has dims dimensions (else
 * NULL). One cursor per transaction. 0 or -1. */
int rag_store_chunks_index_open(PGconn *db, long long coll_id, unsigned dims);
/* The next up to n rows of that cursor (fewer: the last ones). */
PGresult *rag_store_chunks_index_fetch(PGconn *db, int n);

/* Postgres full-text search over a collection's chunks (English
 * configuration; the bot's /search when the collection has no index
 * file), best first, at most limit rows: url, anchor, title (the URL
 * when empty), heading_path, rank (ts_rank_cd normalised to
 * rank / (rank + 1)). */
PGresult *rag_store_chunks_search_fts(PGconn *db, const char *collection,
                                      const char *query, int limit);

#endif
