/*
 * Query embeddings on the event loop (ngx_rag_embed.h): a cache lookup
 * in shared memory, else an in-memory subrequest to rag_embed_pass's
 * location. The cache is an rbtree of (model, query) -> vector in a
 * slab pool shared by the workers, least recently used first out when
 * the zone is full (the layout of nginx's limit_req zones).
 */

#include "ngx_rag_module.h"
#include "ngx_rag_embed.h"

#include "rag_buf.h"
#include "rag_embed.h"

#include <stdlib.h>
#include <string.h>

#define NGX_RAG_EMBED_MAX_REQUEST  (64 * 1024)


extern ngx_module_t  ngx_rag_search_module;


/* the shared part of the cache */
typedef struct {
    ngx_rbtree_t        rbtree;
    ngx_rbtree_node_t   sentinel;
    ngx_queue_t         lru;        /* most recently used first */
} ngx_rag_embed_sh_t;


typedef struct {
    ngx_rag_embed_sh_t  *sh;
    ngx_slab_pool_t     *shpool;
} ngx_rag_embed_cache_t;


/* at &rbtree_node->color; node.key is the key's crc32 */
typedef struct {
    u_char              color;
    u_char              pad[3];
    uint32_t            dims;
    uint32_t            keylen;
    ngx_queue_t         queue;
    float               vec[];      /* dims floats, then the key bytes */
} ngx_rag_embed_node_t;


/* one query's embedding, on the main request (r->pool) */
typedef struct {
    ngx_rag_embed_conf_t   *conf;
    ngx_str_t               key;
    ngx_rag_embed_done_pt   done;
    void                   *data;
    ngx_rag_embed_res_t     res;
    unsigned                finished:1;
    unsigned                resumed:1;
} ngx_rag_embed_ctx_t;


/* ---- the cache ---------------------------------------------------------- */

#define ngx_rag_embed_node(n)                                                 \
    ((ngx_rag_embed_node_t *) &(n)->color)

#define ngx_rag_embed_node_key(en)                                            \
    ((u_char *) ((en)->vec + (en)->dims))


static void
ngx_rag_embed_rbtree_insert(ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t     **p;
    ngx_rag_embed_node_t   *en, *ent;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            en = ngx_rag_embed_node(node);
            ent = ngx_rag_embed_node(temp);

            p = (ngx_memn2cmp(ngx_rag_embed_node_key(en),
                              ngx_rag_embed_node_key(ent), en->keylen,
                              ent->keylen) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_int_t
ngx_rag_embed_cache_init(ngx_shm_zone_t *zone, void *data)
{
    ngx_rag_embed_cache_t  *octx = data;
    ngx_rag_embed_cache_t  *ctx = zone->data;
    size_t                  len;

    if (octx) {
        /* reload: keep the zone and what it holds */
        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        ctx->sh = ctx->shpool->data;
        return NGX_OK;
    }

    ctx->sh = ngx_slab_alloc(ctx->shpool, sizeof(ngx_rag_embed_sh_t));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ctx->shpool->data = ctx->sh;

    ngx_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                    ngx_rag_embed_rbtree_insert);
    ngx_queue_init(&ctx->sh->lru);

    len = sizeof(" in rag_embed_cache \"\"") + zone->shm.name.len;

    ctx->shpool->log_ctx = ngx_slab_alloc(ctx->shpool, len);
    if (ctx->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ctx->shpool->log_ctx, " in rag_embed_cache \"%V\"%Z",
                &zone->shm.name);

    ctx->shpool->log_nomem = 0;

    return NGX_OK;
}


ngx_shm_zone_t *
ngx_rag_embed_cache_zone(ngx_conf_t *cf, size_t size, void *tag)
{
    ngx_str_t               name = ngx_string("rag_embed_cache");
    ngx_shm_zone_t         *zone;
    ngx_rag_embed_cache_t  *ctx;

    zone = ngx_shared_memory_add(cf, &name, size, tag);
    if (zone == NULL) {
        return NULL;
    }

    if (zone->data) {
        return zone;    /* one zone per configuration */
    }

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_rag_embed_cache_t));
    if (ctx == NULL) {
        return NULL;
    }

    zone->init = ngx_rag_embed_cache_init;
    zone->data = ctx;

    return zone;
}


