/*
 * Response, request-body and secret helpers shared by the endpoints.
 */

#include "ngx_rag_module.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>


ngx_int_t
ngx_rag_send(ngx_http_request_t *r, ngx_uint_t status,
    const char *content_type, u_char *body, size_t len,
    ngx_uint_t retry_after)
{
    ngx_int_t         rc;
    ngx_buf_t        *b;
    ngx_chain_t       out;
    ngx_table_elt_t  *h;

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;

    if (content_type == NULL) {
        content_type = "application/json";
    }

    r->headers_out.content_type.len = ngx_strlen(content_type);
    r->headers_out.content_type.data = (u_char *) content_type;
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    if (retry_after) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Retry-After");
        h->value.data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (h->value.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        h->value.len = ngx_sprintf(h->value.data, "%ui", retry_after)
                       - h->value.data;
    }

    if (len == 0 || r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
        r->headers_out.content_length_n = len;
        return ngx_http_send_header(r);
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, body, len);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_rag_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    rag_buf    b;
    u_char    *p;
    size_t     len;
    ngx_int_t  rc;

    rag_buf_init(&b, 4096);

    if (rag_buf_puts(&b, "{\"error\":") != 0
        || rag_buf_json_str(&b, message, ngx_strlen(message)) != 0
        || rag_buf_putc(&b, '}') != 0)
    {
        rag_buf_free(&b);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* copy into the pool: the response outlives this function */
    len = b.len;
    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        rag_buf_free(&b);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ngx_memcpy(p, b.data, len);
    rag_buf_free(&b);

    rc = ngx_rag_send(r, status, NULL, p, len,
                      status == NGX_HTTP_SERVICE_UNAVAILABLE ? 5 : 0);

    return rc;
}


ngx_int_t
ngx_rag_check_json_post(ngx_http_request_t *r, size_t max_body)
{
    ngx_str_t  *ct;

    if (r->method != NGX_HTTP_POST) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    ct = r->headers_in.content_type ? &r->headers_in.content_type->value
                                    : NULL;

    if (ct == NULL
        || ct->len < sizeof("application/json") - 1
        || ngx_strncasecmp(ct->data, (u_char *) "application/json",
                           sizeof("application/json") - 1) != 0)
    {
        return NGX_HTTP_UNSUPPORTED_MEDIA_TYPE;
    }

    if (r->headers_in.content_length_n > (off_t) max_body) {
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    return NGX_OK;
}


/*
 * The body as nginx left it in r->request_body->bufs: memory buffers,
 * or one buffer for the part spooled to client_body_temp_path. Special
 * buffers carry no data — an empty body (Content-Length: 0) or the end
 * of a chunked one is a zeroed last_buf whose pos is NULL — and are
 * skipped, never copied.
 */
ngx_int_t
ngx_rag_body(ngx_http_request_t *r, ngx_str_t *out)
{
    off_t         size;
    size_t        len;
    u_char       *p;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    out->len = 0;
    out->data = (u_char *) "";

    if (r->request_body == NULL) {
        return NGX_OK;
    }

    len = 0;
    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += (size_t) ngx_buf_size(cl->buf);
    }

    if (len == 0) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        size = ngx_buf_size(b);

        if (size == 0) {
            continue;
        }

        if (ngx_buf_in_memory(b)) {
            p = ngx_cpymem(p, b->pos, (size_t) size);
            continue;
        }

        /* spooled to a temp file; max_body keeps this read small */
        n = ngx_read_file(b->file, p, (size_t) size, b->file_pos);
        if (n != (ssize_t) size) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "rag: short read of the request body from "
                          "\"%V\"", &b->file->name);
            return NGX_ERROR;
        }
        p += n;
    }

    *p = '\0';
    out->len = len;

    return NGX_OK;
}


ngx_int_t
ngx_rag_body_bounded(ngx_http_request_t *r, ngx_uint_t endpoint,
    ngx_str_t *body)
{
    ngx_rag_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rag_module);

    if (ngx_rag_body(r, body) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_DONE;
    }

    /* a chunked body had no Content-Length to refuse before reading */
    if (body->len > rlcf->max_body) {
        ngx_rag_metrics_observe(r, endpoint,
                                NGX_HTTP_REQUEST_ENTITY_TOO_LARGE);
        ngx_http_finalize_request(r, ngx_rag_send_error(r,
                                  NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                  "body too large"));
        return NGX_DONE;
    }

    return NGX_OK;
}


ngx_int_t
ngx_rag_secret_eq(const u_char *a, size_t alen, const u_char *b,
    size_t blen)
{
    u_char  da[SHA256_DIGEST_LENGTH], db[SHA256_DIGEST_LENGTH];

    /* compare digests so neither content nor length leaks through time */
    SHA256(a, alen, da);
    SHA256(b, blen, db);

    return CRYPTO_memcmp(da, db, sizeof(da)) == 0 && alen == blen;
}


