/*
 * ngx_rag_search.h — the search module's index manager, for other
 * endpoints that search in-process (e.g. a Discord /search command).
 *
 * On the event loop, pin the collection's index for the request; in the
 * pool thread, get the rag_index and call rag_search / rag_snippet /
 * rag_index_chunk_get on it. The pin lives in r->pool and is released
 * by a pool cleanup on the event loop when the request ends (the request
 * outlives its thread task), so the mapping cannot go away under the
 * thread, and a newly opened generation is installed for the worker.
 * Uses the location's rag_index_dir.
 *
 *   event loop:  rc = ngx_rag_search_pin(r, &collection, &pin);
 *                NGX_OK; NGX_DECLINED: bad name or no index (404);
 *                NGX_ABORT: index file invalid; NGX_BUSY: too many
 *                collections, or the index's first load in this worker
 *                is under way (answer 503 + Retry-After, or defer);
 *                NGX_ERROR.
 *   thread:      ix = ngx_rag_search_pin_index(pin, &missing);
 *                NULL when the index could not be opened (missing = 1
 *                when the file is gone).
 */
#ifndef _NGX_RAG_SEARCH_H_INCLUDED_
#define _NGX_RAG_SEARCH_H_INCLUDED_

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "rag_index.h"

typedef struct ngx_rag_search_pin_s  ngx_rag_search_pin_t;

extern ngx_module_t  ngx_rag_search_module;

ngx_int_t ngx_rag_search_pin(ngx_http_request_t *r, ngx_str_t *collection,
    ngx_rag_search_pin_t **out);
const rag_index *ngx_rag_search_pin_index(ngx_rag_search_pin_t *pin,
    int *missing);

#endif /* _NGX_RAG_SEARCH_H_INCLUDED_ */
