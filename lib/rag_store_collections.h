/*
 * rag_store_collections — SQL for the collections table (owned by
 * ingest; read by every program and the nginx module). Built on
 * rag_db.h: every call checks its result and logs the server's message;
 * nothing here keeps state. Strings are borrowed; returned PGresults
 * belong to the caller (PQclear).
 */
#ifndef RAG_STORE_COLLECTIONS_H
#define RAG_STORE_COLLECTIONS_H

#include <libpq-fe.h>
#include <stddef.h>

/* The one upsert: creates the collection if missing, else sets the
 * description and source given (NULL: keep what is there; a row that
 * would not change is not updated). Its numeric id (text) into id. 0 or
 * -1. */
int rag_store_collections_upsert(PGconn *db, const char *name,
                                 const char *description,
                                 const char *source_json, char *id,
                                 size_t idlen);

/* The id of an existing collection: 1 found, 0 none, -1 error. */
int rag_store_collections_id(PGconn *db, const char *name, char *id,
                             size_t idlen);

/* What answers call the product: the description, else the name. 1
 * found (copied into out), 0 no such collection, -1 error. */
int rag_store_collections_product(PGconn *db, const char *name, char *out,
                                  size_t outlen);

/* One ingest per collection at a time (session advisory lock): 1 taken,
 * 0 held by another session, -1 on error. */
int rag_store_collections_try_lock(PGconn *db, const char *name);
void rag_store_collections_unlock(PGconn *db, const char *name);

/* Waits for, then holds until the transaction ends, the lock that
 * serialises whole-collection rewrites done in one transaction (the
 * community sync). 0 or -1. */
int rag_store_collections_xact_lock(PGconn *db, const char *name);

/* collections.source: how the collection was filled (JSON text). The
 * getter returns a malloc'd copy (caller frees) or NULL. */
int rag_store_collections_set_source(PGconn *db, const char *id,
                                     const char *json);
char *rag_store_collections_source(PGconn *db, const char *name);

/* collections.boilerplate_sig (sql/040). 0 or -1. */
int rag_store_collections_boilerplate_sig(PGconn *db, const char *id, char *out,
                                          size_t outlen);
int rag_store_collections_set_boilerplate_sig(PGconn *db, const char *id,
                                              const char *sig);

/* collections.language (sql/110, owned by rank): the Snowball stemmer
 * language its index is built with, NULL for the built-in English one.
 * The caller checks the name (rag_stem_language_ok). 0, or -1 (also when
 * there is no such collection). */
int rag_store_collections_set_language(PGconn *db, const char *name,
                                       const char *language);

/* collections.index_generation (0: never indexed), or -1. */
long long rag_store_collections_generation(PGconn *db, const char *id);
/* The same by name: 0 also when there is no such collection. */
long long rag_store_collections_generation_named(PGconn *db, const char *name);

/* Indexed collections (generation > 0) by name: name, index_generation. */
PGresult *rag_store_collections_indexed(PGconn *db);

/* Every collection by name, at most limit rows: name, index_generation,
 * then on each row the largest generation and the number of collections
 * over all of them (no row at all when there is none). */
PGresult *rag_store_collections_overview(PGconn *db, int limit);

/* Collections by name, at most limit: name, description (/collections). */
PGresult *rag_store_collections_list(PGconn *db, int limit);

/* Every collection by name: name, index_generation, has_documents
 * ("t"/"f"). */
PGresult *rag_store_collections_index_state(PGconn *db);

/* LISTEN rag_index: a NOTIFY with the collection's name follows each new
 * index generation (sql/060). 0 or -1. */
int rag_store_collections_listen(PGconn *db);

/* The index writer's (worker/rag_reindex.c), inside the caller's
 * transaction: the collection's id, recorded index generation and
 * language (copied into language; "" when it has none: the built-in
 * English stemmer) — with the row locked FOR UPDATE (lock: serialises
 * reindexes of one collection), or not (a follower's snapshot). 1 found,
 * 0 unknown, -1 error. */
int rag_store_collections_index_row(PGconn *db, const char *name, int lock,
                                    long long *id, unsigned long long *gen,
                                    char *language, size_t langlen);

/* Records that generation gen of collection id is written at path (and
 * when). 0 or -1. */
int rag_store_collections_set_indexed(PGconn *db, long long id,
                                      unsigned long long gen, const char *path);

#endif