ngx_table_elt_t *
ngx_rag_header(ngx_http_request_t *r, const char *name)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }

    return NULL;
}


ngx_str_t
ngx_rag_bearer(ngx_http_request_t *r)
{
    ngx_str_t         tok;
    ngx_table_elt_t  *h;

    ngx_str_null(&tok);

    h = r->headers_in.authorization;

    if (h == NULL
        || h->value.len <= sizeof("Bearer ") - 1
        || ngx_strncasecmp(h->value.data, (u_char *) "Bearer ",
                           sizeof("Bearer ") - 1) != 0)
    {
        return tok;
    }

    tok.data = h->value.data + sizeof("Bearer ") - 1;
    tok.len = h->value.len - (sizeof("Bearer ") - 1);

    return tok;
}


ngx_int_t
ngx_rag_refuse(ngx_http_request_t *r, ngx_uint_t endpoint, ngx_int_t status)
{
    const char  *msg;

    switch (status) {
    case NGX_HTTP_NOT_ALLOWED:
        msg = "method not allowed";
        break;
    case NGX_HTTP_UNSUPPORTED_MEDIA_TYPE:
        msg = "Content-Type must be application/json";
        break;
    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        msg = "body too large";
        break;
    case NGX_HTTP_UNAUTHORIZED:
        msg = "invalid or missing credentials";
        break;
    case NGX_HTTP_FORBIDDEN:
        msg = "endpoint secret not configured";
        break;
    default:
        msg = "bad request";
    }

    /* never read a body we refuse; an unread one must not be parsed as
     * the next request on this connection */
    if (status == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE
        || ngx_http_discard_request_body(r) != NGX_OK)
    {
        r->keepalive = 0;
    }

    ngx_rag_metrics_observe(r, endpoint, status);

    return ngx_rag_send_error(r, status, msg);
}


ngx_int_t
ngx_rag_not_allowed(ngx_http_request_t *r, ngx_uint_t endpoint,
    const char *allow)
{
    ngx_table_elt_t  *h;

    /* RFC 9110 15.5.6: a 405 lists the methods the resource supports */
    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Allow");
    h->value.data = (u_char *) allow;
    h->value.len = ngx_strlen(allow);

    return ngx_rag_refuse(r, endpoint, NGX_HTTP_NOT_ALLOWED);
}


ngx_int_t
ngx_rag_read_json(ngx_http_request_t *r, ngx_uint_t endpoint, ngx_int_t rc,
    ngx_http_client_body_handler_pt post_handler)
{
    if (rc == NGX_HTTP_NOT_ALLOWED) {
        return ngx_rag_not_allowed(r, endpoint, "POST");
    }

    if (rc != NGX_OK) {
        return ngx_rag_refuse(r, endpoint, rc);
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, post_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


char *
ngx_rag_pstrndup(ngx_pool_t *pool, const void *s, size_t len)
{
    char  *p;

    p = ngx_pnalloc(pool, len + 1);
    if (p != NULL) {
        ngx_memcpy(p, s, len);
        p[len] = '\0';
    }

    return p;
}


ngx_int_t
ngx_rag_form_decode(ngx_pool_t *pool, ngx_str_t *raw, ngx_str_t *out)
{
    u_char  *dst, *src, *p;

    p = ngx_pnalloc(pool, raw->len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, raw->data, raw->len);
    for (src = p; src < p + raw->len; src++) {
        if (*src == '+') {
            *src = ' ';
        }
    }

    src = p;
    dst = p;
    ngx_unescape_uri(&dst, &src, raw->len, 0);
    *dst = '\0';

    out->data = p;
    out->len = dst - p;

    return NGX_OK;
}


ngx_int_t
ngx_rag_form_arg(ngx_pool_t *pool, ngx_str_t *form, const char *name,
    ngx_str_t *out)
{
    u_char     *p, *last, *amp;
    size_t      n;
    ngx_str_t   raw;

    n = ngx_strlen(name);
    p = form->data;
    last = p + form->len;

    while (p < last) {
        amp = ngx_strlchr(p, last, '&');
        if (amp == NULL) {
            amp = last;
        }

        if ((size_t) (amp - p) > n && ngx_strncmp(p, name, n) == 0
            && p[n] == '=')
        {
            raw.data = p + n + 1;
            raw.len = amp - raw.data;
            return ngx_rag_form_decode(pool, &raw, out);
        }

        p = amp + 1;
    }

    return NGX_DECLINED;
}
