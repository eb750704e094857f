/*
 * rag-admin eval — retrieval quality of one or more question sets over
 * one or more collections' index files, in one run: page-level
 * recall@1/5/10 and MRR for every leg — BM25, vector (when the index has
 * vectors and embed_* is configured), fasttext (the in-process leg, when
 * the index has a model) — and their fusions: hybrid (as /search and the
 * answerer rank), and with both semantic legs bm25+ft and 3-way, beside
 * PostgreSQL full-text search
 * over the same chunks (eval_fts.h: AND and OR variants), so every
 * release shows where it stands against the obvious baseline. See eval.h
 * for the definitions.
 *
 *   rag-admin eval [GLOBAL...] [SETOPT...] FILE [SETOPT...] [FILE ...]
 *     GLOBAL: --index-dir DIR, --k 10, --json FILE|-, --verbose, --no-fts,
 *             --fts-config english, --base COLLECTION=URL, --prf
 *     SETOPT: --collection X, --base URL, --name N, --min-recall5 X,
 *             --holdout
 *
 * Set options after a FILE apply to that set; before the first FILE they
 * are the defaults for every set. A question's collection is its own
 * "collection" (mixed-corpus sets), else the set's (default "docs"); its
 * expected URLs are relative to that collection's --base NAME=URL, else
 * to the set's --base. Each set with --min-recall5 is gated on hybrid
 * recall@5 (= BM25 when no semantic leg ran): exit 3 when any is below.
 * --holdout sets are reported like the others but their misses and
 * questions are never printed (README: nobody tunes on them).
 */
#include "conf_tables.h"
#include "admin.h"
#include "eval.h"
#include "eval_expand.h"
#include "eval_fts.h"
#include "rag_buf.h"
#include "rag_db.h"
#include "rag_embed.h"
#include "rag_index.h"
#include "rag_reindex.h"
#include "rag_search.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    M_BM25,
    M_VECTOR,
    M_FASTTEXT,
    M_HYBRID,
    M_BM25_FT,
    M_3WAY,
    M_FTS_AND,
    M_FTS_OR,
    EVAL_MODES
};

/* hybrid: what /search and the answerer run (rag_search's default
 * fusion); bm25+ft and 3-way only when the endpoint's vectors made
 * hybrid BM25 + vector, to tell whether the in-process leg helps them */
static const char *mode_name[EVAL_MODES] = {"bm25",    "vector",  "fasttext",
                                            "hybrid",  "bm25+ft", "3-way",
                                            "fts-and", "fts-or"};

#define EVAL_MAX_SETS 32
#define EVAL_MAX_COLLS 64
#define EVAL_NAME_MAX 128

typedef struct {
    char name[EVAL_NAME_MAX];
    const char *base; /* --base NAME=URL, or NULL */
    rag_index *ix;
    int fts_table; /* -1: not loaded yet */
} eval_coll;

typedef struct {
    const char *file, *name, *collection, *base;
    double min_r5; /* < 0: not gated */
    int holdout;
    eval_set set;
    eval_score score[EVAL_MODES];
    char *own_name; /* name made from the file name, or NULL */
    int *rank;      /* set.n * EVAL_MODES first ranks, -1 = mode not run */
    char **top;   /* set.n * EVAL_MODES first hit URLs (for misses), or NULL */
    int have_vec; /* the endpoint's vectors ran for some question */
    int have_ft;  /* the in-process leg ran for some question */
} eval_spec;

typedef struct {
    rag_conf *conf;
    const char *dir, *fts_config;
    const char *json; /* --json FILE, "-" = stdout instead of the table */
    size_t k;
    unsigned per_page;     /* rag_query.per_page */
    int verbose, fts, prf; /* prf: rag_search_opts.prf on */
    rag_search_fusion fo;  /* --ft-opt: the in-process leg's settings */
    /* --qwords / --page-blend on|off: rag_search_opts' switches */
    enum rag_search_switch qwords, page_blend;
    /* --expand on|off: indexes rebuilt with document expansion on/off */
    enum rag_search_switch expand;
    eval_expand xp;
    eval_coll coll[EVAL_MAX_COLLS];
    size_t ncoll;
    PGconn *db;
    eval_fts *ft;
    /* hit URLs of one search, best first */
    rag_hit *hits;
    const char **urls;
    size_t *lens;
} eval_run;

