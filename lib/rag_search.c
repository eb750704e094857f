/*
 * rag_search — BM25 + vector retrieval with reciprocal rank fusion.
 *
 * BM25 (k1 = 1.2, b = 0.75, idf = ln(1 + (N - df + 0.5) / (df + 0.5)))
 * is computed term-at-a-time into a per-call dense score array; each
 * distinct query term counts once. The vector leg scans every int8 vector
 * (integer dot product times both scales), keeps the best 4k candidates
 * and rescores them with the float32 originals (exact cosine: both sides
 * are L2-normalised). Hybrid fuses the two lists (each up to 4k long) by
 * RRF, score = sum 1 / (60 + rank). Every ordering breaks ties on the
 * record number, so results are deterministic.
 *
 * All state is per call (malloc'd), the index is only read: any number
 * of threads may search one rag_index at once.
 */
#include "rag_search.h"

#include "rag_terms.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BM25_K1 1.2
#define BM25_B 0.75
#define RRF_K 60.0
#define OVERSAMPLE 4
#define MAX_QTERMS 64

typedef struct {
    double s;
    uint32_t rec;
} scored;

/* a is better than b: higher score, then lower record number */
static int
better(const scored *a, const scored *b)
{
    return a->s > b->s || (a->s == b->s && a->rec < b->rec);
}

/* Bounded heap keeping the best cap entries; the root is the worst. */
typedef struct {
    scored *v;
    size_t n, cap;
} topk;

static void
topk_push(topk *h, double s, uint32_t rec)
{
    scored x = {s, rec};
    size_t i, c;

    if (h->n < h->cap) {
        i = h->n++;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!better(&h->v[p], &x))
                break;
            h->v[i] = h->v[p];
            i = p;
        }
        h->v[i] = x;
        return;
    }
    if (h->cap == 0 || !better(&x, &h->v[0]))
        return;
    i = 0;
    for (;;) {
        c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && better(&h->v[c], &h->v[c + 1]))
            c++;
        if (!better(&x, &h->v[c]))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    h->v[i] = x;
}

static int
cmp_scored(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (better(x, y))
        return -1;
    if (better(y, x))
        return 1;
    return 0;
}

/* Sorts the heap contents best first (in place). */
static void
topk_sort(topk *h)
{
    qsort(h->v, h->n, sizeof(scored), cmp_scored);
}

typedef struct {
    char t[MAX_QTERMS][RAG_TERM_MAX];
    size_t len[MAX_QTERMS];
    size_t n;
} qterms;

static int
qterm_cb(void *ud, const char *t, size_t n, size_t off, size_t len)
{
    qterms *q = ud;

    for (size_t i = 0; i < q->n; i++)
        if (q->len[i] == n && memcmp(q->t[i], t, n) == 0)
            return 0;
    if (q->n >= MAX_QTERMS)
        return 1;
    memcpy(q->t[q->n], t, n);
    q->len[q->n++] = n;
    return 0;
}

/* BM25 scores of every record into score[] (zeroed by the caller); the
 * best cap records go to h. */
static void
bm25_leg(const rag_index *ix, const rag_query *q, double *score,
         uint32_t *touched, topk *h)
{
    qterms qt;
    uint32_t ntouched = 0, n = rag_index_count(ix);
    double avgdl = rag_index_avgdl(ix);

    qt.n = 0;
    if (q->text == NULL)
        return;
    rag_terms_each(q->text, q->text_len, qterm_cb, &qt);
    if (avgdl <= 0)
        avgdl = 1;
    for (size_t t = 0; t < qt.n; t++) {
        rag_postings pl;
        double idf;
        if (rag_index_term(ix, qt.t[t], qt.len[t], &pl) != 0)
            continue;
        idf = log(1.0 + ((double)n - pl.df + 0.5) / (pl.df + 0.5));
        for (uint32_t i = 0; i < pl.df; i++) {
            uint32_t d = rag_postings_doc(&pl, i);
            double tf = rag_postings_tf(&pl, i);
            double dl = rag_index_doc_len(ix, d);
            double norm = BM25_K1 * (1 - BM25_B + BM25_B * dl / avgdl);
            if (score[d] == 0)
                touched[ntouched++] = d;
            score[d] += idf * tf * (BM25_K1 + 1) / (tf + norm);
        }
    }
    for (uint32_t i = 0; i < ntouched; i++)
        topk_push(h, score[touched[i]], touched[i]);
}

