/* rag_json — see rag_json.h. */
#include "rag_json.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static yajl_val
j_walk(yajl_val v, va_list ap)
{
    const char *k;

    while (v && (k = va_arg(ap, const char *)) != NULL) {
        const char *path[] = {k, NULL};
        if (!YAJL_IS_OBJECT(v))
            return NULL;
        v = yajl_tree_get(v, path, yajl_t_any);
    }
    return v;
}

yajl_val
rag_json_get(yajl_val v, ...)
{
    va_list ap;
    va_start(ap, v);
    v = j_walk(v, ap);
    va_end(ap);
    return v;
}

const char *
rag_json_str(yajl_val v, ...)
{
    va_list ap;
    va_start(ap, v);
    v = j_walk(v, ap);
    va_end(ap);
    return v && YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
}

int
rag_json_bool(yajl_val v, ...)
{
    va_list ap;
    va_start(ap, v);
    v = j_walk(v, ap);
    va_end(ap);
    if (v && YAJL_IS_TRUE(v))
        return 1;
    if (v && YAJL_IS_FALSE(v))
        return 0;
    return -1;
}

long long
rag_json_int(yajl_val v, long long def, ...)
{
    va_list ap;
    va_start(ap, def);
    v = j_walk(v, ap);
    va_end(ap);
    return v && YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v) : def;
}

yajl_val
rag_json_parse(const char *json, size_t len)
{
    char *copy, errbuf[128];
    yajl_val v;

    if (len > RAG_JSON_MAX)
        return NULL;
    copy = malloc(len + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, json, len);
    copy[len] = '\0';
    v = yajl_tree_parse(copy, errbuf, sizeof(errbuf));
    free(copy);
    return v;
}
