/*
 * ft_train — trains the semantic leg's word and subword vectors with
 * Debian's fastText (the `fasttext` program) and turns its model into
 * the index's FTMODEL (lib/rag_ft.h).
 *
 * fastText runs as a child process, not linked in (libfasttext is C++,
 * and its argument and file errors exit() or throw): the child gets an
 * address-space limit (RLIMIT_AS), no core, nice 10, and is killed past
 * a wall-clock limit, so a training is bounded in memory and time and a
 * failure is an error message, never a crashed worker. One thread and a
 * fixed seed make it reproducible: the same corpus and seed give the
 * same vectors, byte for byte.
 *
 * Ownership: ft_corpus owns its temporary directory (removed by
 * ft_corpus_free); ft_model_from_bin returns a malloc'd model the caller
 * frees.
 */
#ifndef FT_TRAIN_H
#define FT_TRAIN_H

#include "rag_conf.h"
#include "rag_ft.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    int enabled;           /* semantic_leg = fasttext | off (default) */
    char bin[256];         /* fasttext_bin: /usr/bin/fasttext */
    uint32_t dim;          /* 100 */
    uint32_t epoch;        /* 15 */
    uint32_t min_count;    /* 2 */
    uint32_t bucket;       /* 200000 */
    uint32_t seed;         /* fasttext_seed: 1 */
    uint64_t min_tokens;   /* corpora smaller than this get no model:
                              fasttext_min_tokens, 50000 */
    uint64_t max_tokens;   /* the training corpus is cut to about this
                              many tokens (every k-th record):
                              fasttext_max_tokens, 20000000 */
    long max_seconds;      /* fasttext_max_seconds: 3600 */
    long max_memory_mb;    /* fasttext_max_memory_mb: 2048 */
    double retrain_growth; /* fasttext_retrain_growth: 0.25 */
    double retrain_oov;    /* fasttext_retrain_oov: 0.03 */
} ft_train_conf;

/* Defaults, overridden by the keys named above from conf (NULL: the
 * environment's, RAG_SEMANTIC_LEG, RAG_FASTTEXT_BIN, ...). */
void ft_train_conf_load(ft_train_conf *c, rag_conf *conf);

/* The training text: one line per record, its tokens (rag_ft_tokens of
 * title, heading path and body) separated by spaces, in a file of a
 * private temporary directory ($TMPDIR, else /tmp). */
typedef struct {
    char dir[256];
    char path[300];
    FILE *f;
    uint64_t records, tokens;
    uint64_t oov;            /* tokens outside ref's vocabulary */
    const rag_ft_model *ref; /* model to count OOV tokens against, or NULL */
    int failed;
} ft_corpus;

int ft_corpus_open(ft_corpus *c, char *err, size_t errlen);
/* Appends one record; a write error is remembered (ft_corpus_close). */
void ft_corpus_add(ft_corpus *c, const char *const *parts, const size_t *lens,
                   size_t nparts);
/* Flushes and closes the file. 0, or -1 with err. */
int ft_corpus_close(ft_corpus *c, char *err, size_t errlen);
/* Removes the directory and everything in it. */
void ft_corpus_free(ft_corpus *c);

/* Trains on the corpus (closed) into "<dir>/model.bin" (at most
 * max_tokens of it: a longer corpus is thinned to every k-th record
 * first) and loads it as an FTMODEL: *model malloc'd (64-byte aligned),
 * *len its size. stats, when not NULL, gets "key=value ..." figures
 * (tokens, words, seconds, peak memory). 0, or -1 with err. */
int ft_train(const ft_train_conf *c, ft_corpus *corpus, uint64_t generation,
             void **model, size_t *len, char *stats, size_t statslen, char *err,
             size_t errlen);

/* The re-training rule. A collection's model is kept from one index
 * generation to the next until the collection changed enough: returns
 * why a new one must be trained, written into buf ("no model", "corpus
 * grew 40%", "rare words 5.1% of the text, 0.6% at training", "settings
 * changed"), or NULL when m (trained on m->ntokens tokens, m->train_oov
 * of them outside its vocabulary) still fits a corpus of tokens tokens,
 * oov of them outside its vocabulary. */
const char *ft_retrain_reason(const ft_train_conf *c, const rag_ft_model *m,
                              uint64_t tokens, uint64_t oov, char *buf,
                              size_t buflen);

/* Reads a fastText .bin (format version 12, unquantised, as `fasttext
 * skipgram` writes it) as an FTMODEL: the vocabulary sorted, each word's
 * vector computed as fastText does, the bucket rows copied; ntokens is
 * the corpus's tokens without fastText's end-of-line tokens. prov
 * supplies what the .bin does not record (seed, corpus figures,
 * generation, time); its dims and counts are ignored. 0, or -1 with err. */
int ft_model_from_bin(const char *path, const rag_ft_model *prov, void **model,
                      size_t *len, char *err, size_t errlen);

#endif