const char *
admin_index_dir(rag_conf *conf)
{
    return rag_conf_str(conf, &rag_conf_common, "index_dir");
}

/* "name=URL": a collection's base (a URL has ':' or '/' before any '='). */
static int
split_coll_base(const char *v, char *name, size_t namelen, const char **url)
{
    size_t n = strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         "0123456789._-");

    if (n == 0 || v[n] != '=' || n >= namelen)
        return 0;
    memcpy(name, v, n);
    name[n] = '\0';
    *url = v + n + 1;
    return 1;
}

static eval_coll *
coll_find(eval_run *run, const char *name, int create)
{
    size_t i;

    for (i = 0; i < run->ncoll; i++)
        if (strcmp(run->coll[i].name, name) == 0)
            return &run->coll[i];
    if (!create || run->ncoll >= EVAL_MAX_COLLS ||
        strlen(name) >= EVAL_NAME_MAX)
        return NULL;
    memset(&run->coll[run->ncoll], 0, sizeof(run->coll[0]));
    snprintf(run->coll[run->ncoll].name, EVAL_NAME_MAX, "%s", name);
    run->coll[run->ncoll].fts_table = -1;
    return &run->coll[run->ncoll++];
}

/* The collection's index, opened on first use. NULL after a message. */
static eval_coll *
coll_open(eval_run *run, const char *name)
{
    char path[PATH_MAX], err[512];
    eval_coll *c = coll_find(run, name, 1);

    if (c == NULL) {
        fprintf(stderr, "rag-admin eval: too many collections\n");
        return NULL;
    }
    if (c->ix != NULL)
        return c;
    if (run->expand != RAG_SEARCH_SW_DEFAULT) {
        if (eval_expand_index(&run->xp, run->dir, name, path, sizeof(path), err,
                              sizeof(err)) != 0) {
            fprintf(stderr, "rag-admin eval: --expand: %s: %s\n", name, err);
            return NULL;
        }
    } else if (rag_index_path(path, sizeof(path), run->dir, name) != 0) {
        fprintf(stderr, "rag-admin eval: bad collection name %s\n", name);
        return NULL;
    }
    c->ix = rag_index_open(path, err, sizeof(err));
    if (c->ix == NULL) {
        fprintf(stderr, "rag-admin eval: %s: %s\n", path, err);
        return NULL;
    }
    return c;
}

static const char *
item_coll(const eval_spec *s, const eval_item *it)
{
    if (it->collection != NULL)
        return it->collection;
    return s->collection ? s->collection : "docs";
}

/* 1 when a question of s is asked of collection name. */
static int
set_uses(const eval_spec *s, const char *name)
{
    size_t q;

    for (q = 0; q < s->set.n; q++)
        if (strcmp(item_coll(s, &s->set.v[q]), name) == 0)
            return 1;
    return 0;
}

/* Embeds every question of a set in one batched call (rag_embed batches
 * by size). Returns a malloc'd n*dims array or NULL (vectors skipped,
 * reason in err). */
