/*
 * reindex_ft — the semantic leg at index build (rag_reindex): while the
 * chunks stream from Postgres into the index writer, their text goes to
 * a training corpus too; at the end the collection's model is either
 * kept from the index being replaced (the same FTMODEL bytes, carried
 * into the new generation) or trained anew (ft_train), as the
 * re-training rule says (ft_retrain_reason), and handed to the writer,
 * which embeds every chunk with it.
 *
 * Never fails an index build: when fastText is missing, fails or is
 * killed, the index is written with the previous model if there is one,
 * else without a semantic leg (BM25 only), and the reason is logged.
 *
 * Ownership: a reindex_ft owns the previous index (kept open: the model
 * it carries over is read from its mapping until the writer is done),
 * its corpus directory and a newly trained model; reindex_ft_free
 * releases them, after rag_index_writer_write.
 */
#ifndef REINDEX_FT_H
#define REINDEX_FT_H

#include "ft_train.h"
#include "rag_index.h"

typedef struct {
    const ft_train_conf *conf;
    rag_index *prev;           /* the file being replaced, when it opens */
    const rag_ft_model *prevm; /* its model, or NULL */
    ft_corpus corpus;
    int collecting; /* the corpus is being written */
    void *model;    /* a model trained here (malloc'd), or NULL */
    size_t len;
} reindex_ft;

/* Starts (never fails: a problem only leaves the leg off): path is the
 * index file this build replaces. */
void reindex_ft_begin(reindex_ft *r, const ft_train_conf *c, const char *path);
/* One chunk's text, in the order the writer gets them. */
void reindex_ft_add(reindex_ft *r, const char *title, const char *heading,
                    const char *body);
/* Keeps or trains the model and gives it to w (or none). force: train
 * whatever the rule says. *what (static text) says what was done:
 * "trained", "kept", "off", "too small", "failed, kept", "failed". */
void reindex_ft_finish(reindex_ft *r, rag_index_writer *w,
                       const char *collection, uint64_t generation, int force,
                       const char **what);
void reindex_ft_free(reindex_ft *r);

#endif
