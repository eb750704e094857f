/*
 * test_ix.h — temporary indexes for the unit tests: write a filled
 * writer to DIR/NAME.idx and open it, and remove the test's directory.
 *
 * test_ix_write_open() always frees the writer (the caller gives it up);
 * the returned index is the caller's, closed with rag_index_close().
 * Errors go to stderr and give NULL, which the tests CHECK.
 * Header-only (static inline): each test is one program.
 */
#ifndef RAG_TEST_IX_H
#define RAG_TEST_IX_H

#include "rag_index.h"

#include <stdio.h>
#include <stdlib.h>

static inline rag_index *
test_ix_write_open(rag_index_writer *w, const char *dir, const char *name)
{
    char path[256], err[256];
    rag_index *ix;

    if (w == NULL)
        return NULL;
    snprintf(path, sizeof(path), "%s/%s.idx", dir, name);
    if (rag_index_writer_write(w, path, 1, err, sizeof(err)) != 0) {
        fprintf(stderr, "write %s: %s\n", path, err);
        rag_index_writer_free(w);
        return NULL;
    }
    rag_index_writer_free(w);
    ix = rag_index_open(path, err, sizeof(err));
    if (ix == NULL)
        fprintf(stderr, "open %s: %s\n", path, err);
    return ix;
}

/* rm -rf of the test's mkdtemp() directory */
static inline void
test_ix_rmdir(const char *dir)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", dir);
}

#endif