static float *
embed_questions(rag_conf *conf, const eval_set *s, uint32_t *dims, char *err,
                size_t errlen)
{
    rag_embed_conf ec;
    const char **texts;
    float *vecs = NULL;
    size_t i;

    rag_embed_conf_load(&ec, conf);
    if (!rag_embed_enabled(&ec)) {
        snprintf(err, errlen, "no embeddings endpoint (embed_base_url)");
        return NULL;
    }
    texts = calloc(s->n, sizeof(*texts));
    if (texts == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (i = 0; i < s->n; i++)
        texts[i] = s->v[i].q;
    if (rag_embed(&ec, texts, s->n, &vecs, dims, err, errlen) != 0)
        vecs = NULL;
    free(texts);
    return vecs;
}

/* The full-text table of c, loaded on first use; -1 when the FTS legs
 * are off or failed (then turned off, said once). */
static int
fts_table(eval_run *run, eval_coll *c)
{
    char err[512];

    if (!run->fts)
        return -1;
    if (run->db == NULL) {
        run->db = rag_db_connect(rag_conf_database(run->conf), "rag-admin eval",
                                 err, sizeof(err));
        if (run->db == NULL)
            goto off;
        run->ft = eval_fts_new(run->db, run->fts_config, err, sizeof(err));
        if (run->ft == NULL)
            goto off;
    }
    if (c->fts_table < 0) {
        c->fts_table = eval_fts_load(run->ft, c->ix, err, sizeof(err));
        if (c->fts_table < 0)
            goto off;
    }
    return c->fts_table;
off:
    fprintf(stderr, "rag-admin eval: full-text legs skipped: %s\n", err);
    run->fts = 0;
    return -1;
}

/* The first k hit URLs of a full-text leg into run->urls; returns how
 * many, -1 when the leg is off, -2 on a failed query. *res holds them
 * (PQclear after use). */
static int
hits_fts(eval_run *run, eval_coll *c, const eval_item *it, int mode,
         PGresult **res)
{
    char err[512];
    int n, t = fts_table(run, c);

    if (t < 0)
        return -1;
    *res = eval_fts_search(run->ft, t,
                           mode == M_FTS_AND ? EVAL_FTS_AND : EVAL_FTS_OR,
                           it->q, run->k, err, sizeof(err));
    if (*res == NULL) {
        fprintf(stderr, "rag-admin eval: %s\n", err);
        return -2;
    }
    for (n = 0; n < PQntuples(*res) && (size_t)n < run->k; n++) {
        run->urls[n] = PQgetvalue(*res, n, 0);
        run->lens[n] = (size_t)PQgetlength(*res, n, 0);
    }
    return n;
}

/* The same for one of our own legs over the index file. */
static int
hits_index(eval_run *run, eval_coll *c, const eval_item *it, int mode,
           const float *qvec)
{
    rag_search_opts o;
    rag_query q;
    int j, nh, ft = rag_index_ft_model(c->ix) != NULL;

    if ((mode == M_VECTOR && qvec == NULL) || (mode == M_FASTTEXT && !ft) ||
        ((mode == M_BM25_FT || mode == M_3WAY) && (qvec == NULL || !ft)))
        return -1;
    memset(&q, 0, sizeof(q));
    memset(&o, 0, sizeof(o));
    q.text = it->q;
    q.text_len = strlen(it->q);
    q.qvec = mode == M_BM25_FT ? NULL : qvec;
    q.k = run->k;
    q.per_page = run->per_page;
    q.mode = mode == M_BM25       ? RAG_SEARCH_BM25
             : mode == M_VECTOR   ? RAG_SEARCH_VECTOR
             : mode == M_FASTTEXT ? RAG_SEARCH_FASTTEXT
                                  : RAG_SEARCH_HYBRID;
    o.ft = mode == M_3WAY ? RAG_SEARCH_FT_ALWAYS : RAG_SEARCH_FT_AUTO;
    o.prf = run->prf ? RAG_SEARCH_PRF_ON : RAG_SEARCH_PRF_OFF;
    o.qwords = run->qwords;
    o.page_blend = run->page_blend;
    nh = rag_search_fuse(c->ix, &q, &o, &run->fo, run->hits);
    if (nh < 0) {
        fprintf(stderr, "rag-admin eval: search failed\n");
        return -2;
    }
    for (j = 0; j < nh; j++) {
        rag_index_chunk ch;
        if (rag_index_chunk_get(c->ix, run->hits[j].rec, &ch) != 0) {
            run->urls[j] = "";
            run->lens[j] = 0;
            continue;
        }
        run->urls[j] = ch.url.p;
        run->lens[j] = ch.url.len;
    }
    return nh;
}

/* First matching rank of one question in one mode (0 = none in the top
 * k), with a copy of the top hit's URL in *top; -1 when the mode could
 * not run for it, -2 on a hard failure. */
static int
rank_of(eval_run *run, eval_coll *c, const eval_item *it, int mode,
        const float *qvec, const char *base, char **top)
{
    PGresult *res = NULL;
    int n, rank;

    if (mode == M_FTS_AND || mode == M_FTS_OR)
        n = hits_fts(run, c, it, mode, &res);
    else
        n = hits_index(run, c, it, mode, qvec);
    if (n < 0)
        return n;
    if (n > 0)
        *top = strndup(run->urls[0], run->lens[0]);
    rank = eval_first_rank(it, run->urls, run->lens, (size_t)n, base);
    PQclear(res);
    return rank;
}

/* The mode a set is gated on and shows misses for. */
static int
gate_mode(const eval_spec *s)
{
    return s->have_vec || s->have_ft ? M_HYBRID : M_BM25;
}

static int
run_set(eval_run *run, eval_spec *s)
{
    char err[512];
    float *qvecs = NULL;
    uint32_t qdims = 0;
    size_t i;
    int m, need_vec = 0, rc = -1;

    s->rank = malloc(s->set.n * EVAL_MODES * sizeof(*s->rank));
    s->top = calloc(s->set.n * EVAL_MODES, sizeof(*s->top));
    if (s->rank == NULL || s->top == NULL) {
        fprintf(stderr, "rag-admin eval: out of memory\n");
        return -1;
    }
    for (i = 0; i < s->set.n; i++) {
        eval_coll *c = coll_open(run, item_coll(s, &s->set.v[i]));
        if (c == NULL)
            goto done;
        if (rag_index_dims(c->ix) > 0)
            need_vec = 1;
    }
    if (need_vec) {
        qvecs = embed_questions(run->conf, &s->set, &qdims, err, sizeof(err));
        if (qvecs == NULL)
            fprintf(stderr, "rag-admin eval: %s: vector leg skipped: %s\n",
                    s->name, err);
        for (i = 0; qvecs != NULL && i < run->ncoll; i++) {
            uint32_t d = run->coll[i].ix ? rag_index_dims(run->coll[i].ix) : 0;
            if (d > 0 && d != qdims && set_uses(s, run->coll[i].name))
                fprintf(stderr,
                        "rag-admin eval: %s: vector leg skipped for %s:"
                        " query vectors have %u dims, index %u\n",
                        s->name, run->coll[i].name, qdims, d);
        }
    }
    for (i = 0; i < s->set.n; i++) {
        const eval_item *it = &s->set.v[i];
        eval_coll *c = coll_find(run, item_coll(s, it), 0);
        const char *base = c->base ? c->base : s->base;
        const float *qv = NULL;
        if (qvecs != NULL && rag_index_dims(c->ix) == qdims) {
            qv = qvecs + (size_t)qdims * i;
            s->have_vec = 1;
        }
        if (rag_index_ft_model(c->ix) != NULL)
            s->have_ft = 1;
        for (m = 0; m < EVAL_MODES; m++) {
            size_t slot = i * EVAL_MODES + (size_t)m;
            int r = rank_of(run, c, it, m, qv, base, &s->top[slot]);
            if (r == -2)
                goto done;
            s->rank[slot] = r;
            if (r >= 0)
                eval_score_add(&s->score[m], r);
        }
    }
    if (run->verbose && !(run->json && strcmp(run->json, "-") == 0) &&
        !s->holdout) {
        m = gate_mode(s);
        for (i = 0; i < s->set.n; i++) {
            size_t slot = i * EVAL_MODES + (size_t)m;
            int r = s->rank[slot];
            if (r == 0 || r > 5)
                printf("miss@5 %s %s rank=%d q=\"%s\" want=%s got=%s\n",
                       s->name, mode_name[m], r, s->set.v[i].q,
                       s->set.v[i].urls[0], s->top[slot] ? s->top[slot] : "");
        }
    }
    rc = 0;
done:
    free(qvecs);
    return rc;
}

static double
ratio(size_t a, size_t n)
{
    return n ? (double)a / (double)n : 0.0;
}

static void
print_table(eval_run *run, eval_spec *specs, size_t nspec)
{
    size_t i, j, m, shown;

    printf("eval: %zu set%s, k=%zu, full-text config %s%s\n", nspec,
           nspec == 1 ? "" : "s", run->k, run->fts_config,
           run->fts ? "" : " (full-text legs not run)");
    for (i = 0; i < nspec; i++) {
        eval_spec *s = &specs[i];
        printf("set %s: %s, %zu questions%s%s; ", s->name, s->file, s->set.n,
               s->holdout ? " (holdout: misses not shown)" : "",
               s->have_vec || s->have_ft ? ""
                                         : " (no semantic leg: hybrid = bm25)");
        for (j = 0, shown = 0; j < run->ncoll; j++) {
            if (set_uses(s, run->coll[j].name))
                printf(
                    "%s%s (generation %llu, %u chunks%s)", shown++ ? ", " : "",
                    run->coll[j].name,
                    (unsigned long long)rag_index_generation(run->coll[j].ix),
                    rag_index_count(run->coll[j].ix),
                    rag_index_ft_model(run->coll[j].ix) ? ", fastText model"
                                                        : "");
        }
        printf("\n");
    }
    printf("%-16s %-8s %5s %9s %9s %9s %7s\n", "set", "mode", "n", "recall@1",
           "recall@5", "recall@10", "MRR");
    for (i = 0; i < nspec; i++) {
        for (m = 0; m < EVAL_MODES; m++) {
            const eval_score *sc = &specs[i].score[m];
            if (m < M_FTS_AND && sc->n == 0)
                continue; /* a leg that did not run */
            if (m == M_HYBRID && !specs[i].have_vec && !specs[i].have_ft)
                continue; /* hybrid without a semantic leg is bm25 */
            if (sc->n == 0) {
                printf("%-16s %-8s %5s %9s %9s %9s %7s\n", specs[i].name,
                       mode_name[m], "-", "-", "-", "-", "-");
                continue;
            }
            printf("%-16s %-8s %5zu %9.3f %9.3f %9.3f %7.3f\n", specs[i].name,
                   mode_name[m], sc->n, ratio(sc->at1, sc->n),
                   ratio(sc->at5, sc->n), ratio(sc->at10, sc->n),
                   sc->rr_sum / (double)sc->n);
        }
    }
}

static int
print_json(eval_run *run, eval_spec *specs, size_t nspec)
{
    rag_buf b;
    size_t i, j, m;
    int rc = -1;
    FILE *out = stdout;

    rag_buf_init(&b, 0);
#define J(...)                                                                 \
    do {                                                                       \
        if (rag_buf_printf(&b, __VA_ARGS__) != 0)                              \
            goto done;                                                         \
    } while (0)
#define JS(s_)                                                                 \
    do {                                                                       \
        if (rag_buf_json_str(&b, (s_), strlen(s_)) != 0)                       \
            goto done;                                                         \
    } while (0)
    J("{\"k\":%zu,\"fts\":%s,\"fts_config\":", run->k,
      run->fts ? "true" : "false");
    JS(run->fts_config);
    J(",\"collections\":[");
    for (j = 0, m = 0; j < run->ncoll; j++) {
        if (run->coll[j].ix == NULL)
            continue; /* named by --base only, no set used it */
        J("%s{\"name\":", m++ ? "," : "");
        JS(run->coll[j].name);
        J(",\"generation\":%llu,\"chunks\":%u}",
          (unsigned long long)rag_index_generation(run->coll[j].ix),
          rag_index_count(run->coll[j].ix));
    }
    J("],\"sets\":[");
    for (i = 0; i < nspec; i++) {
        eval_spec *s = &specs[i];
        J("%s{\"name\":", i ? "," : "");
        JS(s->name);
        J(",\"file\":");
        JS(s->file);
        J(",\"questions\":%zu,\"holdout\":%s,\"modes\":{", s->set.n,
          s->holdout ? "true" : "false");
        for (m = 0; m < EVAL_MODES; m++) {
            const eval_score *sc = &s->score[m];
            J("%s\"%s\":", m ? "," : "", mode_name[m]);
            if (sc->n == 0) {
                J("null");
                continue;
            }
            J("{\"n\":%zu,\"recall@1\":%.4f,\"recall@5\":%.4f,"
              "\"recall@10\":%.4f,\"mrr\":%.4f}",
              sc->n, ratio(sc->at1, sc->n), ratio(sc->at5, sc->n),
              ratio(sc->at10, sc->n), sc->rr_sum / (double)sc->n);
        }
        J("},\"gate\":");
        if (s->min_r5 < 0)
            J("null");
        else {
            const eval_score *g = &s->score[gate_mode(s)];
            J("{\"mode\":\"%s\",\"min_recall5\":%.4f,\"recall5\":%.4f,"
              "\"pass\":%s}",
              mode_name[gate_mode(s)], s->min_r5, ratio(g->at5, g->n),
              ratio(g->at5, g->n) >= s->min_r5 ? "true" : "false");
        }
        if (!s->holdout) {
            /* per-question first ranks (0 = not in the top k, null = the
             * mode did not run), for comparing releases question by
             * question */
            J(",\"items\":[");
            for (j = 0; j < s->set.n; j++) {
                J("%s{\"q\":", j ? "," : "");
                JS(s->set.v[j].q);
                J(",\"collection\":");
                JS(item_coll(s, &s->set.v[j]));
                J(",\"rank\":{");
                for (m = 0; m < EVAL_MODES; m++) {
                    int r = s->rank[j * EVAL_MODES + m];
                    if (r < 0)
                        J("%s\"%s\":null", m ? "," : "", mode_name[m]);
                    else
                        J("%s\"%s\":%d", m ? "," : "", mode_name[m], r);
                }
                J("}}");
            }
            J("]");
        }
        J("}");
    }
    J("]}\n");
#undef J
#undef JS
    if (strcmp(run->json, "-") != 0 && (out = fopen(run->json, "w")) == NULL) {
        fprintf(stderr, "rag-admin eval: %s: %s\n", run->json, strerror(errno));
        rag_buf_free(&b);
        return -1;
    }
    if (fwrite(b.data, 1, b.len, out) != b.len ||
        (out != stdout ? fclose(out) : fflush(out)) != 0) {
        fprintf(stderr, "rag-admin eval: %s: write failed\n", run->json);
        rag_buf_free(&b);
        return -1;
    }
    rc = 0;
done:
    if (rc != 0)
        fprintf(stderr, "rag-admin eval: out of memory\n");
    rag_buf_free(&b);
    return rc;
}

static void
usage(void)
{
    fprintf(stderr,
            "usage: rag-admin eval [--index-dir DIR] [--k 10] [--json FILE|-]"
            " [--verbose] [--no-fts]\n"
            "         [--per-page N|any] [--prf] [--fts-config english]"
            " [--ft-opt KEY=VALUE]...\n"
            "         (KEY: weight, k, pages, rerank, expand, expand_w,"
            " expand_cos, only_expand, pool; rerank=all)\n"
            " [--base COLLECTION=URL]...\n"
            "         [--qwords on|off] [--page-blend on|off]"
            " [--expand on|off]\n"
            "         FILE [--collection X] [--base URL] [--name N]"
            " [--min-recall5 X] [--holdout]\n"
            "         [FILE [set options]]...\n");
}

static int
parse_num(const char *opt, const char *v, double lo, double hi, double *out)
{
    char *end;
    double d = strtod(v, &end);

    if (end == v || *end != '\0' || d < lo || d > hi) {
        fprintf(stderr, "rag-admin eval: %s: bad value %s\n", opt, v);
        return -1;
    }
    *out = d;
    return 0;
}

/* --ft-opt KEY=VALUE: one of rag_search_opts' in-process leg settings. */
static int
parse_ft_opt(rag_search_fusion *fo, const char *kv)
{
    static const struct {
        const char *key;
        double lo, hi;
    } keys[] = {
        {"weight", 0, 100},   {"k", 0, 1000},        {"pages", -1, 1},
        {"rerank", 0, 4096},  {"expand", 0, 32},     {"expand_w", 0, 10},
        {"expand_cos", 0, 1}, {"only_expand", 0, 1}, {"pool", 0, 4096}};
    const char *eq = strchr(kv, '=');
    double d;

    if (strcmp(kv, "rerank=all") == 0) {
        fo->ft_rerank = RAG_SEARCH_FT_SCAN;
        return 0;
    }
    for (size_t i = 0; eq && i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strlen(keys[i].key) != (size_t)(eq - kv) ||
            strncmp(kv, keys[i].key, (size_t)(eq - kv)) != 0)
            continue;
        if (parse_num("--ft-opt", eq + 1, keys[i].lo, keys[i].hi, &d) != 0)
            return -1;
        switch (i) {
        case 0:
            fo->ft_weight = d;
            break;
        case 1:
            fo->rrf_k = d;
            break;
        case 2:
            fo->fuse_pages = (int)d;
            break;
        case 3:
            fo->ft_rerank = (unsigned)d;
            break;
        case 4:
            fo->ft_expand = (unsigned)d;
            break;
        case 5:
            fo->ft_expand_w = d;
            break;
        case 6:
            fo->ft_expand_cos = d;
            break;
        case 7:
            fo->ft_only_expand = (int)d;
            break;
        default:
            fo->fuse_pool = (unsigned)d;
            break;
        }
        return 0;
    }
    fprintf(stderr, "rag-admin eval: --ft-opt %s: unknown setting\n", kv);
    return -1;
}

