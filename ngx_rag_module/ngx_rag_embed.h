/*
 * ngx_rag_embed.h — a search query's embedding without a thread waiting
 * on the network (ngx_rag_embed.c).
 *
 * The request goes out as an nginx subrequest to an internal location
 * the configuration names (rag_embed_pass), which proxies to the
 * OpenAI-compatible /v1/embeddings endpoint: nginx's own non-blocking
 * HTTP client, with upstream keepalive and proxy timeouts. The vectors
 * of recent queries are kept in a shared-memory zone (rag_embed_cache)
 * that every worker reads, so a repeated query costs no request at all.
 *
 *   location = /_rag_embed {
 *       internal;
 *       proxy_pass https://api.openai.com/v1/embeddings;
 *       proxy_http_version 1.1; proxy_set_header Connection "";
 *       proxy_read_timeout 2s;  proxy_buffer_size 128k;
 *   }
 *   location /search { rag_search; rag_embed_pass /_rag_embed; ... }
 *
 * Event loop only:
 *   rc = ngx_rag_embed_query(r, conf, query, done, data, &res);
 *     NGX_OK      res filled now (cache hit, or failure with res.note)
 *     NGX_DONE    subrequest under way: done(r, data, &res) runs on the
 *                 event loop when it ends; the caller returns NGX_DONE
 *                 (the main request stays alive until it finalizes)
 *   res.vec (r->pool, L2-normalised) and res.dims, or res.vec == NULL
 *   and res.note saying why ("embedding failed (HTTP 504), lexical
 *   only"); res.cached = 1 when it came from the cache.
 */
#ifndef _NGX_RAG_EMBED_H_INCLUDED_
#define _NGX_RAG_EMBED_H_INCLUDED_

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <stdint.h>


typedef struct {
    ngx_str_t        pass;       /* internal location's URI */
    ngx_str_t        key;        /* bearer token, or empty */
    ngx_str_t        model;
    ngx_shm_zone_t  *cache;      /* NULL: no cache */
} ngx_rag_embed_conf_t;


typedef struct {
    float           *vec;
    uint32_t         dims;
    const char      *note;
    unsigned         cached:1;
} ngx_rag_embed_res_t;


typedef void (*ngx_rag_embed_done_pt)(ngx_http_request_t *r, void *data,
    ngx_rag_embed_res_t *res);


ngx_int_t ngx_rag_embed_query(ngx_http_request_t *r,
    ngx_rag_embed_conf_t *conf, ngx_str_t *query,
    ngx_rag_embed_done_pt done, void *data, ngx_rag_embed_res_t *res);

/* rag_embed_cache SIZE: the shared zone (configuration time). */
ngx_shm_zone_t *ngx_rag_embed_cache_zone(ngx_conf_t *cf, size_t size,
    void *tag);

#endif /* _NGX_RAG_EMBED_H_INCLUDED_ */