/* Locked. The node for key, or NULL. */
static ngx_rag_embed_node_t *
ngx_rag_embed_cache_find(ngx_rag_embed_cache_t *cache, ngx_str_t *key,
    uint32_t hash)
{
    ngx_int_t              rc;
    ngx_rbtree_node_t     *node, *sentinel;
    ngx_rag_embed_node_t  *en;

    node = cache->sh->rbtree.root;
    sentinel = cache->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        en = ngx_rag_embed_node(node);

        rc = ngx_memn2cmp(key->data, ngx_rag_embed_node_key(en), key->len,
                          en->keylen);
        if (rc == 0) {
            return en;
        }

        node = rc < 0 ? node->left : node->right;
    }

    return NULL;
}


/* A copy of key's vector in pool, or NULL (not cached, or no memory). */
static float *
ngx_rag_embed_cache_get(ngx_shm_zone_t *zone, ngx_str_t *key,
    ngx_pool_t *pool, uint32_t *dims)
{
    float                  *vec = NULL;
    uint32_t                hash;
    ngx_rag_embed_node_t   *en;
    ngx_rag_embed_cache_t  *cache = zone->data;

    hash = ngx_crc32_short(key->data, key->len);

    ngx_shmtx_lock(&cache->shpool->mutex);

    en = ngx_rag_embed_cache_find(cache, key, hash);

    if (en != NULL) {
        vec = ngx_palloc(pool, en->dims * sizeof(float));
        if (vec != NULL) {
            ngx_memcpy(vec, en->vec, en->dims * sizeof(float));
            *dims = en->dims;
            ngx_queue_remove(&en->queue);
            ngx_queue_insert_head(&cache->sh->lru, &en->queue);
        }
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);

    return vec;
}


/* Locked. Frees the least recently used entry; 0 when none is left. */
static ngx_uint_t
ngx_rag_embed_cache_evict(ngx_rag_embed_cache_t *cache)
{
    ngx_queue_t           *q;
    ngx_rbtree_node_t     *node;
    ngx_rag_embed_node_t  *en;

    if (ngx_queue_empty(&cache->sh->lru)) {
        return 0;
    }

    q = ngx_queue_last(&cache->sh->lru);
    ngx_queue_remove(q);

    en = ngx_queue_data(q, ngx_rag_embed_node_t, queue);
    node = (ngx_rbtree_node_t *)
           ((u_char *) en - offsetof(ngx_rbtree_node_t, color));

    ngx_rbtree_delete(&cache->sh->rbtree, node);
    ngx_slab_free_locked(cache->shpool, node);

    return 1;
}


static void
ngx_rag_embed_cache_put(ngx_shm_zone_t *zone, ngx_str_t *key,
    const float *vec, uint32_t dims)
{
    size_t                  n;
    uint32_t                hash;
    ngx_uint_t              tries;
    ngx_rbtree_node_t      *node;
    ngx_rag_embed_node_t   *en;
    ngx_rag_embed_cache_t  *cache = zone->data;

    hash = ngx_crc32_short(key->data, key->len);
    n = offsetof(ngx_rbtree_node_t, color)
        + offsetof(ngx_rag_embed_node_t, vec)
        + dims * sizeof(float) + key->len;

    ngx_shmtx_lock(&cache->shpool->mutex);

    if (ngx_rag_embed_cache_find(cache, key, hash) != NULL) {
        goto done;  /* another request put it there meanwhile */
    }

    /* make room from the least recently used end, a bounded number of
     * times (an entry larger than the zone never fits) */
    for (tries = 0; ; tries++) {
        node = ngx_slab_alloc_locked(cache->shpool, n);
        if (node != NULL || tries == 64
            || !ngx_rag_embed_cache_evict(cache))
        {
            break;
        }
    }

    if (node == NULL) {
        goto done;
    }

    node->key = hash;
    en = ngx_rag_embed_node(node);
    en->dims = dims;
    en->keylen = (uint32_t) key->len;
    ngx_memcpy(en->vec, vec, dims * sizeof(float));
    ngx_memcpy(ngx_rag_embed_node_key(en), key->data, key->len);

    ngx_rbtree_insert(&cache->sh->rbtree, node);
    ngx_queue_insert_head(&cache->sh->lru, &en->queue);

done:

    ngx_shmtx_unlock(&cache->shpool->mutex);
}


/* ---- the subrequest ----------------------------------------------------- */

/* The subrequest's response body: what the postpone filter kept in
 * sr->out, or what the upstream read into memory. */