static double
dot_f32(const float *a, const float *b, uint32_t n)
{
    double s = 0;
    for (uint32_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

static int32_t
dot_i8_c(const int8_t *a, const int8_t *b, uint32_t n)
{
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    uint32_t i = 0;

    for (; i + 4 <= n; i += 4) {
        s0 += (int32_t)a[i] * b[i];
        s1 += (int32_t)a[i + 1] * b[i + 1];
        s2 += (int32_t)a[i + 2] * b[i + 2];
        s3 += (int32_t)a[i + 3] * b[i + 3];
    }
    for (; i < n; i++)
        s0 += (int32_t)a[i] * b[i];
    return s0 + s1 + s2 + s3;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* The scan is the vector leg's whole cost: 16 int8 pairs per step,
 * widened to int16 and multiply-added into int32 lanes (no overflow:
 * |127 * 127 * 2| per lane step, dims <= 8192). */
__attribute__((target("avx2"))) static int32_t
dot_i8_avx2(const int8_t *a, const int8_t *b, uint32_t n)
{
    __m256i acc = _mm256_setzero_si256();
    uint32_t i = 0;
    int32_t lanes[8], s = 0;

    for (; i + 16 <= n; i += 16) {
        __m256i x =
            _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + i)));
        __m256i y =
            _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i)));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(x, y));
    }
    _mm256_storeu_si256((__m256i *)lanes, acc);
    for (int k = 0; k < 8; k++)
        s += lanes[k];
    return s + dot_i8_c(a + i, b + i, n - i);
}

/* chosen once per process; pthread_once orders it for every thread */
static int32_t (*dot_impl)(const int8_t *, const int8_t *, uint32_t);
static pthread_once_t dot_once = PTHREAD_ONCE_INIT;

static void
dot_pick(void)
{
    __builtin_cpu_init();
    dot_impl = __builtin_cpu_supports("avx2") ? dot_i8_avx2 : dot_i8_c;
}

static int32_t (*resolve_dot(void))(const int8_t *, const int8_t *, uint32_t)
{
    pthread_once(&dot_once, dot_pick);
    return dot_impl;
}
#else
static int32_t (*resolve_dot(void))(const int8_t *, const int8_t *, uint32_t)
{
    return dot_i8_c;
}
#endif

/* Normalises qvec into qn and quantises it into q8; returns q8's scale,
 * or 0 when the query vector is zero or not finite. */
static float
prep_query(const float *qvec, uint32_t dims, float *qn, int8_t *q8)
{
    double norm = 0;
    float mx = 0, scale;

    for (uint32_t i = 0; i < dims; i++) {
        if (!isfinite(qvec[i]))
            return 0;
        norm += (double)qvec[i] * qvec[i];
    }
    if (!(norm > 0))
        return 0;
    norm = sqrt(norm);
    for (uint32_t i = 0; i < dims; i++) {
        qn[i] = (float)(qvec[i] / norm);
        if (fabsf(qn[i]) > mx)
            mx = fabsf(qn[i]);
    }
    scale = mx / 127.0f;
    for (uint32_t i = 0; i < dims; i++) {
        long r = lrintf(qn[i] / scale);
        q8[i] = (int8_t)(r > 127 ? 127 : r < -127 ? -127 : r);
    }
    return scale;
}

/* int8 scan of all records, float32 rescoring of the best cap; result in
 * h sorted best first, scores are exact cosines. */
