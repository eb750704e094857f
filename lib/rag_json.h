/*
 * rag_json — reading parsed JSON (yajl trees) without repeating paths.
 *
 * The getters walk object keys given as a NULL-terminated list of
 * strings: rag_json_str(v, "author", "id", NULL) is v.author.id. They
 * return a pointer into the tree (valid until yajl_tree_free) or the
 * stated "absent" value when any step is missing or has another type.
 * Writing JSON lives in rag_buf (rag_buf_json_str).
 */
#ifndef RAG_JSON_H
#define RAG_JSON_H

#include <stddef.h>
#include <yajl/yajl_tree.h>

/* Largest document rag_json_parse accepts. */
#define RAG_JSON_MAX (4u << 20)

yajl_val rag_json_get(yajl_val v, ...);
/* NULL when absent or not a string. */
const char *rag_json_str(yajl_val v, ...);
/* 1 true, 0 false, -1 absent or not a boolean. */
int rag_json_bool(yajl_val v, ...);
/* def when absent or not an integer. */
long long rag_json_int(yajl_val v, long long def, ...);

/* Parses len bytes (a bounded, NUL-terminated copy is made; the input
 * needs no terminator). NULL when len > RAG_JSON_MAX or malformed. Free
 * with yajl_tree_free. */
yajl_val rag_json_parse(const char *json, size_t len);

#endif
