/*
 * rag_ft — fastText word/subword vectors read in place, SIF text vectors
 * (see rag_ft.h).
 */
#include "rag_ft.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define LINK_MAX 2048 /* bytes of a Markdown link target skipped */
#define PC_ITERS 500

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static uint32_t
ld32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t
ld64(const unsigned char *p)
{
    return (uint64_t)ld32(p) | (uint64_t)ld32(p + 4) << 32;
}

/* ---- tokens ------------------------------------------------------------- */

/* Bytes of a separator that is not ASCII at p (no-break space U+00A0,
 * general punctuation U+2000..U+206F: dashes, quotes, ellipsis,
 * zero-width and other spaces), else 0. */
static size_t
wide_sep(const unsigned char *p, size_t n)
{
    if (n >= 2 && p[0] == 0xc2 && p[1] == 0xa0)
        return 2;
    if (n >= 3 && p[0] == 0xe2 && (p[1] == 0x80 || p[1] == 0x81) &&
        (p[2] & 0xc0) == 0x80)
        return 3;
    return 0;
}

static int
word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

long
rag_ft_tokens(const char *text, size_t len, rag_ft_token_cb cb, void *ud)
{
    const unsigned char *s = (const unsigned char *)text;
    char buf[RAG_FT_TOKEN_MAX];
    size_t i = 0, n = 0, w;
    long count = 0;
    int over = 0;

#define FLUSH()                                                                \
    do {                                                                       \
        if (n > 0 && !over) {                                                  \
            if (cb(ud, buf, n) != 0)                                           \
                return -1;                                                     \
            count++;                                                           \
        }                                                                      \
        n = 0;                                                                 \
        over = 0;                                                              \
    } while (0)

    if (text == NULL)
        return 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c == ']' && i + 1 < len && s[i + 1] == '(') {
            /* a link target: a URL or path, not the text's words */
            size_t j = i + 2;
            FLUSH();
            while (j < len && s[j] != ')' && s[j] != '\n' && j - i < LINK_MAX)
                j++;
            i = j < len && s[j] == ')' ? j + 1 : i + 1;
            continue;
        }
        if (c >= 0x80 && (w = wide_sep(s + i, len - i)) > 0) {
            FLUSH();
            i += w;
            continue;
        }
        if (word_byte(c)) {
            if (n < RAG_FT_TOKEN_MAX)
                buf[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            else
                over = 1;
            i++;
            continue;
        }
        FLUSH();
        i++;
    }
    FLUSH();
#undef FLUSH
    return count;
}

/* ---- hashing ------------------------------------------------------------ */

uint32_t
rag_ft_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++) {
        h ^= (uint32_t)(int32_t)(int8_t)s[i];
        h *= 16777619u;
    }
    return h;
}

size_t
rag_ft_ngrams(const char *word, size_t n, uint32_t minn, uint32_t maxn,
              uint32_t nbuckets, uint32_t *out, size_t max)
{
    char w[RAG_FT_TOKEN_MAX + 2];
    size_t wl, got = 0;

    if (n > RAG_FT_TOKEN_MAX || nbuckets == 0)
        return 0;
    w[0] = '<';
    memcpy(w + 1, word, n);
    w[n + 1] = '>';
    wl = n + 2;
    for (size_t i = 0; i < wl; i++) {
        if ((w[i] & 0xc0) == 0x80)
            continue; /* inside a UTF-8 character */
        size_t j = i;
        for (uint32_t nc = 1; j < wl && nc <= maxn; nc++) {
            j++;
            while (j < wl && (w[j] & 0xc0) == 0x80)
                j++;
            if (nc >= minn && !(nc == 1 && (i == 0 || j == wl))) {
                if (got < max)
                    out[got] = rag_ft_hash(w + i, j - i) % nbuckets;
                got++;
            }
        }
    }
    return got;
}

/* ---- the model ---------------------------------------------------------- */

static int
word_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return (al > bl) - (al < bl);
}