static ngx_int_t
ngx_rag_embed_body(ngx_http_request_t *sr, ngx_str_t *out)
{
    u_char        *p;
    size_t         len;
    ngx_buf_t     *b;
    ngx_chain_t   *cl, *in;

    in = sr->out;
    if (in == NULL && sr->upstream) {
        in = sr->upstream->out_bufs;
    }

    len = 0;
    for (cl = in; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    b = NULL;
    if (in == NULL && sr->upstream) {
        b = &sr->upstream->buffer;
        len = b->last - b->pos;
    }

    p = ngx_pnalloc(sr->pool, len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;

    if (b != NULL) {
        p = ngx_cpymem(p, b->pos, len);
    }

    for (cl = in; cl; cl = cl->next) {
        if (ngx_buf_in_memory(cl->buf)) {
            p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
        }
    }

    *p = '\0';
    out->len = p - out->data;

    return NGX_OK;
}


static void
ngx_rag_embed_failed(ngx_http_request_t *sr, ngx_rag_embed_ctx_t *ctx,
    ngx_uint_t status, const char *why)
{
    u_char  *p;

    ngx_log_error(NGX_LOG_WARN, sr->connection->log, 0,
                  "rag_search: query embedding failed: %s (HTTP %ui), "
                  "answering lexically", why, status);

    p = ngx_pnalloc(sr->pool, 64);
    if (p == NULL) {
        ctx->res.note = "embedding failed, lexical only";
        return;
    }

    if (status) {
        ngx_sprintf(p, "embedding failed (HTTP %ui), lexical only%Z",
                    status);
    } else {
        ngx_sprintf(p, "embedding failed, lexical only%Z");
    }

    ctx->res.note = (const char *) p;
}


static void
ngx_rag_embed_resume(ngx_http_request_t *r)
{
    ngx_rag_embed_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_rag_search_module);

    if (ctx == NULL || !ctx->finished || ctx->resumed) {
        return;
    }

    ctx->resumed = 1;
    r->write_event_handler = ngx_http_request_empty_handler;

    ctx->done(r, ctx->data, &ctx->res);
}


/* The subrequest ended (any way): take the vector out of its response. */
static ngx_int_t
ngx_rag_embed_sr_done(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
    char                  err[256];
    float                *vec;
    uint32_t              dims;
    ngx_str_t             body;
    ngx_uint_t            status;
    ngx_rag_embed_ctx_t  *ctx = data;

    if (ctx->finished) {
        return rc;
    }

    ctx->finished = 1;
    sr->parent->write_event_handler = ngx_rag_embed_resume;

    status = sr->headers_out.status;
    if (status == 0 && rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        status = (ngx_uint_t) rc;
    }

    if (rc == NGX_ERROR || status != NGX_HTTP_OK) {
        ngx_rag_embed_failed(sr, ctx, status, "endpoint did not answer 200");
        return rc;
    }

    if (ngx_rag_embed_body(sr, &body) != NGX_OK || body.len == 0) {
        ngx_rag_embed_failed(sr, ctx, status, "empty response");
        return rc;
    }

    if (rag_embed_parse((const char *) body.data, 1, &vec, &dims, err,
                        sizeof(err))
        != 0)
    {
        ngx_rag_embed_failed(sr, ctx, 0, err);
        return rc;
    }

    ctx->res.vec = ngx_palloc(sr->pool, dims * sizeof(float));
    if (ctx->res.vec == NULL) {
        free(vec);
        ngx_rag_embed_failed(sr, ctx, 0, "out of memory");
        return rc;
    }

    ngx_memcpy(ctx->res.vec, vec, dims * sizeof(float));
    ctx->res.dims = dims;
    free(vec);

    if (ctx->conf->cache) {
        ngx_rag_embed_cache_put(ctx->conf->cache, &ctx->key, ctx->res.vec,
                                dims);
    }

    return rc;
}


/* Adds "name: value" to the subrequest's own header list. */
static ngx_table_elt_t *
ngx_rag_embed_header(ngx_http_request_t *sr, const char *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&sr->headers_in.headers);
    if (h == NULL) {
        return NULL;
    }

    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;
    h->lowcase_key = ngx_pnalloc(sr->pool, h->key.len);
    if (h->lowcase_key == NULL) {
        return NULL;
    }
    ngx_strlow(h->lowcase_key, h->key.data, h->key.len);
    h->hash = ngx_hash_key(h->lowcase_key, h->key.len);

    return h;
}


