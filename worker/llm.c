#include "llm.h"

#include "conf_tables.h"
#include "rag_http.h"
#include "rag_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#define RAG_LLM_MAX_RESPONSE (4u * 1024 * 1024)
#define RAG_LLM_MAX_REQUEST (8u * 1024 * 1024)

void
rag_llm_conf_load(rag_llm_conf *lc, rag_conf *conf)
{
    const rag_conf_section *s = &rag_conf_llm;

    memset(lc, 0, sizeof(*lc));
    lc->base_url = rag_conf_str(conf, s, "llm_base_url");
    lc->api_key = rag_conf_str(conf, s, "llm_api_key");
    lc->model = rag_conf_str(conf, s, "llm_model");
    lc->temperature = rag_conf_num(conf, s, "llm_temperature");
    lc->max_tokens = rag_conf_long(conf, s, "llm_max_tokens");
    lc->timeout_ms = rag_conf_long(conf, s, "llm_timeout_ms");
    lc->max_retries = (int)rag_conf_long(conf, s, "llm_max_retries");
    lc->backoff_base_ms = rag_conf_long(conf, s, "llm_backoff_ms");
}

int
rag_llm_enabled(const rag_llm_conf *lc)
{
    return lc->base_url && *lc->base_url;
}

int
rag_llm_request_json(const rag_llm_conf *lc, const rag_llm_msg *msgs, size_t n,
                     rag_buf *b)
{
    int rc = 0;

    rc |= rag_buf_puts(b, "{\"model\":");
    rc |= rag_buf_json_str(b, lc->model, strlen(lc->model));
    if (lc->temperature >= 0)
        rc |= rag_buf_printf(b, ",\"temperature\":%.3g", lc->temperature);
    if (lc->max_tokens > 0)
        rc |= rag_buf_printf(b, ",\"max_tokens\":%ld", lc->max_tokens);
    rc |= rag_buf_puts(b, ",\"messages\":[");
    for (size_t i = 0; i < n; i++) {
        rc |= rag_buf_printf(b, "%s{\"role\":", i ? "," : "");
        rc |= rag_buf_json_str(b, msgs[i].role, strlen(msgs[i].role));
        rc |= rag_buf_puts(b, ",\"content\":");
        rc |= rag_buf_json_str(b, msgs[i].content, strlen(msgs[i].content));
        rc |= rag_buf_putc(b, '}');
    }
    rc |= rag_buf_puts(b, "]}");
    return rc ? -1 : 0;
}

int
rag_llm_parse_response(const char *json, size_t len, rag_buf *content,
                       char *finish, size_t finishlen, char *err, size_t errlen)
{
    static const char *choices_path[] = {"choices", NULL};
    static const char *msg_path[] = {"message", NULL};
    static const char *content_path[] = {"content", NULL};
    static const char *role_path[] = {"role", NULL};
    static const char *finish_path[] = {"finish_reason", NULL};
    char perr[128], *copy = NULL;
    const char *role, *text;
    yajl_val root = NULL, choices, c0, msg, v;
    int rc = -1;

    if (finish && finishlen)
        finish[0] = '\0';
    /* yajl_tree_parse needs a NUL-terminated string */
    copy = strndup(json, len);
    if (copy == NULL) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    root = yajl_tree_parse(copy, perr, sizeof(perr));
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        snprintf(err, errlen, "response is not a JSON object");
        goto done;
    }
    choices = yajl_tree_get(root, choices_path, yajl_t_array);
    if (choices == NULL || YAJL_GET_ARRAY(choices)->len == 0) {
        snprintf(err, errlen, "response has no choices");
        goto done;
    }
    c0 = YAJL_GET_ARRAY(choices)->values[0];
    msg = yajl_tree_get(c0, msg_path, yajl_t_object);
    v = msg ? yajl_tree_get(msg, content_path, yajl_t_string) : NULL;
    if (v == NULL) {
        snprintf(err, errlen, "choices[0].message.content missing");
        goto done;
    }
    v = yajl_tree_get(msg, role_path, yajl_t_string);
    role = v ? YAJL_GET_STRING(v) : NULL;
    if (role && strcmp(role, "assistant") != 0) {
        snprintf(err, errlen, "choices[0].message.role is not assistant");
        goto done;
    }
    v = yajl_tree_get(msg, content_path, yajl_t_string);
    text = v ? YAJL_GET_STRING(v) : NULL;
    if (text == NULL || rag_buf_puts(content, text) != 0) {
        snprintf(err, errlen, "reply too large");
        goto done;
    }
    v = finish ? yajl_tree_get(c0, finish_path, yajl_t_string) : NULL;
    if (v && YAJL_GET_STRING(v))
        snprintf(finish, finishlen, "%s", YAJL_GET_STRING(v));
    rc = 0;
done:
    yajl_tree_free(root);
    free(copy);
    return rc;
}

int
rag_llm_chat(const rag_llm_conf *lc, const rag_llm_msg *msgs, size_t n,
             rag_buf *content, char *err, size_t errlen)
{
    char url[1024], finish[32];
    rag_http_req req;
    rag_http_resp resp;
    rag_buf body;
    size_t ul;
    int rc = RAG_LLM_TRANSIENT;

    rag_buf_init(&body, RAG_LLM_MAX_REQUEST);
    memset(&resp, 0, sizeof(resp));
    rag_buf_init(&resp.body, 1);
    ul = strlen(lc->base_url);
    while (ul > 0 && lc->base_url[ul - 1] == '/')
        ul--;
    snprintf(url, sizeof(url), "%.*s/chat/completions", (int)ul, lc->base_url);
    if (rag_llm_request_json(lc, msgs, n, &body) != 0) {
        snprintf(err, errlen, "request too large");
        rc = RAG_LLM_PERMANENT;
        goto done;
    }
    memset(&req, 0, sizeof(req));
    req.url = url;
    req.body = body.data;
    req.body_len = body.len;
    req.bearer = lc->api_key;
    req.timeout_ms = lc->timeout_ms;
    req.max_retries = lc->max_retries;
    req.backoff_base_ms = lc->backoff_base_ms;
    req.max_response = RAG_LLM_MAX_RESPONSE;
    rag_buf_free(&resp.body);
    if (rag_http_do(&req, &resp) != 0) {
        snprintf(err, errlen, "llm: %s (after %d attempts)",
                 resp.error[0] ? resp.error : "transport error", resp.attempts);
        goto done;
    }
    if (resp.status != 200) {
        snprintf(err, errlen, "llm: HTTP %ld after %d attempts: %.200s",
                 resp.status, resp.attempts,
                 resp.body.data ? resp.body.data : "");
        if (resp.status >= 400 && resp.status < 500 && resp.status != 408 &&
            resp.status != 409 && resp.status != 429)
            rc = RAG_LLM_PERMANENT;
        goto done;
    }
    if (rag_llm_parse_response(resp.body.data ? resp.body.data : "",
                               resp.body.len, content, finish, sizeof(finish),
                               err, errlen) != 0)
        goto done;
    if (strcmp(finish, "length") == 0)
        rag_warn("msg=\"llm reply truncated at max_tokens\"");
    rc = RAG_LLM_OK;
done:
    rag_buf_free(&body);
    rag_buf_free(&resp.body);
    return rc;
}
