/*
 * rag_store_collections — SQL for the collections table (owned by
 * ingest). Built on rag_db.h: every call checks its result and logs the
 * server's message; nothing here keeps state. Strings are borrowed.
 */
#ifndef RAG_STORE_COLLECTIONS_H
#define RAG_STORE_COLLECTIONS_H

#include <libpq-fe.h>
#include <stddef.h>

/* Creates the collection if missing; its numeric id (text) into id.
 * 0 or -1. */
int rag_store_collections_ensure(PGconn *db, const char *name, char *id,
                                 size_t idlen);

/* One ingest per collection at a time (session advisory lock): 1 taken,
 * 0 held by another session, -1 on error. */
int rag_store_collections_try_lock(PGconn *db, const char *name);
void rag_store_collections_unlock(PGconn *db, const char *name);

/* collections.source: how the collection was filled (JSON text). The
 * getter returns a malloc'd copy (caller frees) or NULL. */
int rag_store_collections_set_source(PGconn *db, const char *id,
                                     const char *json);
char *rag_store_collections_source(PGconn *db, const char *name);

/* collections.boilerplate_sig (sql/040). 0 or -1. */
int rag_store_collections_boilerplate_sig(PGconn *db, const char *id,
                                          char *out, size_t outlen);
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

#endif
