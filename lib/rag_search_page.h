/*
 * rag_search_page — the page of a record, and a map numbering pages.
 *
 * A record's page is its URL up to the first '#' (the whole URL without
 * one). Page evidence, page diversity and page-level fusion in
 * rag_search.c all group records by page; the index writer numbers the
 * pages once (the PAGEID section, lib/rag_index_fmt.h) so the search
 * compares integers instead of hashing URLs. An index without that
 * section (written before it existed) is grouped by the URLs themselves:
 * the same groups, so the same ranking.
 *
 * A rag_page_map gives each distinct key it is shown a dense number,
 * 0, 1, 2, ... in order of first appearance. A map holds one kind of key
 * for its whole life: page ids (rag_page_map_id) or page strings
 * (rag_page_map_str); rag_page_map_rec picks the kind from the index, so
 * use it alone on a map, or the other two alone.
 *
 * Ownership: the map owns its slots and a copy of every distinct string
 * key (the writer's URLs live in a read window that moves); release with
 * rag_page_map_free (also after a failed call). Not thread-safe: one map
 * per call or writer.
 */
#ifndef RAG_SEARCH_PAGE_H
#define RAG_SEARCH_PAGE_H

#include "rag_index.h"

#include <stddef.h>
#include <stdint.h>

typedef struct rag_page_slot rag_page_slot;

typedef struct {
    rag_page_slot *slot; /* cap slots, cap a power of two */
    size_t cap, n;       /* n: distinct keys, numbered 0..n-1 */
    unsigned shift;      /* 64 - log2(cap) */
    char *keys;          /* string keys, back to back */
    size_t keylen, keycap;
} rag_page_map;

/* The length of the page part of url[0..len): up to the first '#'. */
size_t rag_page_len(const char *url, size_t len);

/* An empty map sized for about expect keys without growing (it grows
 * past them). 0, or -1 (out of memory). */
int rag_page_map_init(rag_page_map *m, size_t expect);

/* The number of page id id (first seen: the next number), or -1 (out of
 * memory while growing; the map stays usable). */
long rag_page_map_id(rag_page_map *m, uint32_t id);

/* The number of the page string p[0..len) (copied when new), or -1. */
long rag_page_map_str(rag_page_map *m, const char *p, size_t len);

/* The number of record rec's page in ix: its page id when the index has
 * them, else its URL's page part (a record whose strings cannot be read
 * has page ""). -1: out of memory. */
long rag_page_map_rec(rag_page_map *m, const rag_index *ix, uint32_t rec);

void rag_page_map_free(rag_page_map *m);

#endif
