#include "rag_embed.h"

#include "rag_buf.h"
#include "rag_http.h"
#include "rag_log.h"
#include "rag_tokens.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#define EMBED_MAX_INPUTS 2048
#define EMBED_MAX_TOKENS 300000
#define EMBED_MAX_DIMS 16384
#define EMBED_MAX_RESPONSE (256u * 1024 * 1024)

const rag_conf_section rag_conf_embed = {
    "embeddings",
    (const rag_conf_key[]){
        {"embed_base_url", RAG_CONF_STR, NULL, 0, 0, NULL,
         "OpenAI-compatible `/v1/embeddings` for chunks and queries; unset: "
         "no endpoint vectors"},
        {"embed_api_key", RAG_CONF_STR, NULL, 0, 0, NULL,
         "its bearer key (or `embed_api_key_file`)"},
        {"embed_model", RAG_CONF_STR, "text-embedding-3-small", 0, 0, NULL,
         "must match the model the module's `rag_embed_model` names"},
        {"embed_dimensions", RAG_CONF_INT, "0", 0, EMBED_MAX_DIMS, NULL,
         "vector size asked for (0: the model's own)"},
        {"embed_timeout_ms", RAG_CONF_INT, "60000", 1, 86400000, NULL,
         "per request"},
        {"embed_max_retries", RAG_CONF_INT, "4", 0, 100, NULL,
         "408/409/429/5xx retried, honouring `Retry-After`"},
        {"embed_max_inputs", RAG_CONF_INT, "2048", 1, EMBED_MAX_INPUTS, NULL,
         "inputs per request"},
        {"embed_max_tokens", RAG_CONF_INT, "300000", 1, EMBED_MAX_TOKENS, NULL,
         "estimated tokens per request"},
        {NULL, 0, NULL, 0, 0, NULL, NULL},
    },
};

void
rag_embed_conf_load(rag_embed_conf *ec, rag_conf *conf)
{
    const rag_conf_section *s = &rag_conf_embed;

    memset(ec, 0, sizeof(*ec));
    ec->base_url = rag_conf_str(conf, s, "embed_base_url");
    ec->api_key = rag_conf_str(conf, s, "embed_api_key");
    ec->model = rag_conf_str(conf, s, "embed_model");
    ec->dimensions = (uint32_t)rag_conf_long(conf, s, "embed_dimensions");
    ec->timeout_ms = rag_conf_long(conf, s, "embed_timeout_ms");
    ec->max_retries = (int)rag_conf_long(conf, s, "embed_max_retries");
    ec->max_inputs = (size_t)rag_conf_long(conf, s, "embed_max_inputs");
    ec->max_tokens = (size_t)rag_conf_long(conf, s, "embed_max_tokens");
}

int
rag_embed_enabled(const rag_embed_conf *ec)
{
    return ec && ec->base_url && *ec->base_url;
}

/* Parses one response for texts [first, first+n) into out. */
static int
parse_response(const char *body, size_t n, size_t first, float **out,
               uint32_t *dims, char *err, size_t errlen)
{
    char ebuf[256];
    const char *data_path[] = {"data", NULL};
    const char *idx_path[] = {"index", NULL};
    const char *emb_path[] = {"embedding", NULL};
    yajl_val root, data;
    unsigned char *seen = NULL;
    int rc = -1;

    root = yajl_tree_parse(body, ebuf, sizeof(ebuf));
    if (root == NULL) {
        snprintf(err, errlen, "embeddings: bad JSON: %.100s", ebuf);
        return -1;
    }
    data = yajl_tree_get(root, data_path, yajl_t_array);
    if (data == NULL || YAJL_GET_ARRAY(data)->len != n) {
        snprintf(err, errlen, "embeddings: expected %zu items in data", n);
        goto done;
    }
    if ((seen = calloc(n, 1)) == NULL)
        goto done;
    for (size_t i = 0; i < n; i++) {
        yajl_val item = YAJL_GET_ARRAY(data)->values[i];
        yajl_val idx = yajl_tree_get(item, idx_path, yajl_t_number);
        yajl_val emb = yajl_tree_get(item, emb_path, yajl_t_array);
        long long k;
        size_t d;
        double norm = 0;
        float *v;

        if (idx == NULL || !YAJL_IS_INTEGER(idx) || emb == NULL) {
            snprintf(err, errlen,
                     "embeddings: item %zu lacks index or "
                     "embedding array",
                     i);
            goto done;
        }
        k = YAJL_GET_INTEGER(idx);
        if (k < 0 || (size_t)k >= n || seen[k]) {
            snprintf(err, errlen, "embeddings: bad or repeated index %lld", k);
            goto done;
        }
        seen[k] = 1;
        d = YAJL_GET_ARRAY(emb)->len;
        if (d == 0 || d > EMBED_MAX_DIMS || (*dims && d != *dims)) {
            snprintf(err, errlen, "embeddings: inconsistent dimension %zu", d);
            goto done;
        }
        if (*out == NULL) {
            /* probe: the caller sizes its array from the first answer */
            *dims = (uint32_t)d;
            rc = 1;
            goto done;
        }
        v = *out + (first + (size_t)k) * d;
        for (size_t j = 0; j < d; j++) {
            yajl_val x = YAJL_GET_ARRAY(emb)->values[j];
            if (!YAJL_IS_NUMBER(x)) {
                snprintf(err, errlen, "embeddings: non-numeric value");
                goto done;
            }
            v[j] = (float)YAJL_GET_DOUBLE(x);
            norm += (double)v[j] * v[j];
        }
        if (!(norm > 0) || !isfinite(norm)) {
            snprintf(err, errlen, "embeddings: zero or invalid vector");
            goto done;
        }
        norm = sqrt(norm);
        for (size_t j = 0; j < d; j++)
            v[j] = (float)(v[j] / norm);
    }
    rc = 0;
done:
    free(seen);
    yajl_tree_free(root);
    return rc;
}