static void
vector_leg(const rag_index *ix, const float *qn, const int8_t *q8, float qscale,
           float *tmp, topk *h)
{
    uint32_t n = rag_index_count(ix), dims = rag_index_dims(ix);
    int32_t (*dot_i8)(const int8_t *, const int8_t *, uint32_t) = resolve_dot();

    for (uint32_t i = 0; i < n; i++) {
        float vs;
        const int8_t *v = rag_index_vec_i8(ix, i, &vs);
        if (v == NULL)
            continue;
        topk_push(h, (double)dot_i8(q8, v, dims) * qscale * vs, i);
    }
    for (size_t j = 0; j < h->n; j++) {
        if (rag_index_vec_f32(ix, h->v[j].rec, tmp) == 0)
            h->v[j].s = dot_f32(qn, tmp, dims);
    }
    topk_sort(h);
}

typedef struct {
    uint32_t rec;
    int r1, r2;
    double s;
} fused;

static int
cmp_fused(const void *a, const void *b)
{
    const fused *x = a, *y = b;
    if (x->s != y->s)
        return x->s > y->s ? -1 : 1;
    return (x->rec > y->rec) - (x->rec < y->rec);
}

static int
cmp_fused_rec(const void *a, const void *b)
{
    const fused *x = a, *y = b;
    return (x->rec > y->rec) - (x->rec < y->rec);
}