int
admin_eval(rag_conf *conf, int argc, char **argv)
{
    eval_run run;
    eval_spec def, *specs = NULL, *cur;
    size_t nspec = 0, i, j;
    char err[512], cname[EVAL_NAME_MAX];
    const char *curl;
    double d;
    int rc = 1, a;

    memset(&run, 0, sizeof(run));
    memset(&def, 0, sizeof(def));
    run.conf = conf;
    run.k = 10;
    run.fts = 1;
    run.fts_config = "english";
    def.min_r5 = -1;
    specs = calloc(EVAL_MAX_SETS, sizeof(*specs));
    if (specs == NULL) {
        fprintf(stderr, "rag-admin eval: out of memory\n");
        return 1;
    }
    cur = &def;
    for (a = 0; a < argc; a++) {
        const char *o = argv[a], *v = a + 1 < argc ? argv[a + 1] : NULL;
        int takes =
            strcmp(o, "--index-dir") == 0 || strcmp(o, "--k") == 0 ||
            strcmp(o, "--json") == 0 || strcmp(o, "--fts-config") == 0 ||
            strcmp(o, "--base") == 0 || strcmp(o, "--collection") == 0 ||
            strcmp(o, "--name") == 0 || strcmp(o, "--per-page") == 0 ||
            strcmp(o, "--min-recall5") == 0 || strcmp(o, "--qwords") == 0 ||
            strcmp(o, "--page-blend") == 0 || strcmp(o, "--ft-opt") == 0 ||
            strcmp(o, "--expand") == 0;
        if (takes && v == NULL) {
            fprintf(stderr, "rag-admin eval: %s needs a value\n", o);
            rc = 2;
            goto done;
        }
        if (takes)
            a++;
        if (strcmp(o, "--verbose") == 0 || strcmp(o, "-v") == 0)
            run.verbose = 1;
        else if (strcmp(o, "--json") == 0)
            run.json = v;
        else if (strcmp(o, "--no-fts") == 0)
            run.fts = 0;
        else if (strcmp(o, "--prf") == 0)
            run.prf = 1;
        else if (strcmp(o, "--ft-opt") == 0) {
            if (parse_ft_opt(&run.fo, v) != 0) {
                rc = 2;
                goto done;
            }
        } else if (strcmp(o, "--qwords") == 0 ||
                   strcmp(o, "--page-blend") == 0 ||
                   strcmp(o, "--expand") == 0) {
            enum rag_search_switch sw = strcmp(v, "on") == 0 ? RAG_SEARCH_SW_ON
                                        : strcmp(v, "off") == 0
                                            ? RAG_SEARCH_SW_OFF
                                            : RAG_SEARCH_SW_DEFAULT;
            if (sw == RAG_SEARCH_SW_DEFAULT) {
                fprintf(stderr, "rag-admin eval: %s takes on or off\n", o);
                rc = 2;
                goto done;
            }
            *(o[2] == 'q'   ? &run.qwords
              : o[2] == 'e' ? &run.expand
                            : &run.page_blend) = sw;
        } else if (strcmp(o, "--holdout") == 0)
            cur->holdout = 1;
        else if (strcmp(o, "--index-dir") == 0)
            run.dir = v;
        else if (strcmp(o, "--fts-config") == 0)
            run.fts_config = v;
        else if (strcmp(o, "--k") == 0) {
            if (parse_num(o, v, 1, RAG_SEARCH_MAX_K, &d) != 0) {
                rc = 2;
                goto done;
            }
            run.k = (size_t)d;
        } else if (strcmp(o, "--per-page") == 0) {
            if (strcmp(v, "any") == 0)
                run.per_page = RAG_SEARCH_PER_PAGE_ANY;
            else if (parse_num(o, v, 1, RAG_SEARCH_MAX_K, &d) != 0) {
                rc = 2;
                goto done;
            } else
                run.per_page = (unsigned)d;
        } else if (strcmp(o, "--base") == 0) {
            if (split_coll_base(v, cname, sizeof(cname), &curl)) {
                eval_coll *c = coll_find(&run, cname, 1);
                if (c == NULL) {
                    fprintf(stderr, "rag-admin eval: too many collections\n");
                    rc = 2;
                    goto done;
                }
                c->base = curl;
            } else
                cur->base = v;
        } else if (strcmp(o, "--collection") == 0)
            cur->collection = v;
        else if (strcmp(o, "--name") == 0)
            cur->name = v;
        else if (strcmp(o, "--min-recall5") == 0) {
            if (parse_num(o, v, 0, 1.5, &cur->min_r5) != 0) {
                rc = 2;
                goto done;
            }
        } else if (o[0] == '-' && o[1] != '\0') {
            fprintf(stderr, "rag-admin eval: unexpected %s\n", o);
            rc = 2;
            goto done;
        } else {
            if (nspec >= EVAL_MAX_SETS) {
                fprintf(stderr, "rag-admin eval: more than %d sets\n",
                        EVAL_MAX_SETS);
                rc = 2;
                goto done;
            }
            cur = &specs[nspec++];
            *cur = def;
            cur->file = o;
        }
    }
    if (nspec == 0) {
        usage();
        rc = 2;
        goto done;
    }
    if (run.k < 10)
        run.k = 10; /* recall@10 needs ten */
    run.xp.conf = conf;
    run.xp.expand = run.expand == RAG_SEARCH_SW_ON;
    if (run.dir == NULL)
        run.dir = admin_index_dir(conf);
    for (i = 0; i < nspec; i++) {
        eval_spec *s = &specs[i];
        if (s->base == NULL)
            s->base = "";
        if (s->name == NULL) {
            /* the file's base name without its extension */
            const char *b = strrchr(s->file, '/'), *dot;
            b = b ? b + 1 : s->file;
            dot = strrchr(b, '.');
            s->own_name =
                strndup(b, dot && dot > b ? (size_t)(dot - b) : strlen(b));
            if (s->own_name == NULL) {
                fprintf(stderr, "rag-admin eval: out of memory\n");
                goto done;
            }
            s->name = s->own_name;
        }
        if (eval_set_load(s->file, &s->set, err, sizeof(err)) != 0) {
            fprintf(stderr, "rag-admin eval: %s\n", err);
            goto done;
        }
    }
    run.hits = calloc(run.k, sizeof(*run.hits));
    run.urls = calloc(run.k, sizeof(*run.urls));
    run.lens = calloc(run.k, sizeof(*run.lens));
    if (run.hits == NULL || run.urls == NULL || run.lens == NULL) {
        fprintf(stderr, "rag-admin eval: out of memory\n");
        goto done;
    }
    for (i = 0; i < nspec; i++)
        if (run_set(&run, &specs[i]) != 0)
            goto done;
    if (run.json == NULL || strcmp(run.json, "-") != 0)
        print_table(&run, specs, nspec);
    if (run.json != NULL && print_json(&run, specs, nspec) != 0)
        goto done;
    rc = 0;
    for (i = 0; i < nspec; i++) {
        const eval_spec *s = &specs[i];
        const eval_score *g = &s->score[gate_mode(s)];
        double r5 = ratio(g->at5, g->n);
        if (s->min_r5 >= 0 && r5 < s->min_r5) {
            fprintf(stderr, "rag-admin eval: %s: %s recall@5 %.3f below %.3f\n",
                    s->name, mode_name[gate_mode(s)], r5, s->min_r5);
            rc = 3;
        }
    }
done:
    for (i = 0; i < nspec; i++) {
        if (specs[i].top != NULL)
            for (j = 0; j < specs[i].set.n * EVAL_MODES; j++)
                free(specs[i].top[j]);
        free(specs[i].top);
        eval_set_free(&specs[i].set);
        free(specs[i].rank);
        free(specs[i].own_name);
    }
    free(specs);
    for (i = 0; i < run.ncoll; i++)
        if (run.coll[i].ix)
            rag_index_close(run.coll[i].ix);
    eval_fts_free(run.ft);
    if (run.db)
        PQfinish(run.db);
    eval_expand_free(&run.xp);
    free(run.hits);
    free(run.urls);
    free(run.lens);
    return rc;
}
