/*
 * ingest_expand — the (page, anchor, term) triples a crawl harvests from
 * the site's own index pages (rag_expand), kept in memory until the
 * crawl ends and then stored for the collection
 * (rag_store_expansions): document expansion, issue 16.1.
 *
 * Ownership: the harvest owns copies of every string added; free it with
 * expand_harvest_free (safe on a zeroed one).
 */
#ifndef INGEST_EXPAND_H
#define INGEST_EXPAND_H

#include "rag_store_expansions.h"

#include <libpq-fe.h>
#include <stddef.h>

typedef struct {
    rag_store_expansion *v; /* strings owned (cast away from const) */
    size_t n, cap;
    size_t pages; /* index pages harvested */
} expand_harvest;

/* Adds one triple (copied). 0, or -1 out of memory. */
int expand_harvest_add(expand_harvest *h, const char *page_url,
                       const char *anchor, const char *term);

/* Stores the harvest for coll_id (replace: see
 * rag_store_expansions_store). 0 or -1. */
int expand_harvest_store(PGconn *db, const char *coll_id,
                         const expand_harvest *h, int replace);

void expand_harvest_free(expand_harvest *h);

#endif
