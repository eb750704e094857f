/*
 * rag_gaps — gap report queries, term-set clustering, closest pages.
 */
#include "rag_gaps.h"
#include "rag_collection.h"
#include "rag_db.h"
#include "rag_index.h"
#include "rag_search.h"
#include "rag_store_gaps.h"
#include "rag_terms.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TERMSET_MAX 512
#define GAPS_MAX_COLLS 16
#define GAPS_QUERY_MAX 4096 /* bytes of a cluster's combined query */

/* ---- term sets -------------------------------------------------------- */

typedef struct {
    uint64_t *h;
    size_t n;
} ts_acc;

static int
ts_cb(void *ud, const char *term, size_t len, size_t off, size_t slen)
{
    ts_acc *a = ud;
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    size_t i;

    (void)off;
    (void)slen;
    for (i = 0; i < len; i++) {
        h ^= (unsigned char)term[i];
        h *= 1099511628211ULL;
    }
    if (a->n < TERMSET_MAX)
        a->h[a->n++] = h;
    return 0;
}

static int
u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int
rag_termset_build(const char *text, size_t len, rag_termset *out)
{
    ts_acc a;
    size_t i, j;

    out->h = NULL;
    out->n = 0;
    a.h = malloc(TERMSET_MAX * sizeof(uint64_t));
    if (a.h == NULL)
        return -1;
    a.n = 0;
    rag_terms_each(text, len, ts_cb, &a);
    qsort(a.h, a.n, sizeof(uint64_t), u64_cmp);
    for (i = j = 0; i < a.n; i++)
        if (j == 0 || a.h[j - 1] != a.h[i])
            a.h[j++] = a.h[i];
    out->h = a.h;
    out->n = j;
    return 0;
}

void
rag_termset_free(rag_termset *s)
{
    free(s->h);
    s->h = NULL;
    s->n = 0;
}

double
rag_termset_jaccard(const rag_termset *a, const rag_termset *b)
{
    size_t i = 0, j = 0, inter = 0, uni;

    if (a->n == 0 && b->n == 0)
        return 0;
    while (i < a->n && j < b->n) {
        if (a->h[i] == b->h[j]) {
            inter++;
            i++;
            j++;
        } else if (a->h[i] < b->h[j])
            i++;
        else
            j++;
    }
    uni = a->n + b->n - inter;
    return (double)inter / (double)uni;
}

/* ---- clustering --------------------------------------------------------- */

