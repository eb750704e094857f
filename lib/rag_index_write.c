/*
 * rag_index_write — the index writer (format: rag_index_fmt.h).
 *
 * Memory is bounded by the postings, not the text: while records are
 * added, their strings and vectors go to unlinked temporary files in
 * $TMPDIR (else /tmp) and each term keeps its postings as a growing
 * varint byte string (doc-id gap, tf). Documents arrive in record order,
 * so every term's postings are already sorted; a per-term "tf in the
 * current record" counter replaces sorting each record's terms.
 *
 * Writing streams the sections to "<path>.tmp.<pid>" in one pass: the
 * postings are re-encoded term by term (in dictionary order) into
 * 128-posting Stream VByte blocks, each with its BM25 score bound (which
 * needs the final average length, known only now); the block and term
 * tables follow the postings. The body CRC runs along; header, table and
 * head CRC are written last, then fsync, rename, fsync of the directory.
 *
 * Vectors: large collections (RAG_INDEX_IVF_MIN vectors and more) get
 * k-means lists (rag_ivf) trained on a sample, and their int8 copies are
 * stored list by list so a search reads each probed list contiguously.
 */
#include "rag_index.h"

#include "rag_ft.h"
#include "rag_index_fmt.h"
#include "rag_ivf.h"
#include "rag_search_page.h"
#include "rag_svb.h"
#include "rag_terms.h"
#include "rag_vec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zdict.h>
#include <zstd.h>

#define SPILL_BUF (1u << 20)
/* bodies are compressed when there are enough of them to train on and
 * more than RAG_INDEX_PLAIN_MAX of them (rag_index.h) */
#define ZDICT_MIN_DOCS 1000
#define ZDICT_SIZE (64u << 10)
#define ZDICT_SAMPLE (6u << 20)
#define ZSTD_LEVEL 3
#define READ_WIN (4u << 20)
#define WRITEBACK_CHUNK (8u << 20) /* written bytes handed to writeback */
#define IVF_ITERS 10
#define IVF_SAMPLE_PER_LIST 64
#define FT_PC_SAMPLE 100000 /* records the principal component is taken of */

typedef struct {
    int64_t chunk_id;
    uint64_t str_off;
    uint32_t lens[4];
} wdoc;

typedef struct {
    unsigned char *p; /* varints per posting: doc gap, tf, title tf,
                         heading tf */
    uint32_t len, cap;
    uint32_t last; /* last doc added */
    uint32_t df;
    uint32_t tft, tfh; /* in the record being added: title, heading (all:
                          the writer's tfc) */
    uint32_t hash;
    uint32_t text_off;
    uint32_t text_len;
} wterm;

/* A token waiting for its dictionary look-up (see occ_cb). */
#define OCC_BATCH 128
typedef struct {
    uint32_t hash;
    uint32_t len;
    char t[RAG_TERM_MAX];
} occ_tok;

/* A term dictionary slot: a term of up to 7 bytes is recognised from
 * the slot alone (its bytes and length in key), a longer one is compared
 * with its text; the terms table and the text are then touched only for
 * new terms and long ones (at a million records the three dependent
 * cache misses of a look-up were a quarter of the build). */
typedef struct {
    uint32_t hash;
    uint32_t id1; /* term id + 1, 0 = empty */
    uint64_t key; /* bytes 0-6, byte 7: length, or 0xff when longer */
} hslot;

/* append-only temporary file with its own buffer */
typedef struct {
    int fd;
    unsigned char *buf;
    size_t n;
    uint64_t size; /* bytes appended so far */
} spill;

struct rag_index_writer {
    uint32_t dims;
    uint32_t ivf_lists, ivf_probe; /* 0 = pick */
    enum rag_index_compress compress;
    int failed;
    char err[256];
    wdoc *docs;
    uint32_t *dl;
    uint8_t *hasvec;
    size_t ndocs, capdocs;
    uint64_t total_dl, nposts, body_bytes;
    spill str, vec;
    float *vunit;
    int8_t *vq;
    wterm *terms;
    size_t nterms, capterms;
    char *ttext;
    size_t ttlen, ttcap;
    hslot *hash; /* hcap (2^n) slots */
    size_t hcap;
    uint32_t *tfc; /* per term: occurrences in the record being added */
    uint32_t *cur; /* distinct term ids of the record being added */
    size_t ncur, capcur;
    char *meta;
    size_t metalen;
    int fields; /* BM25F sections written */
    rag_index_bm25f bf;
    uint32_t *flen; /* RAG_INDEX_FIELDS lengths per record */
    uint64_t ftotal[RAG_INDEX_FIELDS];
    int cur_field; /* what occ_cb is reading */
    occ_tok *occ;  /* OCC_BATCH tokens read, not yet counted */
    size_t nocc;
    rag_stemmer *st; /* Snowball, or NULL: the light English stemmer */
    const void *ft;  /* FTMODEL (borrowed), or NULL */
    size_t ftlen;
    rag_ft_model ftm;
    rag_page_map pages; /* page -> PAGEID (lib/rag_search_page.h) */
    uint32_t *pageid;   /* per record */
};

static void
fail(rag_index_writer *w, const char *fmt, ...)
{
    va_list ap;

    if (w->failed)
        return;
    w->failed = 1;
    va_start(ap, fmt);
    vsnprintf(w->err, sizeof(w->err), fmt, ap);
    va_end(ap);
}

static int
grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t nc;
    void *np;

    if (need <= *cap)
        return 0;
    nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > SIZE_MAX / 2 / elem)
            return -1;
        nc *= 2;
    }
    np = realloc(*p, nc * elem);
    if (np == NULL)
        return -1;
    *p = np;
    *cap = nc;
    return 0;
}

/* ---- spill files ------------------------------------------------------ */