int
rag_ft_model_open(rag_ft_model *m, const void *data, size_t len, char *err,
                  size_t errlen)
{
    const unsigned char *p = data;
    uint64_t textlen, off_text, off_wvec, off_bvec, end, nfl, sum = 0;

    memset(m, 0, sizeof(*m));
    if (len < RAG_FT_HDR || ((uintptr_t)data & 3) != 0) {
        seterr(err, errlen, "fastText model truncated");
        return -1;
    }
    m->dim = ld32(p);
    m->nwords = ld32(p + 4);
    m->nbuckets = ld32(p + 8);
    m->minn = ld32(p + 12);
    m->maxn = ld32(p + 16);
    m->ntokens = ld64(p + 24);
    memcpy(&m->sif_a, p + 32, 8);
    m->train_docs = ld64(p + 40);
    m->train_oov = ld64(p + 48);
    m->train_generation = ld64(p + 56);
    m->epoch = ld32(p + 64);
    m->ws = ld32(p + 68);
    m->neg = ld32(p + 72);
    m->min_count = ld32(p + 76);
    m->seed = ld32(p + 80);
    m->train_ms = ld32(p + 84);
    m->trained_at = ld64(p + 88);
    textlen = ld64(p + 96);
    m->corpus_tokens = ld64(p + 112);
    if (ld32(p + 108) != 0 || ld64(p + 120) != 0 || m->corpus_tokens == 0 ||
        m->train_oov > m->corpus_tokens)
        goto bad_header;
    if (m->dim == 0 || m->dim > RAG_FT_MAX_DIM || m->nwords == 0 ||
        m->nbuckets == 0 || m->nbuckets > (1u << 26) || m->minn == 0 ||
        m->maxn < m->minn || m->maxn > RAG_FT_MAX_NGRAM || ld32(p + 20) != 0 ||
        m->ntokens == 0 || !(m->sif_a > 0 && m->sif_a < 1) ||
        textlen > (uint64_t)m->nwords * RAG_FT_TOKEN_MAX)
        goto bad_header;
    off_text = RAG_FT_HDR + (uint64_t)m->nwords * RAG_FT_WORD_SZ;
    off_wvec = (off_text + textlen + 63) & ~(uint64_t)63;
    off_bvec = off_wvec + (uint64_t)m->nwords * m->dim * 4;
    end = off_bvec + (uint64_t)m->nbuckets * m->dim * 4;
    if (end != len) {
        seterr(err, errlen, "fastText model size %zu, expected %llu", len,
               (unsigned long long)end);
        return -1;
    }
    m->words = p + RAG_FT_HDR;
    m->text = (const char *)p + off_text;
    for (uint64_t i = off_text + textlen; i < off_wvec; i++)
        if (p[i] != 0)
            goto bad_header;
    for (uint32_t i = 0; i < m->nwords; i++) {
        const unsigned char *e = m->words + (size_t)i * RAG_FT_WORD_SZ;
        uint32_t to = ld32(e), tl = ld32(e + 4);
        uint64_t cnt = ld64(e + 8);
        if (tl == 0 || tl > RAG_FT_TOKEN_MAX || to > textlen ||
            tl > textlen - to || cnt == 0 || cnt > m->ntokens) {
            seterr(err, errlen, "fastText model word %u invalid", i);
            return -1;
        }
        if (i > 0) {
            const unsigned char *q = e - RAG_FT_WORD_SZ;
            if (word_cmp(m->text + ld32(q), ld32(q + 4), m->text + to, tl) >=
                0) {
                seterr(err, errlen, "fastText model words not sorted at %u", i);
                return -1;
            }
        }
        sum += cnt;
    }
    if (sum > m->ntokens) {
        seterr(err, errlen, "fastText model word counts exceed its tokens");
        return -1;
    }
    m->wvec = (const float *)(p + off_wvec);
    m->bvec = (const float *)(p + off_bvec);
    nfl = (end - off_wvec) / 4;
    for (uint64_t i = 0; i < nfl; i++) {
        if (!isfinite(m->wvec[i])) {
            seterr(err, errlen, "fastText model vector value invalid");
            return -1;
        }
    }
    if (ld32(p + 104) != RAG_FT_TOKENIZER) {
        seterr(err, errlen,
               "fastText model made with tokenizer %u, this "
               "build cuts text with %u",
               ld32(p + 104), RAG_FT_TOKENIZER);
        return -2;
    }
    return 0;
bad_header:
    seterr(err, errlen, "fastText model header invalid");
    return -1;
}

