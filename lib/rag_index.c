/*
 * rag_index — writer and validating reader of the index file.
 *
 * On-disk format, version 1. Every integer is little-endian; every
 * section starts on an 8-byte boundary, sections follow each other in
 * the order below with only zero padding (< 8 bytes) between them, and
 * the file ends at the (8-aligned) end of the last section.
 *
 *   Header, 64 bytes
 *     0  magic "RAGIDX\r\n"    8  u32 version = 1   12 u32 header size = 64
 *    16  u64 generation       24  u64 file size
 *    32  u32 n_docs           36  u32 n_terms      40 u32 dims (0: none)
 *    44  u32 n_sections = 8   48  u64 total doc length (BM25 terms)
 *    56  u32 flags = 0        60  u32 CRC-32C of bytes [0,60) + [64,EOF)
 *   Section table, 8 x {u64 offset, u64 length}, bytes 64..192
 *   0 DOCS      n_docs x 40: i64 chunk_id, u64 str_off (into STRINGS),
 *               u32 url_len, title_len, heading_len, body_len,
 *               u32 doc_len (BM25 terms), u32 0. The four strings lie
 *               back to back at str_off, not NUL-terminated.
 *   1 STRINGS   bytes
 *   2 TERMS     n_terms x 24, sorted by term bytes (memcmp, shorter
 *               first), strictly increasing: u64 post_off (in postings),
 *               u32 df, u32 text_off (into TERMTEXT), u32 text_len
 *               (1..RAG_TERM_MAX), u32 0. post_off of term i+1 is
 *               post_off + df of term i; the first is 0; the sum of df is
 *               the postings count.
 *   3 TERMTEXT  bytes
 *   4 POSTINGS  {u32 doc, u32 tf} x n, doc strictly increasing within a
 *               term, doc < n_docs, tf >= 1
 *   5 VSCALE    n_docs x f32 (dims > 0): int8 scale, 0 = no embedding
 *   6 VI8       n_docs x dims int8, value ~ q * scale
 *   7 VF32      n_docs x dims f32, the L2-normalised originals, for
 *               rescoring (all zero for a record without embedding)
 *
 * The reader checks all of it once at open (O(file size), like the CRC);
 * afterwards lookups trust the checked tables and never re-validate.
 */
#include "rag_index.h"

#include "rag_terms.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "rag_index: vector sections are read in place; little-endian only"
#endif

#define IX_MAGIC "RAGIDX\r\n"
#define IX_VERSION 1
#define IX_HDR 64
#define IX_NSECT 8
#define IX_TABLE_END (IX_HDR + IX_NSECT * 16)
#define IX_DOC_SZ 40
#define IX_TERM_SZ 24
#define IX_POST_SZ 8
#define IX_MAX_DIMS 8192
#define IX_MAX_FIELD (64u * 1024 * 1024) /* one string of one record */

enum { S_DOCS, S_STR, S_TERMS, S_TTEXT, S_POST, S_VSCALE, S_VI8, S_VF32 };

/* ---- little-endian helpers ------------------------------------------- */

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

static float
ldf(const unsigned char *p)
{
    uint32_t u = ld32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void
st32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static void
st64(unsigned char *p, uint64_t v)
{
    st32(p, (uint32_t)v);
    st32(p + 4, (uint32_t)(v >> 32));
}

static void
stf(unsigned char *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    st32(p, u);
}

static uint64_t
align8(uint64_t v)
{
    return (v + 7) & ~(uint64_t)7;
}

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

/* ---- CRC-32C ---------------------------------------------------------- */

static uint32_t crc_table[8][256]; /* process-wide, filled once */
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void
crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^
                              crc_table[0][crc_table[t - 1][i] & 0xff];
}

