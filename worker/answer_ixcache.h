/*
 * answer_ixcache — open collection index files once and share them
 * between the worker's threads, reopening a file when it was replaced
 * (rag_reindex renames a new file over it: inode/mtime/size change).
 *
 * rag_ixcache_get() returns a referenced entry; the rag_index it holds
 * stays valid until rag_ixcache_put(), even if a newer file replaced it
 * meanwhile. Thread-safe.
 */
#ifndef RAG_ANSWER_IXCACHE_H
#define RAG_ANSWER_IXCACHE_H

#include "rag_index.h"

#include <stddef.h>

typedef struct rag_ixcache rag_ixcache;
typedef struct rag_ixentry rag_ixentry;

rag_ixcache *rag_ixcache_new(void);
void rag_ixcache_free(rag_ixcache *c);

/* NULL + err when the file is missing or invalid (err starts with
 * "missing:" when it does not exist). */
rag_ixentry *rag_ixcache_get(rag_ixcache *c, const char *path, char *err,
                             size_t errlen);
const rag_index *rag_ixentry_index(const rag_ixentry *e);
void rag_ixcache_put(rag_ixcache *c, rag_ixentry *e);

#endif