static size_t
uf_find(size_t *parent, size_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

int
rag_gaps_cluster(const char *const *texts, size_t n, double threshold,
                 int *cluster_of)
{
    rag_termset *ts = NULL;
    size_t *parent = NULL, *label = NULL, i, j;
    int k = -1;

    if (n == 0)
        return 0;
    ts = calloc(n, sizeof(*ts));
    parent = malloc(n * sizeof(*parent));
    label = malloc(n * sizeof(*label));
    if (ts == NULL || parent == NULL || label == NULL)
        goto done;
    for (i = 0; i < n; i++) {
        if (rag_termset_build(texts[i], strlen(texts[i]), &ts[i]) != 0)
            goto done;
        parent[i] = i;
    }
    for (i = 0; i < n; i++)
        for (j = i + 1; j < n; j++)
            if (ts[i].n > 0 && ts[j].n > 0 &&
                rag_termset_jaccard(&ts[i], &ts[j]) >= threshold) {
                size_t ri = uf_find(parent, i), rj = uf_find(parent, j);
                /* the smaller index is the root: stable numbering */
                if (ri < rj)
                    parent[rj] = ri;
                else if (rj < ri)
                    parent[ri] = rj;
            }
    /* number clusters by their first member */
    k = 0;
    for (i = 0; i < n; i++) {
        size_t r = uf_find(parent, i);
        if (r == i)
            label[i] = (size_t)k++;
        cluster_of[i] = (int)label[r];
    }
done:
    if (ts)
        for (i = 0; i < n; i++)
            rag_termset_free(&ts[i]);
    free(ts);
    free(parent);
    free(label);
    return k;
}

/* ---- report ------------------------------------------------------------- */

typedef struct {
    char name[72];
    rag_index *ix; /* NULL when missing */
} gaps_coll;

static rag_index *
coll_index(gaps_coll *cs, size_t *ncs, const char *name, const char *path,
           const char *index_dir)
{
    char buf[PATH_MAX], err[256];
    size_t i;

    if (*name == '\0')
        return NULL;
    for (i = 0; i < *ncs; i++)
        if (strcmp(cs[i].name, name) == 0)
            return cs[i].ix;
    if (*ncs == GAPS_MAX_COLLS)
        return NULL;
    if (*path == '\0' && rag_index_path(buf, sizeof(buf), index_dir, name) == 0)
        path = buf;
    cs = &cs[(*ncs)++];
    snprintf(cs->name, sizeof(cs->name), "%s", name);
    cs->ix = *path ? rag_index_open(path, err, sizeof(err)) : NULL;
    return cs->ix;
}

static int
emit_pages(rag_buf *b, const rag_index *ix, const char *query, size_t qlen,
           size_t max_pages)
{
    rag_hit hits[30];
    rag_query q;
    rag_str seen[8];
    size_t nseen = 0, i, s;
    int nh, rc = 0;

    rc |= rag_buf_puts(b, "\"pages\":[");
    if (ix != NULL) {
        memset(&q, 0, sizeof(q));
        q.text = query;
        q.text_len = qlen;
        q.k = 30;
        q.mode = RAG_SEARCH_BM25;
        nh = rag_search(ix, &q, hits);
        if (max_pages > 8)
            max_pages = 8;
        for (i = 0; i < (size_t)(nh > 0 ? nh : 0) && nseen < max_pages; i++) {
            rag_index_chunk c;
            const char *hash;
            size_t plen;
            if (rag_index_chunk_get(ix, hits[i].rec, &c) != 0)
                continue;
            hash = memchr(c.url.p, '#', c.url.len);
            plen = hash ? (size_t)(hash - c.url.p) : c.url.len;
            for (s = 0; s < nseen; s++)
                if (seen[s].len == plen &&
                    memcmp(seen[s].p, c.url.p, plen) == 0)
                    break;
            if (s < nseen)
                continue; /* one entry per page, its best chunk */
            seen[nseen].p = c.url.p;
            seen[nseen].len = plen;
            rc |= rag_buf_puts(b, nseen ? ",{\"url\":" : "{\"url\":");
            rc |= rag_buf_json_str(b, c.url.p, c.url.len);
            rc |= rag_buf_puts(b, ",\"title\":");
            rc |= rag_buf_json_str(b, c.title.p, c.title.len);
            rc |= rag_buf_puts(b, ",\"heading\":");
            rc |= rag_buf_json_str(b, c.heading_path.p, c.heading_path.len);
            rc |= rag_buf_printf(b, ",\"score\":%.3f}", hits[i].bm25);
            nseen++;
        }
    }
    rc |= rag_buf_putc(b, ']');
    return rc;
}

typedef struct {
    int id;
    size_t count, first;
} cl_order;

static int
cl_cmp(const void *a, const void *b)
{
    const cl_order *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x->first < y->first ? -1 : x->first > y->first;
}

int
rag_gaps_report_json(PGconn *db, const rag_gaps_opts *o, rag_buf *out,
                     char *err, size_t errlen)
{
    static const char *reasons[] = {"abstain", "downvote", "unsolved"};
    const char **texts = NULL;
    int *cl = NULL, k, rc = -1, brc = 0, days;
    cl_order *ord = NULL;
    PGresult *res;
    gaps_coll colls[GAPS_MAX_COLLS];
    size_t ncolls = 0, n, i, c, r, ex;
    size_t max_ex = o->max_examples ? o->max_examples : 5;
    size_t max_pages = o->max_pages ? o->max_pages : 3;
    double thr = o->threshold > 0 ? o->threshold : RAG_GAPS_DEFAULT_THRESHOLD;
    rag_buf qtext;

    days = o->days > 0 ? o->days : RAG_GAPS_DEFAULT_DAYS;
    res = rag_store_gaps_questions(db, o->guild, days, RAG_GAPS_MAX_QUESTIONS);
    if (res == NULL) {
        snprintf(err, errlen, "gaps query: %.200s",
                 rag_db_last_error()->message);
        return -1;
    }
    rag_buf_init(&qtext, GAPS_QUERY_MAX);
    n = (size_t)PQntuples(res);
    texts = calloc(n + 1, sizeof(*texts));
    cl = calloc(n + 1, sizeof(*cl));
    if (texts == NULL || cl == NULL)
        goto oom;
    for (i = 0; i < n; i++)
        texts[i] = PQgetvalue(res, (int)i, 0);
    k = rag_gaps_cluster(texts, n, thr, cl);
    if (k < 0)
        goto oom;
    ord = calloc((size_t)k + 1, sizeof(*ord));
    if (ord == NULL)
        goto oom;
    for (c = 0; c < (size_t)k; c++) {
        ord[c].id = (int)c;
        ord[c].first = SIZE_MAX;
    }
    for (i = 0; i < n; i++) {
        ord[cl[i]].count++;
        if (ord[cl[i]].first == SIZE_MAX)
            ord[cl[i]].first = i;
    }
    qsort(ord, (size_t)k, sizeof(*ord), cl_cmp);

    brc |= rag_buf_printf(out,
                          "{\"days\":%d,\"threshold\":%.2f,"
                          "\"questions\":%zu,\"clusters\":[",
                          days, thr, n);
    for (c = 0; c < (size_t)k; c++) {
        int id = ord[c].id;
        size_t rcount[3] = {0, 0, 0}, first = ord[c].first;
        const char *coll = PQgetvalue(res, (int)first, 4);
        const char *ipath = PQgetvalue(res, (int)first, 5);

        rag_buf_reset(&qtext);
        for (i = first; i < n; i++) {
            if (cl[i] != id)
                continue;
            for (r = 0; r < 3; r++)
                if (strcmp(PQgetvalue(res, (int)i, 2), reasons[r]) == 0)
                    rcount[r]++;
            /* bounded: the combined query keeps what fits */
            if (qtext.len + 1 + strlen(texts[i]) < GAPS_QUERY_MAX) {
                rag_buf_puts(&qtext, texts[i]);
                rag_buf_putc(&qtext, '\n');
            }
        }
        brc |= rag_buf_printf(out,
                              "%s{\"id\":%zu,\"count\":%zu,"
                              "\"reasons\":{",
                              c ? "," : "", c + 1, ord[c].count);
        for (r = 0, ex = 0; r < 3; r++) {
            if (rcount[r] == 0)
                continue;
            brc |= rag_buf_printf(out, "%s\"%s\":%zu", ex++ ? "," : "",
                                  reasons[r], rcount[r]);
        }
        brc |= rag_buf_puts(out, "},\"collection\":");
        brc |= rag_buf_json_str(out, coll, strlen(coll));
        brc |= rag_buf_puts(out, ",\"examples\":[");
        for (i = first, ex = 0; i < n && ex < max_ex; i++) {
            if (cl[i] != id)
                continue;
            brc |=
                rag_buf_puts(out, ex++ ? ",{\"question\":" : "{\"question\":");
            brc |= rag_buf_json_str(out, texts[i], strlen(texts[i]));
            brc |= rag_buf_puts(out, ",\"thread_id\":");
            brc |= rag_buf_json_str(out, PQgetvalue(res, (int)i, 1),
                                    (size_t)PQgetlength(res, (int)i, 1));
            brc |= rag_buf_puts(out, ",\"reason\":");
            brc |= rag_buf_json_str(out, PQgetvalue(res, (int)i, 2),
                                    (size_t)PQgetlength(res, (int)i, 2));
            brc |= rag_buf_puts(out, ",\"created_at\":");
            brc |= rag_buf_json_str(out, PQgetvalue(res, (int)i, 3),
                                    (size_t)PQgetlength(res, (int)i, 3));
            brc |= rag_buf_putc(out, '}');
        }
        brc |= rag_buf_puts(out, "],");
        brc |= emit_pages(out,
                          coll_index(colls, &ncolls, coll, ipath, o->index_dir),
                          qtext.data ? qtext.data : "", qtext.len, max_pages);
        brc |= rag_buf_putc(out, '}');
    }
    brc |= rag_buf_puts(out, "]}");
    if (brc != 0) {
        snprintf(err, errlen, "report too large");
        goto done;
    }
    rc = 0;
    goto done;
oom:
    snprintf(err, errlen, "out of memory");
done:
    for (i = 0; i < ncolls; i++)
        if (colls[i].ix)
            rag_index_close(colls[i].ix);
    rag_buf_free(&qtext);
    free(texts);
    free(cl);
    free(ord);
    PQclear(res);
    return rc;
}
