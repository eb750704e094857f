/*
 * rag_paths — where the programs find their installed data.
 */
#ifndef RAG_PATHS_H
#define RAG_PATHS_H

#include <stddef.h>

/* Directory of migrations: $RAG_SQL_DIR, else <exe dir>/../sql (a build
 * tree inside the repository), else <exe dir>/../share/ngx-rag/sql (what
 * `make install PREFIX=...` lays out), else /usr/share/ngx-rag/sql (the
 * Debian package). Writes into out and returns it. */
const char *rag_sql_dir(char *out, size_t outlen);

#endif