int
rag_search(const rag_index *ix, const rag_query *q, rag_hit *hits)
{
    uint32_t n, dims, k;
    int use_bm25, use_vec, nout = -1;
    double *score = NULL;
    uint32_t *touched = NULL;
    float *qn = NULL, *tmp = NULL, qscale = 0;
    int8_t *q8 = NULL;
    topk hb = {0}, hv = {0};
    fused *fu = NULL;
    size_t cand, nf = 0;

    if (ix == NULL || q == NULL || hits == NULL || q->k < 1 ||
        q->k > RAG_SEARCH_MAX_K)
        return -1;
    n = rag_index_count(ix);
    dims = rag_index_dims(ix);
    k = (uint32_t)q->k;
    switch (q->mode) {
    case RAG_SEARCH_HYBRID:
        use_bm25 = 1;
        use_vec = q->qvec != NULL && dims > 0;
        break;
    case RAG_SEARCH_BM25:
        use_bm25 = 1;
        use_vec = 0;
        break;
    case RAG_SEARCH_VECTOR:
        if (q->qvec == NULL || dims == 0)
            return -1;
        use_bm25 = 0;
        use_vec = 1;
        break;
    default:
        return -1;
    }
    if (n == 0)
        return 0;
    /* each leg's list: k when alone, 4k when fused */
    cand = use_bm25 && use_vec ? (size_t)k * OVERSAMPLE : k;

    score = calloc(n, sizeof(double));
    touched = malloc(n * sizeof(uint32_t));
    hb.v = malloc(cand * sizeof(scored));
    if (!score || !touched || !hb.v)
        goto done;
    hb.cap = cand;
    if (use_bm25) {
        bm25_leg(ix, q, score, touched, &hb);
        topk_sort(&hb);
    }
    if (use_vec) {
        qn = malloc(dims * sizeof(float));
        tmp = malloc(dims * sizeof(float));
        q8 = malloc(dims);
        hv.cap = (size_t)k * OVERSAMPLE;
        hv.v = malloc(hv.cap * sizeof(scored));
        if (!qn || !tmp || !q8 || !hv.v)
            goto done;
        qscale = prep_query(q->qvec, dims, qn, q8);
        if (qscale > 0)
            vector_leg(ix, qn, q8, qscale, tmp, &hv);
        if (!use_bm25 && hv.n > k)
            hv.n = k;
    }

    if (use_bm25 && !use_vec) {
        nout = (int)(hb.n < k ? hb.n : k);
        for (int i = 0; i < nout; i++) {
            hits[i].rec = hb.v[i].rec;
            hits[i].score = hits[i].bm25 = hb.v[i].s;
            hits[i].cosine = 0;
            hits[i].bm25_rank = i + 1;
            hits[i].vec_rank = 0;
        }
    } else if (use_vec && !use_bm25) {
        nout = (int)hv.n;
        for (int i = 0; i < nout; i++) {
            hits[i].rec = hv.v[i].rec;
            hits[i].score = hits[i].cosine = hv.v[i].s;
            hits[i].bm25 = 0;
            hits[i].bm25_rank = 0;
            hits[i].vec_rank = i + 1;
        }
    } else {
        /* RRF over both lists: gather, merge duplicates by record */
        fu = malloc((hb.n + hv.n + 1) * sizeof(fused));
        if (fu == NULL)
            goto done;
        for (size_t i = 0; i < hb.n; i++)
            fu[nf++] = (fused){hb.v[i].rec, (int)i + 1, 0, 0};
        for (size_t i = 0; i < hv.n; i++)
            fu[nf++] = (fused){hv.v[i].rec, 0, (int)i + 1, 0};
        qsort(fu, nf, sizeof(fused), cmp_fused_rec);
        size_t m = 0;
        for (size_t i = 0; i < nf; i++) {
            if (m > 0 && fu[m - 1].rec == fu[i].rec) {
                if (fu[i].r1)
                    fu[m - 1].r1 = fu[i].r1;
                if (fu[i].r2)
                    fu[m - 1].r2 = fu[i].r2;
            } else {
                fu[m++] = fu[i];
            }
        }
        nf = m;
        for (size_t i = 0; i < nf; i++)
            fu[i].s = (fu[i].r1 ? 1.0 / (RRF_K + fu[i].r1) : 0) +
                      (fu[i].r2 ? 1.0 / (RRF_K + fu[i].r2) : 0);
        qsort(fu, nf, sizeof(fused), cmp_fused);
        nout = (int)(nf < k ? nf : k);
        for (int i = 0; i < nout; i++) {
            hits[i].rec = fu[i].rec;
            hits[i].score = fu[i].s;
            hits[i].bm25 = score[fu[i].rec];
            hits[i].bm25_rank = fu[i].r1;
            hits[i].vec_rank = fu[i].r2;
            hits[i].cosine = 0;
            if (qscale > 0 && rag_index_vec_f32(ix, fu[i].rec, tmp) == 0)
                hits[i].cosine = dot_f32(qn, tmp, dims);
        }
    }
    for (int i = 0; i < nout; i++) {
        rag_index_chunk c;
        hits[i].chunk_id =
            rag_index_chunk_get(ix, hits[i].rec, &c) == 0 ? c.chunk_id : 0;
    }
done:
    free(score);
    free(touched);
    free(hb.v);
    free(hv.v);
    free(qn);
    free(tmp);
    free(q8);
    free(fu);
    return nout;
}

/* ---- snippets ---------------------------------------------------------- */

