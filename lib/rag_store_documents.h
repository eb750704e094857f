/*
 * rag_store_documents — SQL for the documents table (owned by ingest).
 * Built on rag_db.h. Returned PGresults belong to the caller (PQclear);
 * strings passed in are borrowed. content_hash is the hex SHA-256 of the
 * body; chunked_hash the content_hash the chunks were built from (stale
 * chunks: they differ).
 */
#ifndef RAG_STORE_DOCUMENTS_H
#define RAG_STORE_DOCUMENTS_H

#include <libpq-fe.h>

/* Every document of a collection: url, id, content_hash, chunked_hash,
 * title, etag, last_modified, source ("" for NULLs). */
PGresult *rag_store_documents_list(PGconn *db, const char *coll_id);

/* Inserts or updates a page by (collection, url) without touching its
 * chunks: they become stale when the hash changed. links: in-scope
 * out-links, '\n'-separated (NULL: none). Returns the row's id. */
PGresult *rag_store_documents_upsert(PGconn *db, const char *coll_id,
                                     const char *url, const char *title,
                                     const char *body, const char *hash,
                                     const char *etag, const char *lastmod,
                                     const char *source, const char *links);

/* An unchanged page: fetched_at, validators and links (NULL links keeps
 * the stored ones). 0 or -1. */
int rag_store_documents_touch(PGconn *db, const char *id, const char *etag,
                              const char *lastmod, const char *links);
/* fetched_at only (304 Not Modified). */
int rag_store_documents_touch_fetched(PGconn *db, const char *id);

int rag_store_documents_delete(PGconn *db, const char *id);
int rag_store_documents_delete_url(PGconn *db, const char *coll_id,
                                   const char *url);

/* The stored out-links of a document, one per row. */
PGresult *rag_store_documents_out_links(PGconn *db, const char *id);

/* Up to limit documents after id after_id ("0" first) whose chunks are
 * stale or missing: id, title, body, source; ordered by id. */
PGresult *rag_store_documents_stale(PGconn *db, const char *coll_id,
                                    const char *after_id, int limit);

/* Up to limit bodies of source's documents after id after_id: id, body. */
PGresult *rag_store_documents_bodies(PGconn *db, const char *coll_id,
                                     const char *source, const char *after_id,
                                     int limit);

/* Upserts a document (source: who wrote it, e.g. "community") whose
 * content hash (SHA-256 of body) is computed by Postgres. 1 when it is
 * new, changed (body or title) or its chunks are stale: id and hash are
 * filled and the caller re-chunks it; 0 when nothing changed; -1 on
 * error. */
int rag_store_documents_put_changed(PGconn *db, const char *coll_id,
                                    const char *url, const char *title,
                                    const char *body, const char *source,
                                    char *id, size_t idlen, char *hash,
                                    size_t hashlen);

/* Deletes source's documents of the collection whose URL is not in
 * keep_urls (a Postgres text[] literal, "{}" for none). 0 or -1. */
int rag_store_documents_prune(PGconn *db, const char *coll_id,
                              const char *source, const char *keep_urls);

/* An upload (the nginx module's /upload_documents): batch_json is
 * {"documents":[{url,title?,body,tags?,source?},...]} or {"document":
 * {...}}; a URL given twice is stored once, from its last occurrence;
 * unchanged documents are not touched. Source 'upload'. One row:
 * documents in the batch, documents changed, duplicates, the repeated
 * URLs (JSON array, at most max_dups), md5 of the batch. */
PGresult *rag_store_documents_upload(PGconn *db, const char *coll_id,
                                     const char *batch_json, int max_dups);

/* The chunks now match hash (= content_hash). */
int rag_store_documents_set_chunked(PGconn *db, const char *id,
                                    const char *hash);
/* Every document of source needs re-chunking (the filter changed). */
int rag_store_documents_mark_stale(PGconn *db, const char *coll_id,
                                   const char *source);

#endif