long
rag_ft_word_id(const rag_ft_model *m, const char *w, size_t n)
{
    size_t lo = 0, hi = m->nwords;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const unsigned char *e = m->words + mid * RAG_FT_WORD_SZ;
        int c = word_cmp(w, n, m->text + ld32(e), ld32(e + 4));
        if (c == 0)
            return (long)mid;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

int
rag_ft_word_vector(const rag_ft_model *m, const char *w, size_t n, float *out)
{
    uint32_t ng[RAG_FT_MAX_NGRAMS];
    long id = rag_ft_word_id(m, w, n);
    size_t k;
    float inv;

    if (id >= 0) {
        memcpy(out, m->wvec + (size_t)id * m->dim, m->dim * sizeof(float));
        return 0;
    }
    memset(out, 0, m->dim * sizeof(float));
    k = rag_ft_ngrams(w, n, m->minn, m->maxn, m->nbuckets, ng,
                      RAG_FT_MAX_NGRAMS);
    if (k > RAG_FT_MAX_NGRAMS)
        k = RAG_FT_MAX_NGRAMS;
    if (k == 0)
        return -1;
    /* as FastText::getWordVector: float sums in order, then times the
     * float nearest 1/k */
    for (size_t i = 0; i < k; i++) {
        const float *row = m->bvec + (size_t)ng[i] * m->dim;
        for (uint32_t d = 0; d < m->dim; d++)
            out[d] += row[d];
    }
    inv = (float)(1.0 / (double)k);
    for (uint32_t d = 0; d < m->dim; d++)
        out[d] *= inv;
    return 0;
}

double
rag_ft_sif_weight(const rag_ft_model *m, long id)
{
    double p;

    if (id < 0)
        return 1.0;
    p = (double)ld64(m->words + (size_t)id * RAG_FT_WORD_SZ + 8) /
        (double)m->ntokens;
    return m->sif_a / (m->sif_a + p);
}

typedef struct {
    const rag_ft_model *m;
    double *acc;
    float *tmp;
    size_t n;
} sif_ctx;

static int
sif_tok(void *ud, const char *t, size_t n)
{
    sif_ctx *c = ud;
    const rag_ft_model *m = c->m;
    long id = rag_ft_word_id(m, t, n);
    const float *v;
    double w = rag_ft_sif_weight(m, id);

    if (id >= 0) {
        v = m->wvec + (size_t)id * m->dim;
    } else {
        if (rag_ft_word_vector(m, t, n, c->tmp) != 0)
            return 0;
        v = c->tmp;
    }
    for (uint32_t d = 0; d < m->dim; d++)
        c->acc[d] += w * v[d];
    c->n++;
    return 0;
}

size_t
rag_ft_sif(const rag_ft_model *m, const char *const *parts, const size_t *lens,
           size_t nparts, float *out)
{
    double acc[RAG_FT_MAX_DIM];
    float tmp[RAG_FT_MAX_DIM];
    sif_ctx c = {m, acc, tmp, 0};

    memset(acc, 0, m->dim * sizeof(double));
    for (size_t i = 0; i < nparts; i++)
        rag_ft_tokens(parts[i], lens[i], sif_tok, &c);
    for (uint32_t d = 0; d < m->dim; d++)
        out[d] = c.n ? (float)(acc[d] / (double)c.n) : 0.0f;
    return c.n;
}

int
rag_ft_finish(const float *pc, float *v, uint32_t dim)
{
    double dot = 0, norm = 0;

    if (pc != NULL) {
        for (uint32_t d = 0; d < dim; d++)
            dot += (double)v[d] * pc[d];
        for (uint32_t d = 0; d < dim; d++)
            v[d] = (float)(v[d] - dot * pc[d]);
    }
    for (uint32_t d = 0; d < dim; d++)
        norm += (double)v[d] * v[d];
    if (!(norm > 0) || !isfinite(norm)) {
        memset(v, 0, dim * sizeof(float));
        return -1;
    }
    norm = sqrt(norm);
    for (uint32_t d = 0; d < dim; d++)
        v[d] = (float)(v[d] / norm);
    return 0;
}

int
rag_ft_embed(const rag_ft_model *m, const float *pc, const char *text,
             size_t len, float *out)
{
    const char *parts[1] = {text};
    size_t lens[1] = {len};

    if (rag_ft_sif(m, parts, lens, 1, out) == 0) {
        memset(out, 0, m->dim * sizeof(float));
        return -1;
    }
    return rag_ft_finish(pc, out, m->dim);
}

const char *
rag_ft_word_text(const rag_ft_model *m, long id, size_t *len)
{
    const unsigned char *e = m->words + (size_t)id * RAG_FT_WORD_SZ;

    *len = ld32(e + 4);
    return m->text + ld32(e);
}

size_t
rag_ft_neighbours(const rag_ft_model *m, const char *w, size_t n, size_t k,
                  double min_cos, uint64_t min_count, long *ids, double *cos)
{
    float q[RAG_FT_MAX_DIM];
    long self = rag_ft_word_id(m, w, n);
    double qn = 0;
    size_t got = 0;

    if (k == 0 || rag_ft_word_vector(m, w, n, q) != 0)
        return 0;
    for (uint32_t d = 0; d < m->dim; d++)
        qn += (double)q[d] * q[d];
    if (!(qn > 0))
        return 0;
    qn = sqrt(qn);
    for (uint32_t i = 0; i < m->nwords; i++) {
        const float *v = m->wvec + (size_t)i * m->dim;
        double dot = 0, vn = 0, c;
        size_t j;
        if ((long)i == self ||
            ld64(m->words + (size_t)i * RAG_FT_WORD_SZ + 8) < min_count)
            continue;
        for (uint32_t d = 0; d < m->dim; d++) {
            dot += (double)q[d] * v[d];
            vn += (double)v[d] * v[d];
        }
        if (!(vn > 0))
            continue;
        c = dot / (qn * sqrt(vn));
        if (c < min_cos || (got == k && c <= cos[k - 1]))
            continue;
        j = got < k ? got++ : k - 1;
        while (j > 0 && cos[j - 1] < c) {
            cos[j] = cos[j - 1];
            ids[j] = ids[j - 1];
            j--;
        }
        cos[j] = c;
        ids[j] = (long)i;
    }
    return got;
}

int
rag_ft_first_pc(const double *cov, uint32_t dim, float *pc)
{
    double x[RAG_FT_MAX_DIM], y[RAG_FT_MAX_DIM], norm = 0;
    uint32_t big = 0;

    if (dim == 0 || dim > RAG_FT_MAX_DIM)
        return -1;
    /* start from the column of the largest variance: never orthogonal to
     * the top eigenvector of a PSD matrix unless that column is zero */
    for (uint32_t d = 1; d < dim; d++)
        if (cov[(size_t)d * dim + d] > cov[(size_t)big * dim + big])
            big = d;
    for (uint32_t d = 0; d < dim; d++) {
        x[d] = cov[(size_t)d * dim + big];
        norm += x[d] * x[d];
    }
    if (!(norm > 0) || !isfinite(norm))
        return -1;
    norm = sqrt(norm);
    for (uint32_t d = 0; d < dim; d++)
        x[d] /= norm;
    for (int it = 0; it < PC_ITERS; it++) {
        double delta = 0;
        norm = 0;
        for (uint32_t r = 0; r < dim; r++) {
            double s = 0;
            for (uint32_t c = 0; c < dim; c++)
                s += cov[(size_t)r * dim + c] * x[c];
            y[r] = s;
            norm += s * s;
        }
        if (!(norm > 0) || !isfinite(norm))
            return -1;
        norm = sqrt(norm);
        for (uint32_t d = 0; d < dim; d++) {
            double v = y[d] / norm;
            delta += fabs(v - x[d]);
            x[d] = v;
        }
        if (delta < 1e-13)
            break;
    }
    for (uint32_t d = 0; d < dim; d++)
        pc[d] = (float)x[d];
    return 0;
}