/* Slicing-by-8; crc is the running value (start with 0). */
uint32_t
rag_crc32c(uint32_t crc, const void *data, size_t n)
{
    const unsigned char *p = data;

    pthread_once(&crc_once, crc_init);
    crc = ~crc;
    while (n >= 8) {
        uint32_t lo = ld32(p) ^ crc, hi = ld32(p + 4);
        crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
              crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
              crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
              crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

/* ---- writer ----------------------------------------------------------- */

typedef struct {
    int64_t chunk_id;
    uint64_t str_off;
    uint32_t lens[4];
    uint32_t dl;
} wdoc;

typedef struct {
    uint32_t text_off;
    uint32_t len;
    uint32_t df;
} wterm;

typedef struct {
    uint32_t term, doc, tf;
} wpost;

struct rag_index_writer {
    uint32_t dims;
    wdoc *docs;
    size_t ndocs, capdocs;
    char *str;
    size_t strlen, strcap;
    float *vscale;
    int8_t *vi8;
    float *vf32;
    size_t vcap;
    wterm *terms;
    size_t nterms, capterms;
    char *ttext;
    size_t ttlen, ttcap;
    uint32_t *hash; /* term id + 1, 0 = empty; capacity hcap (2^n) */
    size_t hcap;
    wpost *posts;
    size_t nposts, capposts;
    uint32_t *occ; /* scratch: term ids of the current doc */
    size_t nocc, capocc;
    uint64_t total_dl;
    int oom;
};

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

rag_index_writer *
rag_index_writer_new(uint32_t dims)
{
    rag_index_writer *w;

    if (dims > IX_MAX_DIMS)
        return NULL;
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->dims = dims;
    w->hcap = 1024;
    w->hash = calloc(w->hcap, sizeof(uint32_t));
    if (w->hash == NULL) {
        free(w);
        return NULL;
    }
    return w;
}

void
rag_index_writer_free(rag_index_writer *w)
{
    if (w == NULL)
        return;
    free(w->docs);
    free(w->str);
    free(w->vscale);
    free(w->vi8);
    free(w->vf32);
    free(w->terms);
    free(w->ttext);
    free(w->hash);
    free(w->posts);
    free(w->occ);
    free(w);
}

static uint64_t
fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int
hash_grow(rag_index_writer *w)
{
    size_t nc = w->hcap * 2;
    uint32_t *nh = calloc(nc, sizeof(uint32_t));

    if (nh == NULL)
        return -1;
    for (size_t t = 0; t < w->nterms; t++) {
        size_t h =
            fnv1a(w->ttext + w->terms[t].text_off, w->terms[t].len) & (nc - 1);
        while (nh[h])
            h = (h + 1) & (nc - 1);
        nh[h] = (uint32_t)t + 1;
    }
    free(w->hash);
    w->hash = nh;
    w->hcap = nc;
    return 0;
}

/* Returns the id of term t, adding it; -1 on OOM. */
static long
term_id(rag_index_writer *w, const char *t, size_t n)
{
    size_t h;

    if ((w->nterms + 1) * 2 > w->hcap && hash_grow(w) != 0)
        return -1;
    h = fnv1a(t, n) & (w->hcap - 1);
    while (w->hash[h]) {
        wterm *e = &w->terms[w->hash[h] - 1];
        if (e->len == n && memcmp(w->ttext + e->text_off, t, n) == 0)
            return (long)w->hash[h] - 1;
        h = (h + 1) & (w->hcap - 1);
    }
    if (w->nterms >= UINT32_MAX - 1 || w->ttlen + n > UINT32_MAX ||
        grow((void **)&w->terms, &w->capterms, w->nterms + 1, sizeof(wterm)) ||
        grow((void **)&w->ttext, &w->ttcap, w->ttlen + n, 1))
        return -1;
    memcpy(w->ttext + w->ttlen, t, n);
    w->terms[w->nterms].text_off = (uint32_t)w->ttlen;
    w->terms[w->nterms].len = (uint32_t)n;
    w->terms[w->nterms].df = 0;
    w->ttlen += n;
    w->hash[h] = (uint32_t)w->nterms + 1;
    return (long)w->nterms++;
}

static int
occ_cb(void *ud, const char *t, size_t n, size_t off, size_t len)
{
    rag_index_writer *w = ud;
    long id = term_id(w, t, n);

    if (id < 0 ||
        grow((void **)&w->occ, &w->capocc, w->nocc + 1, sizeof(uint32_t)))
        return 1;
    w->occ[w->nocc++] = (uint32_t)id;
    return 0;
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void
add_vector(rag_index_writer *w, size_t d, const float *v)
{
    float *f = w->vf32 + d * w->dims;
    int8_t *q = w->vi8 + d * w->dims;
    double norm = 0;
    float mx = 0;

    memset(f, 0, w->dims * sizeof(float));
    memset(q, 0, w->dims);
    w->vscale[d] = 0;
    if (v == NULL)
        return;
    for (uint32_t i = 0; i < w->dims; i++) {
        if (!isfinite(v[i]))
            return;
        norm += (double)v[i] * v[i];
    }
    if (!(norm > 0))
        return;
    norm = sqrt(norm);
    for (uint32_t i = 0; i < w->dims; i++) {
        f[i] = (float)(v[i] / norm);
        if (fabsf(f[i]) > mx)
            mx = fabsf(f[i]);
    }
    if (!(mx > 0))
        return;
    w->vscale[d] = mx / 127.0f;
    for (uint32_t i = 0; i < w->dims; i++) {
        long r = lrintf(f[i] / w->vscale[d]);
        q[i] = (int8_t)(r > 127 ? 127 : r < -127 ? -127 : r);
    }
}

int
rag_index_writer_add(rag_index_writer *w, const rag_index_input *in)
{
    const char *f[4];
    size_t lens[4], total = 0, d = w->ndocs;
    wdoc *doc;

    if (w->oom || in == NULL || d >= UINT32_MAX - 1)
        return -1;
    f[0] = in->url ? in->url : "";
    f[1] = in->title ? in->title : "";
    f[2] = in->heading_path ? in->heading_path : "";
    f[3] = in->body ? in->body : "";
    for (int i = 0; i < 4; i++) {
        lens[i] = strlen(f[i]);
        if (lens[i] > IX_MAX_FIELD)
            return -1;
        total += lens[i];
    }
    if (grow((void **)&w->docs, &w->capdocs, d + 1, sizeof(wdoc)) ||
        grow((void **)&w->str, &w->strcap, w->strlen + total, 1))
        goto oom;
    if (w->dims && w->vcap < w->capdocs) {
        size_t cap = w->capdocs;
        /* vector arrays follow the docs capacity */
        float *vs = realloc(w->vscale, cap * sizeof(float));
        if (vs == NULL)
            goto oom;
        w->vscale = vs;
        int8_t *vq = realloc(w->vi8, cap * w->dims);
        if (vq == NULL)
            goto oom;
        w->vi8 = vq;
        float *vf = realloc(w->vf32, cap * w->dims * sizeof(float));
        if (vf == NULL)
            goto oom;
        w->vf32 = vf;
        w->vcap = cap;
    }
    if (w->dims)
        add_vector(w, d, in->embedding);
    doc = &w->docs[d];
    doc->chunk_id = in->chunk_id;
    doc->str_off = w->strlen;
    for (int i = 0; i < 4; i++) {
        memcpy(w->str + w->strlen, f[i], lens[i]);
        w->strlen += lens[i];
        doc->lens[i] = (uint32_t)lens[i];
    }

    /* BM25 terms: title, heading path and body; the heading path (which
     * ends with the section's own heading) counts twice, a cheap field
     * boost: a section titled with the query words ranks first */
    w->nocc = 0;
    for (int i = 1; i < 4; i++)
        if (rag_terms_each(f[i], lens[i], occ_cb, w) < 0 ||
            (i == 2 && rag_terms_each(f[i], lens[i], occ_cb, w) < 0))
            goto oom;
    if (w->nocc > UINT32_MAX)
        goto oom;
    doc->dl = (uint32_t)w->nocc;
    w->total_dl += w->nocc;
    qsort(w->occ, w->nocc, sizeof(uint32_t), cmp_u32);
    for (size_t i = 0; i < w->nocc;) {
        size_t j = i;
        while (j < w->nocc && w->occ[j] == w->occ[i])
            j++;
        if (grow((void **)&w->posts, &w->capposts, w->nposts + 1,
                 sizeof(wpost)))
            goto oom;
        w->posts[w->nposts].term = w->occ[i];
        w->posts[w->nposts].doc = (uint32_t)d;
        w->posts[w->nposts].tf = (uint32_t)(j - i);
        w->nposts++;
        w->terms[w->occ[i]].df++;
        i = j;
    }
    w->ndocs++;
    return 0;
oom:
    w->oom = 1;
    return -1;
}

/* Buffered file output that keeps the running CRC. */
typedef struct {
    int fd;
    unsigned char buf[1 << 16];
    size_t n;
    uint64_t pos;
    uint32_t crc;
    int err;
} wout;

static void
wflush(wout *o)
{
    size_t off = 0;

    while (!o->err && off < o->n) {
        ssize_t r = write(o->fd, o->buf + off, o->n - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            o->err = errno ? errno : EIO;
            break;
        }
        off += (size_t)r;
    }
    o->n = 0;
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
    static const unsigned char z[8];
    wput(o, z, align8(o->pos) - o->pos);
}

/* term order: by bytes, shorter first on a common prefix */
static const rag_index_writer *sort_w; /* qsort has no context argument */
static pthread_mutex_t sort_mu = PTHREAD_MUTEX_INITIALIZER;

static int
term_cmp_raw(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return (al > bl) - (al < bl);
}

static int
cmp_term_ids(const void *a, const void *b)
{
    const wterm *x = &sort_w->terms[*(const uint32_t *)a];
    const wterm *y = &sort_w->terms[*(const uint32_t *)b];
    return term_cmp_raw(sort_w->ttext + x->text_off, x->len,
                        sort_w->ttext + y->text_off, y->len);
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
    uint32_t *order = NULL, *rank = NULL;
    uint64_t *cursor = NULL, off, sect[IX_NSECT][2];
    unsigned char hdr[IX_TABLE_END], e[IX_DOC_SZ];
    char tmp[PATH_MAX];
    wout *o = NULL;
    wpost *placed = NULL;
    int rc = -1, fd = -1;
    size_t i;

    if (w->oom) {
        seterr(err, errlen, "index writer ran out of memory");
        return -1;
    }
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
        (int)sizeof(tmp)) {
        seterr(err, errlen, "index path too long");
        return -1;
    }

    /* terms in sorted order, postings grouped by term in that order */
    order = malloc((w->nterms + 1) * sizeof(uint32_t));
    rank = malloc((w->nterms + 1) * sizeof(uint32_t));
    cursor = malloc((w->nterms + 1) * sizeof(uint64_t));
    placed = malloc((w->nposts + 1) * sizeof(wpost));
    o = malloc(sizeof(*o));
    if (!order || !rank || !cursor || !placed || !o) {
        seterr(err, errlen, "out of memory");
        goto done;
    }
    for (i = 0; i < w->nterms; i++)
        order[i] = (uint32_t)i;
    pthread_mutex_lock(&sort_mu);
    sort_w = w;
    qsort(order, w->nterms, sizeof(uint32_t), cmp_term_ids);
    sort_w = NULL;
    pthread_mutex_unlock(&sort_mu);
    off = 0;
    for (i = 0; i < w->nterms; i++) {
        rank[order[i]] = (uint32_t)i;
        cursor[i] = off;
        off += w->terms[order[i]].df;
    }
    for (i = 0; i < w->nposts; i++) /* stable: docs stay ascending */
        placed[cursor[rank[w->posts[i].term]]++] = w->posts[i];

    /* layout */
    off = IX_TABLE_END;
    uint64_t lens[IX_NSECT] = {
        (uint64_t)w->ndocs * IX_DOC_SZ,   w->strlen,
        (uint64_t)w->nterms * IX_TERM_SZ, w->ttlen,
        (uint64_t)w->nposts * IX_POST_SZ, w->dims ? (uint64_t)w->ndocs * 4 : 0,
        (uint64_t)w->ndocs * w->dims,     (uint64_t)w->ndocs * w->dims * 4,
    };
    for (i = 0; i < IX_NSECT; i++) {
        sect[i][0] = off;
        sect[i][1] = lens[i];
        off = align8(off + lens[i]);
    }
    memset(hdr, 0, sizeof(hdr));
    memcpy(hdr, IX_MAGIC, 8);
    st32(hdr + 8, IX_VERSION);
    st32(hdr + 12, IX_HDR);
    st64(hdr + 16, generation);
    st64(hdr + 24, off);
    st32(hdr + 32, (uint32_t)w->ndocs);
    st32(hdr + 36, (uint32_t)w->nterms);
    st32(hdr + 40, w->dims);
    st32(hdr + 44, IX_NSECT);
    st64(hdr + 48, w->total_dl);
    for (i = 0; i < IX_NSECT; i++) {
        st64(hdr + IX_HDR + i * 16, sect[i][0]);
        st64(hdr + IX_HDR + i * 16 + 8, sect[i][1]);
    }

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        seterr(err, errlen, "open %s: %s", tmp, strerror(errno));
        goto done;
    }
    o->fd = fd;
    o->n = 0;
    o->pos = 0;
    o->err = 0;
    o->crc = 0;
    /* the checksum covers [0,60) and [64,EOF); patched in below */
    wput(o, hdr, 60);
    o->crc = rag_crc32c(0, hdr, 60);
    {
        uint32_t saved = o->crc;
        unsigned char zero4[4] = {0};
        wput(o, zero4, 4);
        o->crc = saved;
    }
    wput(o, hdr + IX_HDR, IX_TABLE_END - IX_HDR);

    for (i = 0; i < w->ndocs; i++) {
        const wdoc *d = &w->docs[i];
        st64(e, (uint64_t)d->chunk_id);
        st64(e + 8, d->str_off);
        for (int k = 0; k < 4; k++)
            st32(e + 16 + k * 4, d->lens[k]);
        st32(e + 32, d->dl);
        st32(e + 36, 0);
        wput(o, e, IX_DOC_SZ);
    }
    wpad(o);
    wput(o, w->str, w->strlen);
    wpad(o);
    off = 0;
    for (i = 0; i < w->nterms; i++) {
        const wterm *t = &w->terms[order[i]];
        st64(e, off);
        st32(e + 8, t->df);
        st32(e + 12, t->text_off);
        st32(e + 16, t->len);
        st32(e + 20, 0);
        wput(o, e, IX_TERM_SZ);
        off += t->df;
    }
    wpad(o);
    wput(o, w->ttext, w->ttlen);
    wpad(o);
    for (i = 0; i < w->nposts; i++) {
        st32(e, placed[i].doc);
        st32(e + 4, placed[i].tf);
        wput(o, e, IX_POST_SZ);
    }
    wpad(o);
    if (w->dims) {
        for (i = 0; i < w->ndocs; i++) {
            stf(e, w->vscale[i]);
            wput(o, e, 4);
        }
        wpad(o);
        wput(o, w->vi8, w->ndocs * w->dims);
        wpad(o);
        for (i = 0; i < w->ndocs * w->dims; i++) {
            stf(e, w->vf32[i]);
            wput(o, e, 4);
        }
        wpad(o);
    }
    wflush(o);
    if (o->err) {
        seterr(err, errlen, "write %s: %s", tmp, strerror(o->err));
        goto done;
    }
    st32(e, o->crc);
    if (pwrite(fd, e, 4, 60) != 4) {
        seterr(err, errlen, "write %s: %s", tmp, strerror(errno));
        goto done;
    }
    if (fsync(fd) != 0) {
        seterr(err, errlen, "fsync %s: %s", tmp, strerror(errno));
        goto done;
    }
    if (close(fd) != 0) {
        fd = -1;
        seterr(err, errlen, "close %s: %s", tmp, strerror(errno));
        goto done;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        seterr(err, errlen, "rename %s: %s", path, strerror(errno));
        goto done;
    }
    if (fsync_dir(path) != 0) {
        seterr(err, errlen, "fsync dir of %s: %s", path, strerror(errno));
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
    free(rank);
    free(cursor);
    free(placed);
    free(o);
    return rc;
}

/* ---- reader ----------------------------------------------------------- */

struct rag_index {
    const unsigned char *base;
    size_t len;
    int mapped;
    uint64_t gen, total_dl, npost;
    uint32_t ndocs, nterms, dims;
    double avgdl;
    const unsigned char *sec[IX_NSECT];
    uint64_t seclen[IX_NSECT];
};

static int
validate(rag_index *ix, char *err, size_t errlen)
{
    const unsigned char *b = ix->base;
    uint64_t off, sum_dl = 0, post_off = 0;
    uint32_t crc;
    size_t i;

    if (ix->len < IX_TABLE_END) {
        seterr(err, errlen, "index truncated: %zu bytes", ix->len);
        return -1;
    }
    if (memcmp(b, IX_MAGIC, 8) != 0) {
        seterr(err, errlen, "not an index file (bad magic)");
        return -1;
    }
    if (ld32(b + 8) != IX_VERSION) {
        seterr(err, errlen, "unsupported index version %u", ld32(b + 8));
        return -1;
    }
    if (ld32(b + 12) != IX_HDR || ld32(b + 44) != IX_NSECT ||
        ld32(b + 56) != 0) {
        seterr(err, errlen, "bad index header");
        return -1;
    }
    if (ld64(b + 24) != ix->len) {
        seterr(err, errlen,
               "index size mismatch: header says %llu, file has %zu",
               (unsigned long long)ld64(b + 24), ix->len);
        return -1;
    }
    crc = rag_crc32c(rag_crc32c(0, b, 60), b + 64, ix->len - 64);
    if (crc != ld32(b + 60)) {
        seterr(err, errlen, "index checksum mismatch");
        return -1;
    }
    ix->gen = ld64(b + 16);
    ix->ndocs = ld32(b + 32);
    ix->nterms = ld32(b + 36);
    ix->dims = ld32(b + 40);
    ix->total_dl = ld64(b + 48);
    if (ix->dims > IX_MAX_DIMS || ix->ndocs == UINT32_MAX) {
        seterr(err, errlen, "bad index counts");
        return -1;
    }

    off = IX_TABLE_END;
    for (i = 0; i < IX_NSECT; i++) {
        uint64_t so = ld64(b + IX_HDR + i * 16);
        uint64_t sl = ld64(b + IX_HDR + i * 16 + 8);
        if (so != off || sl > ix->len || so > ix->len - sl) {
            seterr(err, errlen, "index section %zu out of bounds", i);
            return -1;
        }
        ix->sec[i] = b + so;
        ix->seclen[i] = sl;
        off = align8(so + sl);
    }
    if (off != ix->len) {
        seterr(err, errlen, "index has trailing bytes");
        return -1;
    }
    uint64_t nd = ix->ndocs, dims = ix->dims;
    if (ix->seclen[S_DOCS] != nd * IX_DOC_SZ ||
        ix->seclen[S_TERMS] != (uint64_t)ix->nterms * IX_TERM_SZ ||
        ix->seclen[S_POST] % IX_POST_SZ != 0 ||
        ix->seclen[S_VSCALE] != (dims ? nd * 4 : 0) ||
        ix->seclen[S_VI8] != nd * dims || ix->seclen[S_VF32] != nd * dims * 4) {
        seterr(err, errlen, "index section sizes inconsistent with counts");
        return -1;
    }
    ix->npost = ix->seclen[S_POST] / IX_POST_SZ;

    for (i = 0; i < ix->ndocs; i++) {
        const unsigned char *d = ix->sec[S_DOCS] + i * IX_DOC_SZ;
        uint64_t so = ld64(d + 8), tl = 0;
        for (int k = 0; k < 4; k++)
            tl += ld32(d + 16 + k * 4);
        if (so > ix->seclen[S_STR] || tl > ix->seclen[S_STR] - so) {
            seterr(err, errlen, "index record %zu strings out of bounds", i);
            return -1;
        }
        sum_dl += ld32(d + 32);
    }
    if (sum_dl != ix->total_dl) {
        seterr(err, errlen, "index doc lengths inconsistent");
        return -1;
    }
    ix->avgdl = ix->ndocs ? (double)ix->total_dl / ix->ndocs : 0;

    for (i = 0; i < ix->nterms; i++) {
        const unsigned char *t = ix->sec[S_TERMS] + i * IX_TERM_SZ;
        uint64_t po = ld64(t);
        uint32_t df = ld32(t + 8), to = ld32(t + 12), tl = ld32(t + 16);
        if (po != post_off || df == 0 || df > ix->npost - post_off) {
            seterr(err, errlen, "index term %zu postings out of range", i);
            return -1;
        }
        if (tl == 0 || tl > RAG_TERM_MAX || to > ix->seclen[S_TTEXT] ||
            tl > ix->seclen[S_TTEXT] - to) {
            seterr(err, errlen, "index term %zu text out of bounds", i);
            return -1;
        }
        if (i > 0) {
            const unsigned char *p = t - IX_TERM_SZ;
            if (term_cmp_raw((const char *)ix->sec[S_TTEXT] + ld32(p + 12),
                             ld32(p + 16), (const char *)ix->sec[S_TTEXT] + to,
                             tl) >= 0) {
                seterr(err, errlen, "index term dictionary not sorted at %zu",
                       i);
                return -1;
            }
        }
        for (uint64_t k = 0; k < df; k++) {
            const unsigned char *pp = ix->sec[S_POST] + (po + k) * IX_POST_SZ;
            uint32_t doc = ld32(pp);
            if (doc >= ix->ndocs || ld32(pp + 4) == 0 ||
                (k > 0 && doc <= ld32(pp - IX_POST_SZ))) {
                seterr(err, errlen, "index term %zu has a bad posting", i);
                return -1;
            }
        }
        post_off += df;
    }
    if (post_off != ix->npost) {
        seterr(err, errlen, "index postings count inconsistent");
        return -1;
    }
    for (i = 0; dims && i < ix->ndocs; i++) {
        float s = ldf(ix->sec[S_VSCALE] + i * 4);
        if (!isfinite(s) || s < 0) {
            seterr(err, errlen, "index vector scale %zu invalid", i);
            return -1;
        }
    }
    for (i = 0; i < nd * dims; i++) {
        if (!isfinite(ldf(ix->sec[S_VF32] + i * 4))) {
            seterr(err, errlen, "index vector value invalid");
            return -1;
        }
    }
    return 0;
}

rag_index *
rag_index_open_mem(const void *data, size_t len, char *err, size_t errlen)
{
    rag_index *ix;

    if (data == NULL && len) {
        seterr(err, errlen, "no data");
        return NULL;
    }
    ix = calloc(1, sizeof(*ix));
    if (ix == NULL) {
        seterr(err, errlen, "out of memory");
        return NULL;
    }
    ix->base = data;
    ix->len = len;
    if (validate(ix, err, errlen) != 0) {
        free(ix);
        return NULL;
    }
    return ix;
}

rag_index *
rag_index_open(const char *path, char *err, size_t errlen)
{
    struct stat st;
    rag_index *ix = NULL;
    void *map;
    int fd;
    char e2[200];

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        seterr(err, errlen, "open %s: %s", path, strerror(e));
        errno = e; /* callers tell a missing file from a bad one */
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        seterr(err, errlen, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    if ((uint64_t)st.st_size < IX_TABLE_END ||
        (uint64_t)st.st_size > SIZE_MAX) {
        seterr(err, errlen, "%s: index truncated: %lld bytes", path,
               (long long)st.st_size);
        close(fd);
        return NULL;
    }
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        seterr(err, errlen, "mmap %s: %s", path, strerror(errno));
        return NULL;
    }
    ix = rag_index_open_mem(map, (size_t)st.st_size, e2, sizeof(e2));
    if (ix == NULL) {
        seterr(err, errlen, "%s: %s", path, e2);
        munmap(map, (size_t)st.st_size);
        return NULL;
    }
    ix->mapped = 1;
    return ix;
}

void
rag_index_close(rag_index *ix)
{
    if (ix == NULL)
        return;
    if (ix->mapped)
        munmap((void *)ix->base, ix->len);
    free(ix);
}

uint64_t
rag_index_generation(const rag_index *ix)
{
    return ix->gen;
}

uint32_t
rag_index_dims(const rag_index *ix)
{
    return ix->dims;
}

uint32_t
rag_index_count(const rag_index *ix)
{
    return ix->ndocs;
}

uint32_t
rag_index_term_count(const rag_index *ix)
{
    return ix->nterms;
}

double
rag_index_avgdl(const rag_index *ix)
{
    return ix->avgdl;
}

uint32_t
rag_index_doc_len(const rag_index *ix, uint32_t i)
{
    if (i >= ix->ndocs)
        return 0;
    return ld32(ix->sec[S_DOCS] + (size_t)i * IX_DOC_SZ + 32);
}

int
rag_index_chunk_get(const rag_index *ix, uint32_t i, rag_index_chunk *out)
{
    const unsigned char *d;
    const char *s;

    if (i >= ix->ndocs)
        return -1;
    d = ix->sec[S_DOCS] + (size_t)i * IX_DOC_SZ;
    s = (const char *)ix->sec[S_STR] + ld64(d + 8);
    out->chunk_id = (int64_t)ld64(d);
    out->url.p = s;
    out->url.len = ld32(d + 16);
    s += out->url.len;
    out->title.p = s;
    out->title.len = ld32(d + 20);
    s += out->title.len;
    out->heading_path.p = s;
    out->heading_path.len = ld32(d + 24);
    s += out->heading_path.len;
    out->body.p = s;
    out->body.len = ld32(d + 28);
    return 0;
}

int
rag_index_term(const rag_index *ix, const char *term, size_t len,
               rag_postings *out)
{
    size_t lo = 0, hi = ix->nterms;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const unsigned char *t = ix->sec[S_TERMS] + mid * IX_TERM_SZ;
        int c = term_cmp_raw(term, len,
                             (const char *)ix->sec[S_TTEXT] + ld32(t + 12),
                             ld32(t + 16));
        if (c == 0) {
            out->p = ix->sec[S_POST] + ld64(t) * IX_POST_SZ;
            out->df = ld32(t + 8);
            return 0;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

const int8_t *
rag_index_vec_i8(const rag_index *ix, uint32_t i, float *scale)
{
    float s;

    if (ix->dims == 0 || i >= ix->ndocs)
        return NULL;
    s = ldf(ix->sec[S_VSCALE] + (size_t)i * 4);
    if (!(s > 0))
        return NULL;
    *scale = s;
    return (const int8_t *)ix->sec[S_VI8] + (size_t)i * ix->dims;
}

int
rag_index_vec_f32(const rag_index *ix, uint32_t i, float *out)
{
    const unsigned char *p;

    if (ix->dims == 0 || i >= ix->ndocs ||
        !(ldf(ix->sec[S_VSCALE] + (size_t)i * 4) > 0))
        return -1;
    p = ix->sec[S_VF32] + (size_t)i * ix->dims * 4;
    memcpy(out, p, (size_t)ix->dims * 4); /* little-endian host assumed */
    return 0;
}