int
rag_embed_request_body(const rag_embed_conf *ec, const char *const *texts,
                       size_t n, rag_buf *body)
{
    if (rag_buf_puts(body, "{\"model\":") ||
        rag_buf_json_str(body, ec->model ? ec->model : "",
                         ec->model ? strlen(ec->model) : 0) ||
        rag_buf_puts(body, ",\"encoding_format\":\"float\""))
        return -1;
    if (ec->dimensions &&
        rag_buf_printf(body, ",\"dimensions\":%u", ec->dimensions))
        return -1;
    if (rag_buf_puts(body, ",\"input\":["))
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *t = texts[i] ? texts[i] : "";
        size_t tl = strlen(t);
        if (tl == 0)
            t = " ", tl = 1; /* the API rejects empty strings */
        if ((i && rag_buf_putc(body, ',')) || rag_buf_json_str(body, t, tl))
            return -1;
    }
    return rag_buf_puts(body, "]}");
}

int
rag_embed_parse(const char *body, size_t n, float **out, uint32_t *dims,
                char *err, size_t errlen)
{
    float *vec = NULL;
    int pr;

    *out = NULL;
    *dims = 0;
    /* learn the dimension from the answer, then size */
    pr = parse_response(body, n, 0, &vec, dims, err, errlen);
    if (pr < 0 || *dims == 0)
        return -1;
    if ((vec = calloc(n * (size_t)*dims, sizeof(float))) == NULL) {
        snprintf(err, errlen, "embeddings: out of memory");
        return -1;
    }
    if (parse_response(body, n, 0, &vec, dims, err, errlen) != 0) {
        free(vec);
        return -1;
    }
    *out = vec;
    return 0;
}

static int
request_batch(const rag_embed_conf *ec, const char *const *texts, size_t first,
              size_t n, rag_http_resp *resp, char *err, size_t errlen)
{
    rag_buf body;
    rag_http_req req;
    char url[2048];
    int rc = -1;

    rag_buf_init(&body, 0);
    if (rag_embed_request_body(ec, texts + first, n, &body))
        goto oom;
    snprintf(url, sizeof(url), "%s/embeddings", ec->base_url);
    memset(&req, 0, sizeof(req));
    req.url = url;
    req.body = body.data;
    req.body_len = body.len;
    req.bearer = ec->api_key;
    req.timeout_ms = ec->timeout_ms > 0 ? ec->timeout_ms : 60000;
    req.max_retries = ec->max_retries;
    req.max_response = EMBED_MAX_RESPONSE;
    if (rag_http_do(&req, resp) != 0) {
        snprintf(err, errlen, "embeddings: %s", resp->error);
        goto done;
    }
    if (resp->status != 200) {
        snprintf(err, errlen, "embeddings: HTTP %ld: %.200s", resp->status,
                 resp->body.data ? resp->body.data : "");
        goto done;
    }
    rc = 0;
    goto done;
oom:
    snprintf(err, errlen, "embeddings: request too large");
done:
    rag_buf_free(&body);
    return rc;
}

int
rag_embed(const rag_embed_conf *ec, const char *const *texts, size_t n,
          float **out, uint32_t *dims_out, char *err, size_t errlen)
{
    size_t max_in, max_tok, i = 0;
    uint32_t dims = 0;
    float *vec = NULL;
    int rc = -1;

    *out = NULL;
    *dims_out = 0;
    if (!rag_embed_enabled(ec)) {
        snprintf(err, errlen, "embeddings: no endpoint configured");
        return -1;
    }
    if (n == 0)
        return 0;
    max_in = ec->max_inputs && ec->max_inputs <= EMBED_MAX_INPUTS
                 ? ec->max_inputs
                 : EMBED_MAX_INPUTS;
    max_tok = ec->max_tokens && ec->max_tokens <= EMBED_MAX_TOKENS
                  ? ec->max_tokens
                  : EMBED_MAX_TOKENS;
    while (i < n) {
        size_t j = i, tok = 0;
        rag_http_resp resp;
        int pr;

        /* a batch: as many inputs as fit both budgets, at least one */
        while (j < n && j - i < max_in) {
            const char *t = texts[j] ? texts[j] : "";
            size_t tt = rag_tokens_estimate(t, strlen(t));
            if (j > i && tok + tt > max_tok)
                break;
            tok += tt;
            j++;
        }
        if (request_batch(ec, texts, i, j - i, &resp, err, errlen) != 0) {
            rag_buf_free(&resp.body);
            goto done;
        }
        if (dims == 0) {
            /* learn the dimension from the first response, then size */
            pr = parse_response(resp.body.data, j - i, i, &vec, &dims, err,
                                errlen);
            if (pr < 0 || dims == 0) {
                rag_buf_free(&resp.body);
                goto done;
            }
            if ((vec = calloc(n * (size_t)dims, sizeof(float))) == NULL) {
                snprintf(err, errlen, "embeddings: out of memory");
                rag_buf_free(&resp.body);
                goto done;
            }
        }
        pr = parse_response(resp.body.data, j - i, i, &vec, &dims, err, errlen);
        rag_buf_free(&resp.body);
        if (pr != 0)
            goto done;
        rag_debug("msg=\"embedded batch\" inputs=%zu tokens=%zu", j - i, tok);
        i = j;
    }
    *out = vec;
    *dims_out = dims;
    vec = NULL;
    rc = 0;
done:
    free(vec);
    return rc;
}