static int
spill_open(spill *s, char *err, size_t errlen)
{
    const char *dir = getenv("TMPDIR");
    char path[PATH_MAX];

    if (dir == NULL || *dir == '\0')
        dir = "/tmp";
    if (snprintf(path, sizeof(path), "%s/rag_index.XXXXXX", dir) >=
        (int)sizeof(path)) {
        snprintf(err, errlen, "TMPDIR too long");
        return -1;
    }
    s->fd = mkostemp(path, O_CLOEXEC);
    if (s->fd < 0) {
        snprintf(err, errlen, "cannot create a temporary file in %s: %s", dir,
                 strerror(errno));
        return -1;
    }
    unlink(path);
    s->buf = malloc(SPILL_BUF);
    if (s->buf == NULL) {
        close(s->fd);
        s->fd = -1;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int
write_all(int fd, const void *p, size_t n)
{
    const unsigned char *c = p;

    while (n) {
        ssize_t r = write(fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

static int
spill_flush(spill *s)
{
    int rc = s->n ? write_all(s->fd, s->buf, s->n) : 0;
    s->n = 0;
    return rc;
}

static int
spill_put(spill *s, const void *p, size_t n)
{
    const unsigned char *c = p;

    s->size += n;
    while (n) {
        size_t k = SPILL_BUF - s->n;
        if (k > n)
            k = n;
        memcpy(s->buf + s->n, c, k);
        s->n += k;
        c += k;
        n -= k;
        if (s->n == SPILL_BUF && spill_flush(s) != 0)
            return -1;
    }
    return 0;
}

static void
spill_close(spill *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    free(s->buf);
    s->buf = NULL;
}

static int
pread_all(int fd, void *p, size_t n, uint64_t off)
{
    unsigned char *c = p;

    while (n) {
        ssize_t r = pread(fd, c, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* ---- adding records --------------------------------------------------- */

rag_index_writer *
rag_index_writer_new(uint32_t dims)
{
    rag_index_writer *w;

    if (dims > IXF_MAX_DIMS)
        return NULL;
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->dims = dims;
    w->str.fd = w->vec.fd = -1;
    w->fields = 1;
    rag_index_bm25f_defaults(&w->bf);
    w->hcap = 1024;
    w->hash = calloc(w->hcap, sizeof(hslot));
    w->occ = malloc(OCC_BATCH * sizeof(occ_tok));
    if (rag_page_map_init(&w->pages, 64) != 0) {
        rag_index_writer_free(w); /* copes with a half-made writer */
        return NULL;
    }
    if (dims) {
        w->vunit = malloc(dims * sizeof(float));
        w->vq = malloc(dims);
    }
    if (w->hash == NULL || w->occ == NULL ||
        (dims && (w->vunit == NULL || w->vq == NULL))) {
        rag_index_writer_free(w);
        return NULL;
    }
    return w;
}

void
rag_index_writer_free(rag_index_writer *w)
{
    if (w == NULL)
        return;
    for (size_t i = 0; i < w->nterms; i++)
        free(w->terms[i].p);
    free(w->docs);
    free(w->dl);
    free(w->flen);
    free(w->pageid);
    rag_page_map_free(&w->pages);
    rag_stemmer_free(w->st);
    free(w->hasvec);
    spill_close(&w->str);
    spill_close(&w->vec);
    free(w->vunit);
    free(w->vq);
    free(w->terms);
    free(w->ttext);
    free(w->hash);
    free(w->tfc);
    free(w->cur);
    free(w->meta);
    free(w->occ);
    free(w);
}

void
rag_index_writer_set_compression(rag_index_writer *w,
                                 enum rag_index_compress mode)
{
    w->compress = mode;
}

int
rag_index_writer_set_ft(rag_index_writer *w, const void *model, size_t len)
{
    char e[200];

    if (model == NULL) {
        w->ft = NULL;
        return 0;
    }
    if (rag_ft_model_open(&w->ftm, model, len, e, sizeof(e)) != 0) {
        snprintf(w->err, sizeof(w->err), "%s", e);
        return -1;
    }
    w->ft = model;
    w->ftlen = len;
    return 0;
}

const char *
rag_index_writer_error(const rag_index_writer *w)
{
    return w->err;
}

void
rag_index_bm25f_defaults(rag_index_bm25f *p)
{
    p->k1 = IXF_BM25F_K1;
    p->weight[RAG_FIELD_TITLE] = IXF_W_TITLE;
    p->weight[RAG_FIELD_HEADING] = IXF_W_HEADING;
    p->weight[RAG_FIELD_BODY] = IXF_W_BODY;
    p->b[RAG_FIELD_TITLE] = IXF_B_TITLE;
    p->b[RAG_FIELD_HEADING] = IXF_B_HEADING;
    p->b[RAG_FIELD_BODY] = IXF_B_BODY;
}

int
rag_index_writer_set_bm25f(rag_index_writer *w, const rag_index_bm25f *p)
{
    if (p == NULL) {
        w->fields = 0;
        return 0;
    }
    if (!(p->k1 >= 0 && p->k1 <= 100))
        return -1;
    for (int f = 0; f < RAG_INDEX_FIELDS; f++)
        if (!(p->weight[f] >= 0 && p->weight[f] <= 1000) ||
            !(p->b[f] >= 0 && p->b[f] <= 1))
            return -1;
    w->fields = 1;
    w->bf = *p;
    return 0;
}

void
rag_index_writer_set_vector_lists(rag_index_writer *w, uint32_t n_lists,
                                  uint32_t n_probe)
{
    w->ivf_lists = n_lists;
    w->ivf_probe = n_probe;
}

int
rag_index_writer_set_meta(rag_index_writer *w, const char *key,
                          const char *value)
{
    size_t kl = strlen(key), vl = strlen(value);

    if (kl == 0 || kl > 64 || strchr(value, '\n') != NULL || vl > 4096 ||
        strcmp(key, "analyzer") == 0 || strcmp(key, "language") == 0)
        return -1; /* the writer's own */
    for (size_t i = 0; i < kl; i++) {
        char c = key[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return -1;
    }
    for (size_t i = 0; w->meta && i < w->metalen;) { /* once per key */
        const char *line = w->meta + i, *nl = strchr(line, '\n');
        if ((size_t)(nl - line) > kl && memcmp(line, key, kl) == 0 &&
            line[kl] == '=')
            return -1;
        i = (size_t)(nl - w->meta) + 1;
    }
    char *m = realloc(w->meta, w->metalen + kl + vl + 3);
    if (m == NULL)
        return -1;
    w->meta = m;
    w->metalen += (size_t)sprintf(m + w->metalen, "%s=%s\n", key, value);
    return 0;
}

int
rag_index_writer_set_language(rag_index_writer *w, const char *language,
                              char *err, size_t errlen)
{
    rag_stemmer *st;

    if (w->ndocs > 0) {
        snprintf(err, errlen, "index writer: language set after records");
        return -1;
    }
    if (language == NULL) {
        rag_stemmer_free(w->st);
        w->st = NULL;
        return 0;
    }
    st = rag_stemmer_new(language, err, errlen);
    if (st == NULL)
        return -1;
    rag_stemmer_free(w->st);
    w->st = st;
    return 0;
}

static uint32_t
fnv1a(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static uint64_t
term_key(const char *t, size_t n)
{
    uint64_t k = 0;

    if (n > 7)
        return (uint64_t)0xff << 56;
    memcpy(&k, t, n);
    return k | (uint64_t)n << 56;
}

static int
hash_grow(rag_index_writer *w)
{
    size_t nc = w->hcap * 2;
    hslot *nh = calloc(nc, sizeof(hslot));

    if (nh == NULL)
        return -1;
    for (size_t t = 0; t < w->nterms; t++) {
        const wterm *e = &w->terms[t];
        size_t h = e->hash & (nc - 1);
        while (nh[h].id1)
            h = (h + 1) & (nc - 1);
        nh[h].hash = e->hash;
        nh[h].id1 = (uint32_t)(t + 1);
        nh[h].key = term_key(w->ttext + e->text_off, e->text_len);
    }
    free(w->hash);
    w->hash = nh;
    w->hcap = nc;
    return 0;
}

/* Returns the id of term t (hv: fnv1a of it), adding it; -1 on OOM.
 * Every token of every record passes here (see hslot). */
static long
term_id(rag_index_writer *w, const char *t, size_t n, uint32_t hv)
{
    uint64_t key = term_key(t, n);
    size_t h, cap;
    wterm *e;

    if ((w->nterms + 1) * 2 > w->hcap && hash_grow(w) != 0)
        return -1;
    h = hv & (w->hcap - 1);
    while (w->hash[h].id1) {
        const hslot *sl = &w->hash[h];
        if (sl->hash == hv && sl->key == key) {
            uint32_t id = sl->id1 - 1;
            if (n <= 7)
                return (long)id;
            e = &w->terms[id];
            if (e->text_len == n && memcmp(w->ttext + e->text_off, t, n) == 0)
                return (long)id;
        }
        h = (h + 1) & (w->hcap - 1);
    }
    cap = w->capterms;
    if (w->nterms >= UINT32_MAX - 1 || w->ttlen + n > UINT32_MAX ||
        grow((void **)&w->terms, &w->capterms, w->nterms + 1, sizeof(wterm)) ||
        grow((void **)&w->ttext, &w->ttcap, w->ttlen + n, 1))
        return -1;
    if (w->capterms != cap) {
        uint32_t *nt = realloc(w->tfc, w->capterms * sizeof(uint32_t));
        if (nt == NULL)
            return -1;
        w->tfc = nt;
    }
    memcpy(w->ttext + w->ttlen, t, n);
    e = &w->terms[w->nterms];
    memset(e, 0, sizeof(*e));
    e->hash = hv;
    e->text_off = (uint32_t)w->ttlen;
    e->text_len = (uint32_t)n;
    w->tfc[w->nterms] = 0;
    w->ttlen += n;
    w->hash[h].hash = hv;
    w->hash[h].id1 = (uint32_t)(w->nterms + 1);
    w->hash[h].key = key;
    return (long)w->nterms++;
}

/* Counts the batched tokens (in order) in the record being added. */
static int
occ_flush(rag_index_writer *w)
{
    for (size_t i = 0; i < w->nocc; i++) {
        const occ_tok *o = &w->occ[i];
        long id = term_id(w, o->t, o->len, o->hash);
        if (id < 0)
            return -1;
        if (w->tfc[id]++ == 0) {
            if (grow((void **)&w->cur, &w->capcur, w->ncur + 1,
                     sizeof(uint32_t)))
                return -1;
            w->cur[w->ncur++] = (uint32_t)id;
        }
        if (w->cur_field == RAG_FIELD_TITLE)
            w->terms[id].tft++;
        else if (w->cur_field == RAG_FIELD_HEADING)
            w->terms[id].tfh++;
    }
    w->nocc = 0;
    return 0;
}

/* A token of the field being read: hashed, its dictionary slot
 * prefetched, counted a batch at a time. At a million records the
 * dictionary (a few MB) is out of cache: looked up one token at a time,
 * its first slot's load was half of this callback and a tenth of the
 * build; a batch overlaps those misses. */
static int
occ_cb(void *ud, const char *t, size_t n, size_t off, size_t len)
{
    rag_index_writer *w = ud;
    occ_tok *o;

    (void)off;
    (void)len;
    if (n > RAG_TERM_MAX) /* rag_terms never makes one */
        return 1;
    o = &w->occ[w->nocc++];
    o->hash = fnv1a(t, n);
    o->len = (uint32_t)n;
    memcpy(o->t, t, n);
    if (w->hcap)
        __builtin_prefetch(&w->hash[o->hash & (w->hcap - 1)]);
    if (w->nocc == OCC_BATCH && occ_flush(w) != 0)
        return 1;
    return 0;
}

static size_t
put_varint(unsigned char *p, uint32_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

static uint32_t
get_varint(const unsigned char **pp)
{
    const unsigned char *p = *pp;
    uint32_t v = 0;
    int shift = 0;

    while (*p & 0x80) {
        v |= (uint32_t)(*p++ & 0x7f) << shift;
        shift += 7;
    }
    v |= (uint32_t)*p++ << shift;
    *pp = p;
    return v;
}

/* Appends record d's posting (gap, tf, title tf, heading tf) to term t. */
static int
post_add(wterm *t, uint32_t d, uint32_t tf)
{
    if (t->cap - t->len < 20) {
        uint32_t nc = t->cap ? t->cap * 2 : 16;
        unsigned char *np;
        if (t->cap > UINT32_MAX / 2)
            return -1;
        np = realloc(t->p, nc);
        if (np == NULL)
            return -1;
        t->p = np;
        t->cap = nc;
    }
    t->len += (uint32_t)put_varint(t->p + t->len, d - t->last);
    t->len += (uint32_t)put_varint(t->p + t->len, tf);
    t->len += (uint32_t)put_varint(t->p + t->len, t->tft);
    t->len += (uint32_t)put_varint(t->p + t->len, t->tfh);
    t->last = d;
    t->df++;
    t->tft = t->tfh = 0;
    return 0;
}

/* Reads the next posting of a term's varints at *pp. */
static void
post_next(const unsigned char **pp, uint32_t *doc, uint32_t *tf, uint32_t *tft,
          uint32_t *tfh)
{
    *doc += get_varint(pp);
    *tf = get_varint(pp);
    *tft = get_varint(pp);
    *tfh = get_varint(pp);
}

static int
add_vector(rag_index_writer *w, size_t d, const float *v)
{
    float scale = v ? rag_vec_quantize(v, w->dims, w->vunit, w->vq) : 0;

    if (scale == 0)
        memset(w->vunit, 0, w->dims * sizeof(float));
    w->hasvec[d] = scale > 0;
    return spill_put(&w->vec, w->vunit, w->dims * sizeof(float));
}

int
rag_index_writer_add(rag_index_writer *w, const rag_index_input *in)
{
    return rag_index_writer_add_expanded(w, in, NULL);
}

int
rag_index_writer_add_expanded(rag_index_writer *w, const rag_index_input *in,
                              const char *expand)
{
    const char *f[4];
    size_t lens[4], d = w->ndocs;
    wdoc *doc;

    if (w->failed)
        return -1;
    if (in == NULL || d >= UINT32_MAX - 1) {
        fail(w, "index writer: too many records");
        return -1;
    }
    f[0] = in->url ? in->url : "";
    f[1] = in->title ? in->title : "";
    f[2] = in->heading_path ? in->heading_path : "";
    f[3] = in->body ? in->body : "";
    for (int i = 0; i < 4; i++) {
        lens[i] = strlen(f[i]);
        if (lens[i] > IXF_MAX_FIELD) {
            /* not sticky: the caller may skip this record */
            return -1;
        }
    }
    if (w->str.fd < 0 &&
        (spill_open(&w->str, w->err, sizeof(w->err)) != 0 ||
         (w->dims && spill_open(&w->vec, w->err, sizeof(w->err)) != 0))) {
        w->failed = 1;
        return -1;
    }
    if (d >= w->capdocs) {
        size_t cap = w->capdocs, c2 = cap;
        size_t c3 = cap, c4 = cap;
        if (grow((void **)&w->docs, &cap, d + 1, sizeof(wdoc)) ||
            grow((void **)&w->dl, &c2, d + 1, sizeof(uint32_t)) ||
            grow((void **)&w->pageid, &c4, d + 1, sizeof(uint32_t)) ||
            grow((void **)&w->flen, &c3, d + 1,
                 RAG_INDEX_FIELDS * sizeof(uint32_t)))
            goto oom;
        if (w->dims) {
            uint8_t *hv = realloc(w->hasvec, cap);
            if (hv == NULL)
                goto oom;
            w->hasvec = hv;
        }
        w->capdocs = cap;
    }
    {
        long pg =
            rag_page_map_str(&w->pages, f[0], rag_page_len(f[0], lens[0]));
        if (pg < 0)
            goto oom;
        w->pageid[d] = (uint32_t)pg;
    }
    doc = &w->docs[d];
    doc->chunk_id = in->chunk_id;
    doc->str_off = w->str.size;
    for (int i = 0; i < 4; i++) {
        if (spill_put(&w->str, f[i], lens[i]) != 0)
            goto ioerr;
        doc->lens[i] = (uint32_t)lens[i];
    }
    w->body_bytes += lens[3];
    if (w->dims && add_vector(w, d, in->embedding) != 0)
        goto ioerr;

    /* BM25 terms: title, heading path and body. For plain BM25 (the
     * POSTINGS tfs and DOCLEN) the heading path (which ends with the
     * section's own heading) counts twice, a cheap field boost; BM25F
     * counts each field once, in its own field */
    w->ncur = 0;
    uint64_t before = 0;
    long got;
    for (int i = 1; i < 4; i++) {
        w->cur_field = i - 1;
        w->nocc = 0;
        got = rag_terms_each_stem(w->st, f[i], lens[i], occ_cb, w);
        if (got < 0 || occ_flush(w) != 0)
            goto oom;
        if (i == 2 && expand && *expand) {
            /* the index's terms read as more of the heading field */
            long more =
                rag_terms_each_stem(w->st, expand, strlen(expand), occ_cb, w);
            if (more < 0 || occ_flush(w) != 0)
                goto oom;
            got += more;
        }
        before += (uint64_t)got;
        w->flen[d * RAG_INDEX_FIELDS + (size_t)(i - 1)] = (uint32_t)got;
        if (i == 2) {
            /* the heading's second reading: its terms' heading counts
             * again (the terms so far are the title's and heading's) */
            for (size_t j = 0; j < w->ncur; j++)
                w->tfc[w->cur[j]] += w->terms[w->cur[j]].tfh;
            before += (uint64_t)got;
        }
    }
    if (before > UINT32_MAX)
        goto oom;
    for (int i = 0; i < RAG_INDEX_FIELDS; i++)
        w->ftotal[i] += w->flen[d * RAG_INDEX_FIELDS + (size_t)i];
    w->dl[d] = (uint32_t)before;
    w->total_dl += before;
    for (size_t i = 0; i < w->ncur; i++) {
        uint32_t id = w->cur[i];
        if (post_add(&w->terms[id], (uint32_t)d, w->tfc[id]) != 0)
            goto oom;
        w->tfc[id] = 0;
    }
    w->nposts += w->ncur;
    w->ndocs++;
    return 0;
oom:
    fail(w, "index writer ran out of memory");
    return -1;
ioerr:
    fail(w, "index writer: temporary file: %s", strerror(errno));
    return -1;
}

/* ---- writing ---------------------------------------------------------- */

/* Buffered output of the file body with the running CRC. */
typedef struct {
    int fd;
    unsigned char buf[1 << 16];
    size_t n;
    uint64_t pos;
    uint64_t wpos, wb; /* file offset written up to, handed to writeback */
    uint32_t crc;
    int err;
} wout;

/* Writes the buffer out. Every WRITEBACK_CHUNK bytes the kernel is asked
 * to start writing them to disk (sync_file_range, no wait): the final
 * fsync then waits for the tail only, not for the whole file (at a
 * million records, 0.8 GB: the writer's wall time was 1.8 s above its
 * CPU time, most of it that fsync). Advisory: errors show at fsync. */
static void
wflush(wout *o)
{
    if (!o->err && o->n && write_all(o->fd, o->buf, o->n) != 0)
        o->err = errno ? errno : EIO;
    o->wpos += o->n;
    o->n = 0;
#ifdef SYNC_FILE_RANGE_WRITE
    if (!o->err && o->wpos - o->wb >= WRITEBACK_CHUNK) {
        (void)sync_file_range(o->fd, (off_t)o->wb, (off_t)(o->wpos - o->wb),
                              SYNC_FILE_RANGE_WRITE);
        o->wb = o->wpos;
    }
#endif
}

static void
wput(wout *o, const void *p, size_t n)
{
    const unsigned char *s = p;

    o->crc = rag_crc32c(o->crc, s, n);
    o->pos += n;
    while (n) {
        size_t c = sizeof(o->buf) - o->n;
        if (c > n)
            c = n;
        memcpy(o->buf + o->n, s, c);
        o->n += c;
        s += c;
        n -= c;
        if (o->n == sizeof(o->buf))
            wflush(o);
    }
}

static void
wpad(wout *o)
{
    static const unsigned char z[IXF_ALIGN];
    wput(o, z, ixf_align(o->pos) - o->pos);
}

typedef struct {
    uint64_t off, len;
    int id;
} wsect;

static void
sect_begin(wout *o, wsect *tab, size_t *n, int id)
{
    wpad(o);
    tab[*n].off = o->pos;
    tab[*n].id = id;
}

static void
sect_end(wout *o, wsect *tab, size_t *n)
{
    tab[*n].len = o->pos - tab[*n].off;
    (*n)++;
}

/* copy len bytes of a spill file into the output */
static int
copy_spill(wout *o, spill *s, uint64_t len, unsigned char *buf, size_t bufsz)
{
    uint64_t off = 0;

    while (off < len) {
        size_t k = len - off < bufsz ? (size_t)(len - off) : bufsz;
        if (pread_all(s->fd, buf, k, off) != 0)
            return -1;
        wput(o, buf, k);
        off += k;
    }
    return 0;
}

static int
cmp_term_ids(const void *a, const void *b, void *ctx)
{
    const rag_index_writer *w = ctx;
    const wterm *x = &w->terms[*(const uint32_t *)a];
    const wterm *y = &w->terms[*(const uint32_t *)b];
    return ixf_term_cmp(w->ttext + x->text_off, x->text_len,
                        w->ttext + y->text_off, y->text_len);
}

static float
round_up_float(double x)
{
    float f = (float)x;
    if ((double)f < x)
        f = nextafterf(f, INFINITY);
    return f;
}

/* The postings of every term, in dictionary order, as blocks; fills the
 * block table (blk) and the term table (terms). */
static int
write_postings(rag_index_writer *w, wout *o, const uint32_t *order,
               double avgdl, unsigned char *blk, unsigned char *terms)
{
    static const unsigned char zpad[RAG_SVB_PAD];
    uint32_t docs[IXF_BLOCK], tfs[IXF_BLOCK];
    unsigned char enc[2 * RAG_SVB_MAX_BYTES(IXF_BLOCK)];
    uint64_t data = 0, nblk = 0;

    for (size_t i = 0; i < w->nterms; i++) {
        wterm *t = &w->terms[order[i]];
        const unsigned char *p = t->p;
        uint32_t doc = 0, left = t->df, prev = 0;
        uint64_t rel = 0, blk0 = nblk;
        float tmax = 0;

        while (left) {
            uint32_t n = left < IXF_BLOCK ? left : IXF_BLOCK;
            double mx = 0;
            size_t db, tb;
            unsigned char *e = blk + nblk * IXF_BLK_SZ;
            for (uint32_t k = 0; k < n; k++) {
                uint32_t tft, tfh;
                post_next(&p, &doc, &tfs[k], &tft, &tfh);
                docs[k] = doc;
                double tf = tfs[k];
                double norm = IXF_K1 * (1 - IXF_B + IXF_B * w->dl[doc] / avgdl);
                double tp = tf * (IXF_K1 + 1) / (tf + norm);
                if (tp > mx)
                    mx = tp;
                tfs[k]--;
            }
            db = rag_svb_encode_delta(docs, n, prev, enc);
            tb = rag_svb_encode_0124(tfs, n, enc + db);
            if (rel > UINT32_MAX)
                return -1;
            ixf_st32(e, docs[n - 1]);
            ixf_st32(e + 4, (uint32_t)rel);
            ixf_stf(e + 8, round_up_float(mx));
            ixf_st16(e + 12, (uint16_t)db);
            ixf_st16(e + 14, (uint16_t)tb);
            if (round_up_float(mx) > tmax)
                tmax = round_up_float(mx);
            wput(o, enc, db + tb);
            rel += db + tb;
            prev = docs[n - 1];
            left -= n;
            nblk++;
        }
        unsigned char *te = terms + i * IXF_TERM_SZ;
        ixf_st64(te, data);
        ixf_st64(te + 8, blk0);
        ixf_st32(te + 16, t->df);
        ixf_st32(te + 20, t->text_off);
        ixf_st32(te + 24, t->text_len);
        ixf_stf(te + 28, tmax);
        data += rel;
    }
    wput(o, zpad, sizeof(zpad));
    return 0;
}

/* BM25F x of one posting: the fields' weighted normalised frequencies,
 * added body, heading, title (the search's order); a field the term is
 * not in adds nothing (its normalisation may be zero). */
static double
bm25f_x(const rag_index_bm25f *p, const double *avg, const uint32_t *len,
        uint32_t tf, uint32_t tft, uint32_t tfh)
{
    uint32_t tfb = tf - tft - 2 * tfh;
    double x = 0;

    if (tfb)
        x += tfb * rag_bm25f_wnorm(p->weight[RAG_FIELD_BODY],
                                   p->b[RAG_FIELD_BODY], len[RAG_FIELD_BODY],
                                   avg[RAG_FIELD_BODY]);
    if (tfh)
        x += tfh * rag_bm25f_wnorm(
                       p->weight[RAG_FIELD_HEADING], p->b[RAG_FIELD_HEADING],
                       len[RAG_FIELD_HEADING], avg[RAG_FIELD_HEADING]);
    if (tft)
        x += tft * rag_bm25f_wnorm(p->weight[RAG_FIELD_TITLE],
                                   p->b[RAG_FIELD_TITLE], len[RAG_FIELD_TITLE],
                                   avg[RAG_FIELD_TITLE]);
    return x;
}

/* FLDTF: every term's blocks again, in dictionary order: the title and
 * heading frequencies as two 0124 streams per block, and each block's
 * FBLOCKS entry (offset, stream sizes, BM25F bound) into fblk. */
static int
write_fldtf(rag_index_writer *w, wout *o, const uint32_t *order,
            unsigned char *fblk)
{
    static const unsigned char zpad[RAG_SVB_PAD];
    uint32_t tft[IXF_BLOCK], tfh[IXF_BLOCK];
    unsigned char enc[2 * RAG_SVB_MAX_BYTES(IXF_BLOCK)];
    const rag_index_bm25f *bf = &w->bf;
    double avg[RAG_INDEX_FIELDS], k1 = bf->k1;
    uint64_t off = 0, nblk = 0;

    for (int f = 0; f < RAG_INDEX_FIELDS; f++) {
        avg[f] = w->ndocs ? (double)w->ftotal[f] / (double)w->ndocs : 0;
        if (avg[f] <= 0)
            avg[f] = 1; /* as the reader does */
    }
    for (size_t i = 0; i < w->nterms; i++) {
        const wterm *t = &w->terms[order[i]];
        const unsigned char *p = t->p;
        uint32_t doc = 0, left = t->df;

        while (left) {
            uint32_t n = left < IXF_BLOCK ? left : IXF_BLOCK, tf;
            unsigned char *e = fblk + nblk * IXF_FBLK_SZ;
            double mx = 0;
            size_t tb, hb;
            for (uint32_t k = 0; k < n; k++) {
                post_next(&p, &doc, &tf, &tft[k], &tfh[k]);
                double x =
                    bm25f_x(bf, avg, w->flen + (size_t)doc * RAG_INDEX_FIELDS,
                            tf, tft[k], tfh[k]);
                double sat = x * (k1 + 1) / (x + k1);
                if (sat > mx)
                    mx = sat;
            }
            tb = rag_svb_encode_0124(tft, n, enc);
            hb = rag_svb_encode_0124(tfh, n, enc + tb);
            ixf_st64(e, off);
            ixf_st16(e + 8, (uint16_t)tb);
            ixf_st16(e + 10, (uint16_t)hb);
            ixf_stf(e + 12, round_up_float(mx));
            wput(o, enc, tb + hb);
            off += tb + hb;
            left -= n;
            nblk++;
        }
    }
    wput(o, zpad, sizeof(zpad));
    return 0;
}

/* FIELDS, FLDLEN, FLDTF, FBLOCKS */
static int
write_fields(rag_index_writer *w, wout *o, wsect *tab, size_t *nt,
             const uint32_t *order, uint64_t nblocks)
{
    static const char *const names[RAG_INDEX_FIELDS] = {"title", "heading",
                                                        "body"};
    unsigned char e[IXF_FIELDS_SZ], *fblk;

    memset(e, 0, sizeof(e));
    ixf_st32(e, RAG_INDEX_FIELDS);
    ixf_std(e + 8, w->bf.k1);
    for (int f = 0; f < RAG_INDEX_FIELDS; f++) {
        unsigned char *q = e + 16 + f * 32;
        memcpy(q, names[f], strlen(names[f]));
        ixf_std(q + 8, w->bf.weight[f]);
        ixf_std(q + 16, w->bf.b[f]);
        ixf_st64(q + 24, w->ftotal[f]);
    }
    sect_begin(o, tab, nt, IXS_FIELDS);
    wput(o, e, IXF_FIELDS_SZ);
    sect_end(o, tab, nt);

    sect_begin(o, tab, nt, IXS_FLDLEN);
    wput(o, w->flen, w->ndocs * RAG_INDEX_FIELDS * sizeof(uint32_t));
    sect_end(o, tab, nt);

    fblk = malloc(nblocks * IXF_FBLK_SZ + 1);
    if (fblk == NULL)
        return -1;
    sect_begin(o, tab, nt, IXS_FLDTF);
    write_fldtf(w, o, order, fblk);
    sect_end(o, tab, nt);
    sect_begin(o, tab, nt, IXS_FBLOCKS);
    wput(o, fblk, nblocks * IXF_FBLK_SZ);
    sect_end(o, tab, nt);
    free(fblk);
    return 0;
}

typedef struct {
    uint32_t nlists, nprobe, nvec;
    uint32_t *slot; /* slot -> record */
    uint32_t *pos;  /* record -> slot */
    uint32_t *lists;
    float *cent;
} wvec;

static void
wvec_free(wvec *v)
{
    free(v->slot);
    free(v->pos);
    free(v->lists);
    free(v->cent);
}

/* Partitions the vectors: picks n_lists, trains the centroids on a
 * sample, assigns every vector, lays the slots out list by list. */
static int
build_lists(rag_index_writer *w, wvec *v, char *err, size_t errlen)
{
    uint32_t dims = w->dims, n = (uint32_t)w->ndocs, nl;
    size_t vbytes = (size_t)dims * sizeof(float);
    uint32_t *list_of = NULL, *cnt = NULL;
    float *sample = NULL, *buf = NULL, *scratch = NULL;
    size_t ns = 0, chunk = 4096;
    uint64_t seed = 0x5eed ^ ((uint64_t)n << 20) ^ dims;
    int rc = -1;

    v->slot = malloc(((size_t)n + 1) * sizeof(uint32_t));
    v->pos = malloc(((size_t)n + 1) * sizeof(uint32_t));
    if (!v->slot || !v->pos)
        goto oom;
    v->nvec = 0;
    for (uint32_t i = 0; i < n; i++)
        v->nvec += w->hasvec[i];
    nl = w->ivf_lists;
    if (nl == 0)
        nl = v->nvec >= RAG_INDEX_IVF_MIN ? rag_ivf_default_lists(v->nvec) : 1;
    if (nl > v->nvec / 4)
        nl = v->nvec / 4; /* lists of a few vectors are no lists */
    if (nl < 2) {
        /* exact scan: vectors first, in record order */
        uint32_t s = 0;
        for (uint32_t i = 0; i < n; i++)
            if (w->hasvec[i])
                v->slot[s++] = i;
        for (uint32_t i = 0; i < n; i++)
            if (!w->hasvec[i])
                v->slot[s++] = i;
        for (uint32_t s2 = 0; s2 < n; s2++)
            v->pos[v->slot[s2]] = s2;
        v->nlists = v->nprobe = 0;
        return 0;
    }
    v->nlists = nl;
    v->nprobe =
        w->ivf_probe ? w->ivf_probe : rag_ivf_default_probe(nl, v->nvec);
    if (v->nprobe > nl)
        v->nprobe = nl;

    /* an evenly spaced sample of the vectors */
    ns = (size_t)nl * IVF_SAMPLE_PER_LIST;
    if (ns > v->nvec)
        ns = v->nvec;
    sample = malloc(ns * vbytes);
    v->cent = malloc((size_t)nl * vbytes);
    v->lists = calloc((size_t)nl + 1, sizeof(uint32_t));
    list_of = malloc((size_t)n * sizeof(uint32_t));
    cnt = calloc((size_t)nl + 1, sizeof(uint32_t));
    buf = malloc(chunk * vbytes);
    scratch = malloc((size_t)nl * sizeof(float));
    if (!sample || !v->cent || !v->lists || !list_of || !cnt || !buf ||
        !scratch)
        goto oom;
    {
        size_t taken = 0, seen = 0;
        for (uint32_t i = 0; i < n && taken < ns; i++) {
            if (!w->hasvec[i])
                continue;
            /* vector number seen is sampled when it crosses a step */
            if ((seen * ns) / v->nvec != ((seen + 1) * ns) / v->nvec ||
                v->nvec == ns) {
                if (pread_all(w->vec.fd, sample + taken * dims, vbytes,
                              (uint64_t)i * vbytes) != 0)
                    goto ioerr;
                taken++;
            }
            seen++;
        }
        ns = taken;
    }
    if (ns < nl ||
        rag_ivf_train(sample, ns, dims, nl, IVF_ITERS, seed, v->cent) != 0)
        goto oom;

    /* assign every vector, reading the spill in chunks */
    for (uint32_t i0 = 0; i0 < n; i0 += (uint32_t)chunk) {
        uint32_t m = n - i0 < chunk ? n - i0 : (uint32_t)chunk;
        if (pread_all(w->vec.fd, buf, (size_t)m * vbytes,
                      (uint64_t)i0 * vbytes) != 0)
            goto ioerr;
        for (uint32_t j = 0; j < m; j++) {
            uint32_t r = i0 + j;
            if (!w->hasvec[r]) {
                list_of[r] = nl;
                continue;
            }
            list_of[r] = rag_ivf_assign(v->cent, nl, dims,
                                        buf + (size_t)j * dims, scratch);
        }
    }
    for (uint32_t i = 0; i < n; i++)
        cnt[list_of[i]]++;
    for (uint32_t l = 0; l < nl; l++)
        v->lists[l + 1] = v->lists[l] + cnt[l];
    {
        uint32_t *at = cnt; /* reused as fill cursors */
        for (uint32_t l = 0; l <= nl; l++)
            at[l] = l < nl ? v->lists[l] : v->nvec;
        for (uint32_t i = 0; i < n; i++)
            v->slot[at[list_of[i]]++] = i;
    }
    for (uint32_t s = 0; s < n; s++)
        v->pos[v->slot[s]] = s;
    rc = 0;
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
    goto out;
ioerr:
    snprintf(err, errlen, "index writer: temporary file: %s", strerror(errno));
out:
    free(list_of);
    free(cnt);
    free(sample);
    free(buf);
    free(scratch);
    return rc;
}

/* VQ4 and VQ4SCALE: the vectors' 4-bit codes by slot, from the unit
 * vectors in the spill, then their scales */
static int
write_q4(rag_index_writer *w, wout *o, wsect *tab, size_t *nt, const wvec *v)
{
    uint32_t dims = w->dims;
    size_t vbytes = (size_t)dims * sizeof(float);
    float *scales = malloc(((size_t)v->nvec + 1) * sizeof(float));
    uint8_t *q4 = malloc(RAG_VEC_Q4_BYTES(dims));
    unsigned char e[4];
    int rc = -1;

    if (scales == NULL || q4 == NULL)
        goto out;
    sect_begin(o, tab, nt, IXS_VQ4);
    for (uint32_t s = 0; s < v->nvec; s++) {
        if (pread_all(w->vec.fd, w->vunit, vbytes,
                      (uint64_t)v->slot[s] * vbytes) != 0)
            goto out;
        scales[s] = rag_vec_quantize_q4(w->vunit, dims, q4);
        wput(o, q4, RAG_VEC_Q4_BYTES(dims));
    }
    sect_end(o, tab, nt);
    sect_begin(o, tab, nt, IXS_VQ4SCALE);
    for (uint32_t s = 0; s < v->nvec; s++) {
        ixf_stf(e, scales[s]);
        wput(o, e, 4);
    }
    sect_end(o, tab, nt);
    rc = 0;
out:
    free(scales);
    free(q4);
    return rc;
}

/* VINFO .. VCENT, and VQ4 with lists */
static int
write_vectors(rag_index_writer *w, wout *o, wsect *tab, size_t *nt,
              const wvec *v, unsigned char *buf, size_t bufsz)
{
    uint32_t dims = w->dims, n = (uint32_t)w->ndocs;
    size_t vbytes = (size_t)dims * sizeof(float);
    unsigned char e[16];

    sect_begin(o, tab, nt, IXS_VINFO);
    ixf_st32(e, dims);
    ixf_st32(e + 4, v->nlists);
    ixf_st32(e + 8, v->nprobe);
    ixf_st32(e + 12, v->nvec);
    wput(o, e, 16);
    sect_end(o, tab, nt);

    /* int8 vectors by slot, quantised again from the unit vectors in the
     * spill (the same computation as at add time), then their scales */
    float *scales = calloc((size_t)n + 1, sizeof(float));
    if (scales == NULL)
        return -1;
    sect_begin(o, tab, nt, IXS_VI8);
    for (uint32_t s = 0; s < n; s++) {
        if (s < v->nvec) {
            if (pread_all(w->vec.fd, w->vunit, vbytes,
                          (uint64_t)v->slot[s] * vbytes) != 0) {
                free(scales);
                return -1;
            }
            scales[s] = rag_vec_quantize_unit(w->vunit, dims, w->vq);
        } else {
            memset(w->vq, 0, dims);
        }
        wput(o, w->vq, dims);
    }
    sect_end(o, tab, nt);
    sect_begin(o, tab, nt, IXS_VSCALE);
    for (uint32_t s = 0; s < n; s++) {
        ixf_stf(e, scales[s]);
        wput(o, e, 4);
    }
    sect_end(o, tab, nt);
    free(scales);
    if (v->nlists && write_q4(w, o, tab, nt, v) != 0)
        return -1;
    sect_begin(o, tab, nt, IXS_VF32);
    if (copy_spill(o, &w->vec, (uint64_t)n * vbytes, buf, bufsz) != 0)
        return -1;
    sect_end(o, tab, nt);
    sect_begin(o, tab, nt, IXS_VSLOT);
    wput(o, v->slot, (size_t)n * 4);
    sect_end(o, tab, nt);
    sect_begin(o, tab, nt, IXS_VPOS);
    wput(o, v->pos, (size_t)n * 4);
    sect_end(o, tab, nt);
    if (v->nlists) {
        sect_begin(o, tab, nt, IXS_VLISTS);
        wput(o, v->lists, ((size_t)v->nlists + 1) * 4);
        sect_end(o, tab, nt);
        sect_begin(o, tab, nt, IXS_VCENT);
        wput(o, v->cent, (size_t)v->nlists * vbytes);
        sect_end(o, tab, nt);
    }
    return 0;
}

/* Sequential reads of the string spill through a window. */
typedef struct {
    int fd;
    unsigned char *win, *big;
    uint64_t start;
    size_t len;
} sreader;

static const unsigned char *
sread(sreader *r, uint64_t off, size_t len)
{
    if (off >= r->start && off + len <= r->start + r->len)
        return r->win + (off - r->start);
    if (len > READ_WIN) {
        free(r->big);
        r->big = malloc(len);
        if (r->big == NULL || pread_all(r->fd, r->big, len, off) != 0)
            return NULL;
        return r->big;
    }
    ssize_t got = 0;
    size_t want = READ_WIN;
    r->start = off;
    r->len = 0;
    while (r->len < len) {
        got =
            pread(r->fd, r->win + r->len, want - r->len, (off_t)(off + r->len));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return NULL;
        r->len += (size_t)got;
    }
    return r->win;
}

/* A zstd dictionary trained on bodies spread over the collection, or
 * NULL (small collection, or training found nothing to share). */
static void *
train_dict(rag_index_writer *w, size_t *dict_len)
{
    size_t cap = w->body_bytes < ZDICT_SAMPLE ? w->body_bytes : ZDICT_SAMPLE;
    size_t used = 0, ns = 0, step, got;
    unsigned char *sample = NULL;
    size_t *sizes = NULL;
    void *dict = NULL;

    if (w->compress == RAG_INDEX_COMPRESS_NEVER || w->body_bytes == 0 ||
        (w->compress == RAG_INDEX_COMPRESS_AUTO &&
         (w->ndocs < ZDICT_MIN_DOCS || w->body_bytes < RAG_INDEX_PLAIN_MAX)))
        return NULL;
    sample = malloc(cap);
    sizes = malloc(w->ndocs * sizeof(size_t));
    dict = malloc(ZDICT_SIZE);
    if (!sample || !sizes || !dict)
        goto fail;
    /* every step-th record, step chosen to fill the sample once */
    step = (size_t)(w->body_bytes / cap);
    if (step < 1)
        step = 1;
    for (size_t i = 0; i < w->ndocs && used < cap; i += step) {
        const wdoc *d = &w->docs[i];
        size_t bl = d->lens[3];
        if (bl == 0 || bl > cap - used)
            continue;
        if (pread_all(w->str.fd, sample + used, bl,
                      d->str_off + d->lens[0] + d->lens[1] + d->lens[2]) != 0)
            goto fail;
        sizes[ns++] = bl;
        used += bl;
    }
    got = ZDICT_trainFromBuffer(dict, ZDICT_SIZE, sample, sizes, (unsigned)ns);
    if (ZDICT_isError(got)) {
        if (w->compress != RAG_INDEX_COMPRESS_ALWAYS || used == 0)
            goto fail;
        /* too little to train on: the sample as a raw-content dictionary */
        got = used < ZDICT_SIZE ? used : ZDICT_SIZE;
        memcpy(dict, sample, got);
    }
    free(sample);
    free(sizes);
    *dict_len = got;
    return dict;
fail:
    free(sample);
    free(sizes);
    free(dict);
    return NULL;
}

/* STRINGS: each record's url, title and heading as added, and its body
 * compressed with the dictionary when that makes it smaller. Fills the
 * records' new offsets, stored body sizes and flags. */
static int
write_strings(rag_index_writer *w, wout *o, const void *dict, size_t dict_len,
              uint64_t *off, uint32_t *stored, uint32_t *flags)
{
    sreader r = {w->str.fd, malloc(READ_WIN), NULL, 0, 0};
    ZSTD_CCtx *cctx = dict ? ZSTD_createCCtx() : NULL;
    ZSTD_CDict *cdict =
        dict ? ZSTD_createCDict(dict, dict_len, ZSTD_LEVEL) : NULL;
    unsigned char *zbuf = NULL;
    size_t zcap = 0;
    uint64_t base = o->pos;
    int rc = -1;

    if (r.win == NULL || (dict && (!cctx || !cdict)))
        goto out;
    for (size_t i = 0; i < w->ndocs; i++) {
        const wdoc *d = &w->docs[i];
        size_t head = (size_t)d->lens[0] + d->lens[1] + d->lens[2];
        size_t bl = d->lens[3];
        const unsigned char *p = sread(&r, d->str_off, head + bl);
        if (p == NULL)
            goto out;
        off[i] = o->pos - base;
        wput(o, p, head);
        stored[i] = (uint32_t)bl;
        flags[i] = 0;
        if (cdict && bl > 0) {
            size_t bound = ZSTD_compressBound(bl), z;
            if (bound > zcap) {
                unsigned char *nz = realloc(zbuf, bound);
                if (nz == NULL)
                    goto out;
                zbuf = nz;
                zcap = bound;
            }
            z = ZSTD_compress_usingCDict(cctx, zbuf, zcap, p + head, bl, cdict);
            if (!ZSTD_isError(z) && z < bl) {
                wput(o, zbuf, z);
                stored[i] = (uint32_t)z;
                flags[i] = IXF_DOC_ZSTD;
                continue;
            }
        }
        wput(o, p + head, bl);
    }
    rc = 0;
out:
    free(r.win);
    free(r.big);
    free(zbuf);
    ZSTD_freeCCtx(cctx);
    ZSTD_freeCDict(cdict);
    return rc;
}

/* Record i's SIF vector (title, heading path, body) into v; the number
 * of its tokens that had a vector, or -1 on a read error. */
static long
ft_record(rag_index_writer *w, sreader *r, size_t i, float *v)
{
    const wdoc *d = &w->docs[i];
    const char *parts[3];
    size_t lens[3] = {d->lens[1], d->lens[2], d->lens[3]};
    const unsigned char *p =
        sread(r, d->str_off, (size_t)d->lens[0] + lens[0] + lens[1] + lens[2]);

    if (p == NULL)
        return -1;
    parts[0] = (const char *)p + d->lens[0];
    parts[1] = parts[0] + lens[0];
    parts[2] = parts[1] + lens[1];
    return (long)rag_ft_sif(&w->ftm, parts, lens, 3, v);
}

/* FTMODEL and FTDOCS: every record embedded as a query is (rag_ft), the
 * first principal component of the records' vectors (of up to
 * FT_PC_SAMPLE of them, spread over the collection) removed from each.
 * Two passes over the record strings, so memory stays dim x dim. */
static int
write_ft(rag_index_writer *w, wout *o, wsect *tab, size_t *nt)
{
    uint32_t dim = w->ftm.dim;
    size_t step = w->ndocs > FT_PC_SAMPLE ? w->ndocs / FT_PC_SAMPLE : 1;
    sreader r = {w->str.fd, malloc(READ_WIN), NULL, 0, 0};
    double *cov = calloc((size_t)dim * dim, sizeof(double));
    float *v = malloc(dim * sizeof(float)), *pc = calloc(dim, sizeof(float));
    unsigned char e[IXF_FTDOCS_HDR];
    int rc = -1;

    if (r.win == NULL || cov == NULL || v == NULL || pc == NULL)
        goto done;
    for (size_t i = 0; i < w->ndocs; i += step) {
        if (ft_record(w, &r, i, v) < 0)
            goto done;
        for (uint32_t a = 0; a < dim; a++)
            for (uint32_t b = a; b < dim; b++)
                cov[(size_t)a * dim + b] += (double)v[a] * v[b];
    }
    for (uint32_t a = 0; a < dim; a++)
        for (uint32_t b = 0; b < a; b++)
            cov[(size_t)a * dim + b] = cov[(size_t)b * dim + a];
    if (rag_ft_first_pc(cov, dim, pc) != 0)
        memset(pc, 0, dim * sizeof(float));

    sect_begin(o, tab, nt, IXS_FTMODEL);
    wput(o, w->ft, w->ftlen);
    sect_end(o, tab, nt);

    sect_begin(o, tab, nt, IXS_FTDOCS);
    memset(e, 0, sizeof(e));
    ixf_st32(e, dim);
    ixf_st32(e + 4, (uint32_t)w->ndocs);
    wput(o, e, sizeof(e));
    wput(o, pc, dim * sizeof(float));
    for (size_t i = 0; i < w->ndocs; i++) {
        long n = ft_record(w, &r, i, v);
        if (n < 0)
            goto done;
        if (n == 0 || rag_ft_finish(pc, v, dim) != 0)
            memset(v, 0, dim * sizeof(float));
        wput(o, v, dim * sizeof(float));
    }
    sect_end(o, tab, nt);
    rc = 0;
done:
    free(r.win);
    free(r.big);
    free(cov);
    free(v);
    free(pc);
    return rc;
}

static int
fsync_dir(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd, rc;

    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

int
rag_index_writer_write(rag_index_writer *w, const char *path,
                       uint64_t generation, char *err, size_t errlen)
{
    uint32_t *order = NULL;
    unsigned char *blk = NULL, *terms = NULL, *buf = NULL;
    unsigned char hdr[IXF_HDR + IXF_MAX_SECT * IXF_SECT_SZ];
    wsect tab[IXS_COUNT];
    size_t nt = 0, nsect, bufsz = 1 << 20;
    uint64_t nblocks = 0, table_end;
    char tmp[PATH_MAX];
    wout *o = NULL;
    wvec vec = {0};
    void *dict = NULL;
    size_t dict_len = 0;
    uint64_t *soff = NULL;
    uint32_t *stored = NULL, *sflags = NULL;
    double avgdl;
    int rc = -1, fd = -1;

    if (w->failed) {
        snprintf(err, errlen, "%s", w->err);
        return -1;
    }
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
        (int)sizeof(tmp)) {
        snprintf(err, errlen, "index path too long");
        return -1;
    }
    if ((w->str.fd >= 0 && spill_flush(&w->str) != 0) ||
        (w->vec.fd >= 0 && spill_flush(&w->vec) != 0)) {
        snprintf(err, errlen, "index writer: temporary file: %s",
                 strerror(errno));
        return -1;
    }
    if (w->dims && w->ndocs && build_lists(w, &vec, err, errlen) != 0)
        goto done;

    order = malloc((w->nterms + 1) * sizeof(uint32_t));
    for (size_t i = 0; i < w->nterms; i++)
        nblocks += (w->terms[i].df + IXF_BLOCK - 1) / IXF_BLOCK;
    blk = malloc(nblocks * IXF_BLK_SZ + 1);
    terms = malloc(w->nterms * IXF_TERM_SZ + 1);
    buf = malloc(bufsz);
    o = malloc(sizeof(*o));
    if (!order || !blk || !terms || !buf || !o) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < w->nterms; i++)
        order[i] = (uint32_t)i;
    qsort_r(order, w->nterms, sizeof(uint32_t), cmp_term_ids, w);
    avgdl = w->ndocs ? (double)w->total_dl / (double)w->ndocs : 0;
    if (avgdl <= 0)
        avgdl = 1; /* as the search does */

    if (w->str.fd >= 0)
        dict = train_dict(w, &dict_len);
    soff = malloc((w->ndocs + 1) * sizeof(uint64_t));
    stored = malloc((w->ndocs + 1) * sizeof(uint32_t));
    sflags = malloc((w->ndocs + 1) * sizeof(uint32_t));
    if (!soff || !stored || !sflags) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    nsect = 10 + (dict != NULL) + (w->fields ? 4 : 0) +
            (w->dims && w->ndocs ? 6 + (vec.nlists ? 4 : 0) : 0) +
            (w->ft ? 2 : 0);
    table_end = IXF_HDR + nsect * IXF_SECT_SZ;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "open %s: %s", tmp, strerror(errno));
        goto done;
    }
    memset(o, 0, sizeof(*o));
    o->fd = fd;
    /* the body starts after the table; header and table come last */
    o->pos = o->wpos = o->wb = table_end;
    if (lseek(fd, (off_t)table_end, SEEK_SET) < 0) {
        snprintf(err, errlen, "seek %s: %s", tmp, strerror(errno));
        goto done;
    }

    sect_begin(o, tab, &nt, IXS_META);
    {
        char an[128];
        int al =
            w->st ? snprintf(an, sizeof(an), "analyzer=%s\nlanguage=%s\n",
                             IXF_ANALYZER_SNOWBALL, rag_stemmer_language(w->st))
                  : snprintf(an, sizeof(an), "analyzer=%s\n", IXF_ANALYZER);
        wput(o, an, (size_t)al);
    }
    wput(o, w->meta, w->metalen);
    sect_end(o, tab, &nt);

    sect_begin(o, tab, &nt, IXS_STRINGS);
    errno = 0;
    if (w->str.fd >= 0 &&
        write_strings(w, o, dict, dict_len, soff, stored, sflags) != 0) {
        snprintf(err, errlen, "index writer: strings: %s",
                 errno ? strerror(errno) : "out of memory");
        goto done;
    }
    sect_end(o, tab, &nt);

    if (dict) {
        sect_begin(o, tab, &nt, IXS_BODYDICT);
        wput(o, dict, dict_len);
        sect_end(o, tab, &nt);
    }

    sect_begin(o, tab, &nt, IXS_DOCS);
    for (size_t i = 0; i < w->ndocs; i++) {
        unsigned char e[IXF_DOC_SZ];
        const wdoc *d = &w->docs[i];
        ixf_st64(e, (uint64_t)d->chunk_id);
        ixf_st64(e + 8, soff[i]);
        for (int k = 0; k < 4; k++)
            ixf_st32(e + 16 + k * 4, d->lens[k]);
        ixf_st32(e + 32, stored[i]);
        ixf_st32(e + 36, sflags[i]);
        wput(o, e, IXF_DOC_SZ);
    }
    sect_end(o, tab, &nt);

    sect_begin(o, tab, &nt, IXS_DOCLEN);
    wput(o, w->dl, w->ndocs * 4);
    sect_end(o, tab, &nt);

    sect_begin(o, tab, &nt, IXS_PAGEID);
    wput(o, w->pageid, w->ndocs * 4);
    sect_end(o, tab, &nt);

    sect_begin(o, tab, &nt, IXS_TERMTEXT);
    wput(o, w->ttext, w->ttlen);
    sect_end(o, tab, &nt);

    sect_begin(o, tab, &nt, IXS_POSTINGS);
    if (write_postings(w, o, order, avgdl, blk, terms) != 0) {
        snprintf(err, errlen, "index writer: a term's postings exceed 4 GB");
        goto done;
    }
    sect_end(o, tab, &nt);

    sect_begin(o, tab, &nt, IXS_BLOCKS);
    wput(o, blk, nblocks * IXF_BLK_SZ);
    sect_end(o, tab, &nt);

    sect_begin(o, tab, &nt, IXS_TERMS);
    wput(o, terms, w->nterms * IXF_TERM_SZ);
    sect_end(o, tab, &nt);

    sect_begin(o, tab, &nt, IXS_BM25);
    {
        unsigned char e[IXF_BM25_SZ];
        ixf_st64(e, w->total_dl);
        ixf_st32(e + 8, (uint32_t)w->nterms);
        ixf_st32(e + 12, IXF_BLOCK);
        ixf_std(e + 16, IXF_K1);
        ixf_std(e + 24, IXF_B);
        ixf_st64(e + 32, w->nposts);
        wput(o, e, IXF_BM25_SZ);
    }
    sect_end(o, tab, &nt);

    if (w->fields && write_fields(w, o, tab, &nt, order, nblocks) != 0) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }

    if (w->dims && w->ndocs &&
        write_vectors(w, o, tab, &nt, &vec, buf, bufsz) != 0) {
        snprintf(err, errlen, "index writer: temporary file: %s",
                 strerror(errno));
        goto done;
    }
    errno = 0;
    if (w->ft && write_ft(w, o, tab, &nt) != 0) {
        snprintf(err, errlen, "index writer: semantic vectors: %s",
                 errno ? strerror(errno) : "out of memory");
        goto done;
    }
    wflush(o);
    if (o->err) {
        snprintf(err, errlen, "write %s: %s", tmp, strerror(o->err));
        goto done;
    }
    if (nt != nsect) {
        snprintf(err, errlen, "index writer: section count mismatch");
        goto done;
    }

    memset(hdr, 0, sizeof(hdr));
    memcpy(hdr, IXF_MAGIC, 8);
    ixf_st16(hdr + 8, IXF_MAJOR);
    ixf_st16(hdr + 10, IXF_MINOR);
    ixf_st32(hdr + 12, IXF_HDR);
    ixf_st64(hdr + 16, generation);
    ixf_st64(hdr + 24, o->pos);
    ixf_st32(hdr + 32, (uint32_t)w->ndocs);
    ixf_st32(hdr + 36, (uint32_t)nsect);
    ixf_st32(hdr + 56, o->crc);
    for (size_t i = 0; i < nsect; i++) {
        unsigned char *e = hdr + IXF_HDR + i * IXF_SECT_SZ;
        memcpy(e, ixf_sections[tab[i].id].name, 8);
        ixf_st16(e + 8, ixf_sections[tab[i].id].major);
        ixf_st16(e + 10, 0);
        ixf_st32(e + 12,
                 ixf_sections[tab[i].id].required ? IXF_SECT_REQUIRED : 0);
        ixf_st64(e + 16, tab[i].off);
        ixf_st64(e + 24, tab[i].len);
    }
    ixf_st32(hdr + 60, rag_crc32c(rag_crc32c(0, hdr, 60), hdr + IXF_HDR,
                                  table_end - IXF_HDR));
    if (pwrite(fd, hdr, table_end, 0) != (ssize_t)table_end) {
        snprintf(err, errlen, "write %s: %s", tmp, strerror(errno));
        goto done;
    }
    if (fsync(fd) != 0) {
        snprintf(err, errlen, "fsync %s: %s", tmp, strerror(errno));
        goto done;
    }
    if (close(fd) != 0) {
        fd = -1;
        snprintf(err, errlen, "close %s: %s", tmp, strerror(errno));
        goto done;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "rename %s: %s", path, strerror(errno));
        goto done;
    }
    if (fsync_dir(path) != 0) {
        snprintf(err, errlen, "fsync dir of %s: %s", path, strerror(errno));
        goto done; /* renamed but maybe not durable: report it */
    }
    rc = 0;
done:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    } else if (rc != 0) {
        unlink(tmp);
    }
    free(order);
    free(blk);
    free(terms);
    free(buf);
    free(o);
    free(dict);
    free(soff);
    free(stored);
    free(sflags);
    wvec_free(&vec);
    return rc;
}
