/*
 * rag_collection — what a collection's name may be, and where its index
 * file lives: the one place that knows the index directory's default
 * and builds "<index_dir>/<collection>.idx" (the daemons, the module's
 * gap report and the bot all open indexes by these rules).
 */
#ifndef RAG_COLLECTION_H
#define RAG_COLLECTION_H

#include <stddef.h>

#define RAG_INDEX_DIR_DEFAULT "/var/lib/ngx_rag/index"

/* 1 when name is a valid collection name: [A-Za-z0-9._-]{1,64}, neither
 * "." nor containing "..", so it is safe as a file name. */
int rag_collection_name_ok(const char *name);

/* Writes "<index_dir>/<collection>.idx" into out. -1 when the name is not
 * a valid collection name, index_dir is empty or the result does not
 * fit. */
int rag_index_path(char *out, size_t outlen, const char *index_dir,
                   const char *collection);

/* rag_conf check for index_dir: NULL when usable, else why not. */
const char *rag_index_dir_check(const char *dir);

#endif
