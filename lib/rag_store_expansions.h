/*
 * rag_store_expansions — the expansions table (sql/111): (collection,
 * page URL, anchor, term) from the documentation's own index pages, and
 * their resolution to chunks for the index writer (document expansion,
 * issue 16.1).
 *
 * Runs on the caller's connection (rag_db.h logs errors). Returned
 * PGresults belong to the caller (PQclear); strings passed in are
 * borrowed.
 */
#ifndef RAG_STORE_EXPANSIONS_H
#define RAG_STORE_EXPANSIONS_H

#include <libpq-fe.h>
#include <stddef.h>

typedef struct {
    const char *page_url; /* the document's URL (canonical, no fragment) */
    const char *anchor;   /* "" for the page itself */
    const char *term;
} rag_store_expansion;

/* Stores n pairs for collection coll_id in one transaction of its own
 * (db must not be inside one). replace: the collection's earlier rows
 * go first (a complete crawl); else they are kept and the new ones added
 * (a partial crawl must not lose what it did not reach). Duplicates are
 * stored once. 0 or -1 (rolled back). */
int rag_store_expansions_store(PGconn *db, long long coll_id,
                               const rag_store_expansion *v, size_t n,
                               int replace);

/* The collection's terms resolved to chunks: columns chunk_id, terms
 * (distinct, one a line), ordered by chunk_id. A target goes to the
 * first chunk (by ordinal) of its page with its anchor, else to the
 * page's first chunk; pairs whose page is not stored are left out. */
PGresult *rag_store_expansions_by_chunk(PGconn *db, long long coll_id);

/* Rows stored for the collection, or -1. */
long rag_store_expansions_count(PGconn *db, long long coll_id);

#endif