static int
at_line_start(const char *s, size_t i)
{
    while (i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t'))
        i--;
    return i == 0 || s[i - 1] == '\n';
}

/* Markdown to plain text, lightly: fences, heading/quote/list markers,
 * emphasis and code backticks, link targets and table pipes go; runs of
 * white space become one space. out has room for n + 1 bytes. */
static size_t
strip_md(const char *s, size_t n, char *out)
{
    size_t i = 0, o = 0;
    int space = 1;

    while (i < n) {
        char c = s[i];
        if (at_line_start(s, i) && c != ' ' && c != '\t') {
            if (n - i >= 3 && (memcmp(s + i, "```", 3) == 0 ||
                               memcmp(s + i, "~~~", 3) == 0)) {
                while (i < n && s[i] != '\n')
                    i++; /* fence line with its language tag */
                continue;
            }
            if (c == '#' || c == '>') {
                while (i < n && (s[i] == '#' || s[i] == '>'))
                    i++;
                continue;
            }
            if ((c == '-' || c == '*' || c == '+') && i + 1 < n &&
                s[i + 1] == ' ') {
                i += 2;
                continue;
            }
        }
        if (c == '*' || c == '`' || c == '|' ||
            (c == '!' && i + 1 < n && s[i + 1] == '[') || c == '[') {
            c = c == '|' ? ' ' : 0;
        } else if (c == ']' && i + 1 < n && s[i + 1] == '(') {
            size_t j = i + 2;
            while (j < n && s[j] != ')' && s[j] != '\n' && j - i < 2048)
                j++;
            i = j < n && s[j] == ')' ? j + 1 : i + 1;
            continue;
        } else if (c == ']') {
            c = 0;
        }
        if (c == 0) {
            i++;
            continue;
        }
        if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
            if (!space)
                out[o++] = ' ';
            space = 1;
        } else {
            out[o++] = c;
            space = 0;
        }
        i++;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    return o;
}

typedef struct {
    qterms *q;
    size_t off;
    int found;
} match_ctx;

static int
match_cb(void *ud, const char *t, size_t n, size_t off, size_t len)
{
    match_ctx *m = ud;

    for (size_t i = 0; i < m->q->n; i++) {
        if (m->q->len[i] == n && memcmp(m->q->t[i], t, n) == 0) {
            m->off = off;
            m->found = 1;
            return 1;
        }
    }
    return 0;
}

static int
is_cont(unsigned char c)
{
    return (c & 0xc0) == 0x80;
}

size_t
rag_snippet(const char *body, size_t body_len, const char *query,
            size_t query_len, char *out, size_t outlen)
{
    static const char ell[] = "\xe2\x80\xa6"; /* U+2026 */
    char *plain;
    qterms *qt;
    match_ctx m = {0};
    size_t plen, max, start, end, o = 0, room;

    if (out == NULL || outlen == 0)
        return 0;
    out[0] = '\0';
    if (body == NULL || body_len == 0)
        return 0;
    plain = malloc(body_len + 1);
    qt = malloc(sizeof(*qt));
    if (plain == NULL || qt == NULL) {
        free(plain);
        free(qt);
        return 0;
    }
    plen = strip_md(body, body_len, plain);
    qt->n = 0;
    if (query)
        rag_terms_each(query, query_len, qterm_cb, qt);
    m.q = qt;
    rag_terms_each(plain, plen, match_cb, &m);

    max = outlen - 1;
    if (plen <= max) {
        memcpy(out, plain, plen);
        out[plen] = '\0';
        o = plen;
        goto done;
    }
    room = max > 2 * (sizeof(ell) - 1) + 8 ? max - 2 * (sizeof(ell) - 1) : max;
    start = m.found && m.off > room / 4 ? m.off - room / 4 : 0;
    if (start > plen - room)
        start = plen - room;
    if (start > 0) {
        /* begin at a word: the next space within 24 bytes */
        for (size_t j = start; j < start + 24 && j < plen; j++)
            if (plain[j - 1] == ' ') {
                start = j;
                break;
            }
        while (start < plen && is_cont((unsigned char)plain[start]))
            start++;
    }
    end = start + room;
    if (end > plen)
        end = plen;
    if (end < plen) {
        size_t e = end;
        while (e > start + room / 2 && plain[e] != ' ')
            e--;
        if (plain[e] == ' ')
            end = e;
        while (end > start && is_cont((unsigned char)plain[end]))
            end--;
    }
    if (start > 0 && room < max) {
        memcpy(out + o, ell, sizeof(ell) - 1);
        o += sizeof(ell) - 1;
    }
    memcpy(out + o, plain + start, end - start);
    o += end - start;
    if (end < plen && room < max) {
        while (o > 0 && out[o - 1] == ' ')
            o--;
        memcpy(out + o, ell, sizeof(ell) - 1);
        o += sizeof(ell) - 1;
    }
    out[o] = '\0';
done:
    free(plain);
    free(qt);
    return o;
}