ngx_int_t
ngx_rag_embed_query(ngx_http_request_t *r, ngx_rag_embed_conf_t *conf,
    ngx_str_t *query, ngx_rag_embed_done_pt done, void *data,
    ngx_rag_embed_res_t *res)
{
    u_char                      *p;
    char                        *text;
    rag_buf                      body;
    ngx_buf_t                   *b;
    ngx_str_t                    v;
    const char                  *texts[1];
    rag_embed_conf               ec;
    ngx_http_request_t          *sr;
    ngx_rag_embed_ctx_t         *ctx;
    ngx_http_request_body_t     *rb;
    ngx_http_post_subrequest_t  *ps;

    ngx_memzero(res, sizeof(ngx_rag_embed_res_t));

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_rag_embed_ctx_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ctx->conf = conf;
    ctx->done = done;
    ctx->data = data;

    /* the cache key: model, a newline, the query's bytes */
    ctx->key.len = conf->model.len + 1 + query->len;
    ctx->key.data = ngx_pnalloc(r->pool, ctx->key.len);
    text = ngx_pnalloc(r->pool, query->len + 1);
    if (ctx->key.data == NULL || text == NULL) {
        return NGX_ERROR;
    }
    p = ngx_cpymem(ctx->key.data, conf->model.data, conf->model.len);
    *p++ = '\n';
    ngx_memcpy(p, query->data, query->len);
    *ngx_cpymem(text, query->data, query->len) = '\0';

    if (conf->cache) {
        res->vec = ngx_rag_embed_cache_get(conf->cache, &ctx->key, r->pool,
                                           &res->dims);
        if (res->vec != NULL) {
            res->cached = 1;
            return NGX_OK;
        }
    }

    /* the request body, as rag_embed would send it */
    ngx_memzero(&ec, sizeof(ec));
    ec.model = (const char *) conf->model.data;
    texts[0] = text;

    rag_buf_init(&body, NGX_RAG_EMBED_MAX_REQUEST);
    if (rag_embed_request_body(&ec, texts, 1, &body) != 0) {
        rag_buf_free(&body);
        res->note = "query too long to embed, lexical only";
        return NGX_OK;
    }

    b = ngx_create_temp_buf(r->pool, body.len);
    rb = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (b == NULL || rb == NULL || ps == NULL) {
        rag_buf_free(&body);
        return NGX_ERROR;
    }
    b->last = ngx_cpymem(b->last, body.data, body.len);
    b->last_buf = 1;
    b->last_in_chain = 1;
    rag_buf_free(&body);

    rb->bufs = ngx_alloc_chain_link(r->pool);
    if (rb->bufs == NULL) {
        return NGX_ERROR;
    }
    rb->bufs->buf = b;
    rb->bufs->next = NULL;

    ps->handler = ngx_rag_embed_sr_done;
    ps->data = ctx;

    if (ngx_http_subrequest(r, &conf->pass, NULL, &sr, ps,
                            NGX_HTTP_SUBREQUEST_IN_MEMORY
                            |NGX_HTTP_SUBREQUEST_WAITED)
        != NGX_OK)
    {
        res->note = "embedding failed, lexical only";
        return NGX_OK;
    }

    /* POST the JSON, with only the headers the endpoint needs */
    sr->method = NGX_HTTP_POST;
    ngx_str_set(&sr->method_name, "POST");
    sr->request_body = rb;
    sr->header_only = 0;

    if (ngx_list_init(&sr->headers_in.headers, r->pool, 4,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sr->headers_in.content_length = NULL;
    sr->headers_in.content_length_n = b->last - b->pos;
    sr->headers_in.transfer_encoding = NULL;
    sr->headers_in.chunked = 0;

    ngx_str_set(&v, "application/json");
    sr->headers_in.content_type = ngx_rag_embed_header(sr, "Content-Type",
                                                       &v);
    if (sr->headers_in.content_type == NULL) {
        return NGX_ERROR;
    }

    if (conf->key.len) {
        v.len = sizeof("Bearer ") - 1 + conf->key.len;
        v.data = ngx_pnalloc(r->pool, v.len);
        if (v.data == NULL) {
            return NGX_ERROR;
        }
        ngx_memcpy(ngx_cpymem(v.data, "Bearer ", sizeof("Bearer ") - 1),
                   conf->key.data, conf->key.len);
        sr->headers_in.authorization = ngx_rag_embed_header(sr,
                                                            "Authorization",
                                                            &v);
        if (sr->headers_in.authorization == NULL) {
            return NGX_ERROR;
        }
    }

    ngx_http_set_ctx(r, ctx, ngx_rag_search_module);

    return NGX_DONE;
}
