#include "reindex_ft.h"

#include "rag_log.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void
reindex_ft_begin(reindex_ft *r, const ft_train_conf *c, const char *path)
{
    char err[512];

    memset(r, 0, sizeof(*r));
    r->conf = c;
    if (!c->enabled)
        return;
    /* the generation being replaced, for its model and the rule; a
     * missing or unreadable file just means there is none */
    r->prev = rag_index_open(path, err, sizeof(err));
    if (r->prev != NULL)
        r->prevm = rag_index_ft_model(r->prev);
    if (ft_corpus_open(&r->corpus, err, sizeof(err)) != 0) {
        rag_warn("msg=\"semantic leg: no training corpus\" error=\"%s\"", err);
        ft_corpus_free(&r->corpus);
        return;
    }
    r->corpus.ref = r->prevm;
    r->collecting = 1;
}

void
reindex_ft_add(reindex_ft *r, const char *title, const char *heading,
               const char *body)
{
    const char *parts[3] = {title, heading, body};
    size_t lens[3] = {strlen(title), strlen(heading), strlen(body)};

    if (r->collecting)
        ft_corpus_add(&r->corpus, parts, lens, 3);
}

/* Hands the previous generation's model to w; 0 when it did. */
static int
keep_previous(reindex_ft *r, rag_index_writer *w)
{
    size_t len;
    const void *p = r->prev ? rag_index_ft_model_bytes(r->prev, &len) : NULL;

    return p != NULL && rag_index_writer_set_ft(w, p, len) == 0 ? 0 : -1;
}

void
reindex_ft_finish(reindex_ft *r, rag_index_writer *w, const char *collection,
                  uint64_t generation, int force, const char **what)
{
    char err[512], why[128], stats[512] = "";
    const char *reason;

    *what = "off";
    if (!r->collecting)
        return;
    r->collecting = 0;
    if (ft_corpus_close(&r->corpus, err, sizeof(err)) != 0) {
        rag_warn("msg=\"semantic leg: training corpus\" collection=%s "
                 "error=\"%s\"",
                 collection, err);
        *what = keep_previous(r, w) == 0 ? "failed, kept" : "failed";
        return;
    }
    if (r->corpus.tokens < r->conf->min_tokens) {
        rag_info("msg=\"semantic leg: collection too small to train on\" "
                 "collection=%s tokens=%" PRIu64 " min=%" PRIu64,
                 collection, r->corpus.tokens, r->conf->min_tokens);
        *what = "too small";
        return;
    }
    reason = force ? "asked to"
                   : ft_retrain_reason(r->conf, r->prevm, r->corpus.tokens,
                                       r->corpus.oov, why, sizeof(why));
    if (reason == NULL && keep_previous(r, w) == 0) {
        rag_info("msg=\"semantic model kept\" collection=%s "
                 "trained_generation=%" PRIu64 " tokens=%" PRIu64
                 " trained_tokens=%" PRIu64 " rare=%" PRIu64,
                 collection, r->prevm->train_generation, r->corpus.tokens,
                 r->prevm->corpus_tokens, r->corpus.oov);
        *what = "kept";
        return;
    }
    rag_info("msg=\"semantic model training\" collection=%s reason=\"%s\" "
             "records=%" PRIu64 " tokens=%" PRIu64,
             collection, reason ? reason : "previous unusable",
             r->corpus.records, r->corpus.tokens);
    if (ft_train(r->conf, &r->corpus, generation, &r->model, &r->len, stats,
                 sizeof(stats), err, sizeof(err)) != 0 ||
        rag_index_writer_set_ft(w, r->model, r->len) != 0) {
        if (r->model != NULL)
            snprintf(err, sizeof(err), "%s", rag_index_writer_error(w));
        *what = keep_previous(r, w) == 0 ? "failed, kept" : "failed";
        rag_warn("msg=\"semantic model training failed\" collection=%s "
                 "error=\"%s\" index=\"%s\"",
                 collection, err,
                 strcmp(*what, "failed") == 0 ? "BM25 only"
                                              : "previous model kept");
        return;
    }
    rag_info("msg=\"semantic model trained\" collection=%s generation=%" PRIu64
             " %s",
             collection, generation, stats);
    *what = "trained";
}

void
reindex_ft_free(reindex_ft *r)
{
    if (r->collecting)
        ft_corpus_close(&r->corpus, NULL, 0);
    ft_corpus_free(&r->corpus);
    rag_index_close(r->prev);
    free(r->model);
    memset(r, 0, sizeof(*r));
}
