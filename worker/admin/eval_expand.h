/*
 * eval_expand — `rag-admin eval --expand on|off`: the collections'
 * indexes rebuilt from Postgres with document expansion (the terms of
 * the docs' own index pages, issue 16.1) on or off, into a scratch
 * directory, so one eval compares both without touching the live files.
 * Each rebuild mirrors the generation Postgres recorded and starts from
 * a copy of the live file, whose fastText model it keeps.
 *
 * Ownership: eval_expand owns its scratch directory and connection;
 * eval_expand_free removes the files it wrote (safe on a zeroed one).
 */
#ifndef EVAL_EXPAND_H
#define EVAL_EXPAND_H

#include "rag_conf.h"

#include <libpq-fe.h>
#include <stddef.h>

typedef struct {
    rag_conf *conf;
    int expand;   /* 1 on, 0 off */
    char dir[64]; /* scratch directory, "" until the first rebuild */
    PGconn *db;
} eval_expand;

/* Rebuilds collection name's index (live one in live_dir) into the
 * scratch directory and writes its path to path. 0, or -1 with err. */
int eval_expand_index(eval_expand *x, const char *live_dir, const char *name,
                      char *path, size_t pathlen, char *err, size_t errlen);

void eval_expand_free(eval_expand *x);

#endif
