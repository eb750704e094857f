/*
 * ngx_rag_index.h — the worker's index manager (ngx_rag_index.c): the
 * mmap'd <rag_index_dir>/<collection>.idx files every endpoint that
 * searches in-process shares (/search, Discord's /search command).
 *
 * On the event loop, pin the collection's index for the request; in the
 * pool thread, get the rag_index and call rag_search / rag_snippet /
 * rag_index_chunk_get on it. A pin lives in r->pool and is released by a
 * pool cleanup on the event loop when the request ends (the request
 * outlives its thread task), so the mapping cannot go away under the
 * thread, and a generation the thread opened is installed for the
 * worker. rag_index_dir comes from the request's location.
 *
 *   event loop:  rc = ngx_rag_index_pin(r, &collection, &pin);
 *                NGX_OK        pinned: post the task
 *                NGX_AGAIN     this worker's first load of the file is
 *                              under way: ngx_rag_index_wait() parks the
 *                              request without a thread and calls
 *                              resume(r, data) on the event loop when the
 *                              load ends (resume pins again); or answer
 *                              503 / defer
 *                NGX_DECLINED  bad collection name, or no index file
 *                NGX_ABORT     the index file failed validation
 *                NGX_BUSY      too many collections
 *                NGX_ERROR
 *   thread:      ix = ngx_rag_index_get(pin, &missing);
 *                NULL when the index could not be opened (missing = 1
 *                when the file is gone)
 *   or, on the event loop, ix = ngx_rag_index_ready(pin): non-NULL when
 *                nothing needs opening; search it right there
 *   event loop:  ngx_rag_index_unpin(pin) when the task is done
 *                (optional: installs a newly opened generation now rather
 *                than at the request's pool cleanup)
 */
#ifndef _NGX_RAG_INDEX_H_INCLUDED_
#define _NGX_RAG_INDEX_H_INCLUDED_

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "rag_index.h"

typedef struct ngx_rag_index_pin_s  ngx_rag_index_pin_t;

typedef void (*ngx_rag_index_resume_pt)(ngx_http_request_t *r, void *data);

/* 1 when s is a valid collection name ([A-Za-z0-9._-]{1,64}, no ".."). */
ngx_int_t ngx_rag_index_name_ok(ngx_str_t *s);
ngx_int_t ngx_rag_index_pin(ngx_http_request_t *r, ngx_str_t *collection,
    ngx_rag_index_pin_t **pin);
ngx_int_t ngx_rag_index_wait(ngx_http_request_t *r, ngx_rag_index_pin_t *pin,
    ngx_rag_index_resume_pt resume, void *data);
void ngx_rag_index_unpin(ngx_rag_index_pin_t *pin);
/* Event loop: the pinned, already mapped index when this request has no
 * file to open (a search on it is pure computation, no I/O), else NULL:
 * the first open and a new generation's open go to the thread pool. */
const rag_index *ngx_rag_index_ready(ngx_rag_index_pin_t *pin);
/* Event loop only: the worker's scratch for rag_index_chunk_body (kept
 * between requests; never from a pool thread). */
rag_index_buf *ngx_rag_index_loop_scratch(void);
const rag_index *ngx_rag_index_get(ngx_rag_index_pin_t *pin, int *missing);

#endif /* _NGX_RAG_INDEX_H_INCLUDED_ */
