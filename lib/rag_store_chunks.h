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
int rag_store_chunks_set_embedding(PGconn *db, const char *id,
                                   const char *vec, const char *model);

#endif
