/*
 * rag_index — validating reader of the index file (format:
 * rag_index_fmt.h; writer: rag_index_write.c).
 *
 * The reader checks all of it once at open, O(file size) like the CRCs:
 * every section's place and size, every record's strings, the term
 * dictionary's order, and every postings block (decoded: doc ids strictly
 * increasing and below n_docs, lengths matching the control bytes, the
 * block table agreeing with the data), the vector permutation and lists.
 * Afterwards lookups trust the checked tables and never re-validate. Not
 * checked: that a block's stored score maximum really bounds its
 * postings (a wrong one, behind valid CRCs, ranks wrongly but reads
 * nothing out of bounds).
 */
#include "rag_index.h"

#include "rag_ft.h"
#include "rag_index_fmt.h"
#include "rag_svb.h"
#include "rag_terms.h"
#include "rag_vec.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

struct rag_index {
    const unsigned char *base;
    size_t len;
    int mapped;
    void *copy; /* an aligned copy of unaligned caller memory */
    uint64_t gen, total_dl, npost;
    uint32_t ndocs, nterms;
    uint32_t dims, nlists, nprobe, nvec;
    double avgdl, k1, b;
    const unsigned char *sec[IXS_COUNT];
    uint64_t seclen[IXS_COUNT];
    ZSTD_DDict *ddict; /* from BODYDICT, when bodies are compressed */
    char language[32]; /* Snowball analyzer's language, or "" */
    double *norms;     /* BM25 length normalisation by doc length */
    uint32_t max_dl;
    int has_fields; /* the BM25F sections are there */
    rag_index_fields fields;
    double *wnorm[RAG_INDEX_FIELDS];
    uint16_t *body_len16; /* fields.body_len16 */
    uint8_t *ht_len8;     /* fields.ht_len8 */
    uint64_t fldtf_sum;   /* FLDTF bytes the blocks account for */
    rag_ft_model ft;      /* the semantic leg, when has_ft */
    int has_ft;
    const float *ft_pc, *ft_vecs;
    uint32_t ft_nvec;
};

#define NORM_TABLE_MAX (1u << 20) /* longer records: computed per use */

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
static int crc_hw;

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
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    crc_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t
crc_sw(uint32_t crc, const unsigned char *p, size_t n)
{
    while (n >= 8) {
        uint32_t lo = ixf_ld32(p) ^ crc, hi = ixf_ld32(p + 4);
        crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
              crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
              crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
              crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
    return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* SSE4.2's crc32 instruction computes exactly CRC-32C: a gigabyte
 * index is checked in about a tenth of a second at open. */
__attribute__((target("sse4.2"))) static uint32_t
crc_hw8(uint32_t crc, const unsigned char *p, size_t n)
{
    uint64_t c = crc;

    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
        p += 8;
        n -= 8;
    }
    crc = (uint32_t)c;
    while (n--)
        crc = _mm_crc32_u8(crc, *p++);
    return crc;
}
#endif

uint32_t
rag_crc32c(uint32_t crc, const void *data, size_t n)
{
    pthread_once(&crc_once, crc_init);
    crc = ~crc;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (crc_hw)
        return ~crc_hw8(crc, data, n);
#endif
    return ~crc_sw(crc, data, n);
}

/* ---- validation ------------------------------------------------------- */

static int
sect_name_ok(const unsigned char *p)
{
    size_t n = 0;

    while (n < 8 && p[n])
        n++;
    if (n == 0)
        return 0;
    for (size_t i = 0; i < 8; i++) {
        unsigned char c = p[i];
        if (i >= n ? c != 0
                   : !((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '_'))
            return 0;
    }
    return 1;
}

static int
check_header(rag_index *ix, char *err, size_t errlen)
{
    const unsigned char *b = ix->base;
    uint32_t major, nsect;
    uint64_t table_end, off;

    if (ix->len < IXF_HDR) {
        seterr(err, errlen, "index truncated: %zu bytes", ix->len);
        return -1;
    }
    if (memcmp(b, IXF_MAGIC, 8) != 0) {
        seterr(err, errlen, "not an index file (bad magic)");
        return -1;
    }
    major = ixf_ld16(b + 8);
    if (major == 0) {
        seterr(err, errlen, "bad index header");
        return -1;
    }
    if (major < IXF_MAJOR) {
        seterr(err, errlen,
               "unsupported index version %u: written by an older ngx_rag; "
               "this build reads format %u: rebuild it (rag-reindex "
               "COLLECTION)",
               major, IXF_MAJOR);
        return -1;
    }
    if (major > IXF_MAJOR) {
        seterr(err, errlen,
               "unsupported index version %u: written by a newer ngx_rag; "
               "this build reads format %u",
               major, IXF_MAJOR);
        return -1;
    }
    nsect = ixf_ld32(b + 36);
    if (ixf_ld32(b + 12) != IXF_HDR || nsect == 0 || nsect > IXF_MAX_SECT ||
        ixf_ld32(b + 40) != 0 || ixf_ld32(b + 44) != 0 ||
        ixf_ld64(b + 48) != 0) {
        seterr(err, errlen, "bad index header");
        return -1;
    }
    if (ixf_ld64(b + 24) != ix->len) {
        seterr(err, errlen,
               "index size mismatch: header says %llu, file has %zu",
               (unsigned long long)ixf_ld64(b + 24), ix->len);
        return -1;
    }
    table_end = IXF_HDR + (uint64_t)nsect * IXF_SECT_SZ;
    if (table_end > ix->len) {
        seterr(err, errlen, "index truncated: section table");
        return -1;
    }
    if (rag_crc32c(rag_crc32c(0, b, 60), b + IXF_HDR, table_end - IXF_HDR) !=
            ixf_ld32(b + 60) ||
        rag_crc32c(0, b + table_end, ix->len - table_end) != ixf_ld32(b + 56)) {
        seterr(err, errlen, "index checksum mismatch");
        return -1;
    }
    ix->gen = ixf_ld64(b + 16);
    ix->ndocs = ixf_ld32(b + 32);
    if (ix->ndocs == UINT32_MAX) {
        seterr(err, errlen, "bad index counts");
        return -1;
    }

    off = table_end;
    for (uint32_t i = 0; i < nsect; i++) {
        const unsigned char *e = b + IXF_HDR + (size_t)i * IXF_SECT_SZ;
        uint64_t so = ixf_ld64(e + 16), sl = ixf_ld64(e + 24);
        uint32_t flags = ixf_ld32(e + 12);
        int known = -1;

        if (!sect_name_ok(e)) {
            seterr(err, errlen, "index section %u has a bad name", i);
            return -1;
        }
        if (so != ixf_align(off) || sl > ix->len || so > ix->len - sl ||
            (flags & ~IXF_SECT_REQUIRED)) {
            seterr(err, errlen, "index section %.8s out of bounds",
                   (const char *)e);
            return -1;
        }
        off = so + sl;
        for (int k = 0; k < IXS_COUNT; k++)
            if (memcmp(e, ixf_sections[k].name, 8) == 0)
                known = k;
        if (known < 0) {
            if (flags & IXF_SECT_REQUIRED) {
                seterr(err, errlen,
                       "index needs section %.8s, which this build does not "
                       "know (written by a newer ngx_rag?)",
                       (const char *)e);
                return -1;
            }
            continue; /* optional: skipped */
        }
        if (ix->sec[known] != NULL) {
            seterr(err, errlen, "index section %.8s twice", (const char *)e);
            return -1;
        }
        if (ixf_ld16(e + 8) != ixf_sections[known].major) {
            seterr(err, errlen,
                   "unsupported index section %.8s version %u (this build "
                   "reads %u)",
                   (const char *)e, ixf_ld16(e + 8), ixf_sections[known].major);
            return -1;
        }
        ix->sec[known] = b + so;
        ix->seclen[known] = sl;
    }
    if (off != ix->len) {
        seterr(err, errlen, "index has trailing bytes");
        return -1;
    }
    for (int k = 0; k <= IXS_POSTINGS; k++) {
        if (ix->sec[k] == NULL) {
            seterr(err, errlen, "index section %s missing",
                   ixf_sections[k].name);
            return -1;
        }
    }
    return 0;
}

static int
meta_key_ok(const char *k, size_t n)
{
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

/* META: well-formed lines; an analyzer this build implements, and for
 * the Snowball one a language its libstemmer has. */
static int
check_meta(rag_index *ix, char *err, size_t errlen)
{
    const char *p = (const char *)ix->sec[IXS_META];
    size_t n = ix->seclen[IXS_META], i = 0, vl;
    const char *an = NULL, *lang = NULL;
    size_t an_len = 0, lang_len = 0;

    while (i < n) {
        const char *line = p + i, *eq, *nl;
        nl = memchr(line, '\n', n - i);
        eq = nl ? memchr(line, '=', (size_t)(nl - line)) : NULL;
        if (eq == NULL || !meta_key_ok(line, (size_t)(eq - line)) ||
            memchr(eq, '\0', (size_t)(nl - eq)) != NULL) {
            seterr(err, errlen, "index META malformed");
            return -1;
        }
        vl = (size_t)(nl - eq - 1);
        if (eq - line == 8 && memcmp(line, "analyzer", 8) == 0) {
            an = eq + 1;
            an_len = vl;
        } else if (eq - line == 8 && memcmp(line, "language", 8) == 0) {
            lang = eq + 1;
            lang_len = vl;
        }
        i = (size_t)(nl - p) + 1;
    }
    if (an == NULL) {
        seterr(err, errlen, "index META has no analyzer");
        return -1;
    }
    if (an_len == strlen(IXF_ANALYZER) &&
        memcmp(an, IXF_ANALYZER, an_len) == 0 && lang == NULL)
        return 0;
    if (an_len == strlen(IXF_ANALYZER_SNOWBALL) &&
        memcmp(an, IXF_ANALYZER_SNOWBALL, an_len) == 0) {
        if (lang == NULL || lang_len == 0 || lang_len >= sizeof(ix->language)) {
            seterr(err, errlen, "index analyzer %s without a language",
                   IXF_ANALYZER_SNOWBALL);
            return -1;
        }
        memcpy(ix->language, lang, lang_len);
        ix->language[lang_len] = '\0';
        if (!rag_stem_language_ok(ix->language)) {
            seterr(err, errlen,
                   "index language \"%s\" has no stemmer in this build's "
                   "libstemmer",
                   ix->language);
            return -1;
        }
        return 0;
    }
    if (lang != NULL && an_len == strlen(IXF_ANALYZER) &&
        memcmp(an, IXF_ANALYZER, an_len) == 0) {
        seterr(err, errlen, "index META language with analyzer %s",
               IXF_ANALYZER);
        return -1;
    }
    seterr(err, errlen,
           "index analyzer \"%.*s\" is not implemented by this build (%s, %s)",
           (int)(an_len > 64 ? 64 : an_len), an, IXF_ANALYZER,
           IXF_ANALYZER_SNOWBALL);
    return -1;
}

static int
check_docs(rag_index *ix, char *err, size_t errlen)
{
    const unsigned char *bm = ix->sec[IXS_BM25];
    const uint32_t *dl;
    uint64_t nd = ix->ndocs, sum = 0;

    if (ix->seclen[IXS_DOCS] != nd * IXF_DOC_SZ ||
        ix->seclen[IXS_DOCLEN] != nd * 4 ||
        ix->seclen[IXS_BM25] != IXF_BM25_SZ) {
        seterr(err, errlen, "index section sizes inconsistent with counts");
        return -1;
    }
    if (ix->sec[IXS_BODYDICT] != NULL) {
        ix->ddict =
            ZSTD_createDDict(ix->sec[IXS_BODYDICT], ix->seclen[IXS_BODYDICT]);
        if (ix->ddict == NULL) {
            seterr(err, errlen, "index body dictionary unusable");
            return -1;
        }
    }
    for (uint64_t i = 0; i < nd; i++) {
        const unsigned char *d = ix->sec[IXS_DOCS] + i * IXF_DOC_SZ;
        uint64_t so = ixf_ld64(d + 8), tl = 0;
        uint32_t blen = ixf_ld32(d + 28), stored = ixf_ld32(d + 32);
        uint32_t flags = ixf_ld32(d + 36);
        for (int k = 0; k < 3; k++)
            tl += ixf_ld32(d + 16 + k * 4);
        tl += stored;
        if (so > ix->seclen[IXS_STRINGS] || tl > ix->seclen[IXS_STRINGS] - so) {
            seterr(err, errlen, "index record %llu strings out of bounds",
                   (unsigned long long)i);
            return -1;
        }
        /* a compressed body's frame must announce its plain length (its
         * content is checked as it is decompressed) */
        if (flags & ~IXF_DOC_ZSTD || blen > IXF_MAX_FIELD ||
            (flags == 0 ? stored != blen
                        : ix->ddict == NULL ||
                              ZSTD_getFrameContentSize(ix->sec[IXS_STRINGS] +
                                                           so + tl - stored,
                                                       stored) != blen)) {
            seterr(err, errlen, "index record %llu body invalid",
                   (unsigned long long)i);
            return -1;
        }
    }
    ix->total_dl = ixf_ld64(bm);
    ix->nterms = ixf_ld32(bm + 8);
    ix->k1 = ixf_ldd(bm + 16);
    ix->b = ixf_ldd(bm + 24);
    ix->npost = ixf_ld64(bm + 32);
    if (ixf_ld32(bm + 12) != IXF_BLOCK || !isfinite(ix->k1) || ix->k1 < 0 ||
        ix->k1 > 100 || !(ix->b >= 0 && ix->b <= 1)) {
        seterr(err, errlen, "index BM25 parameters invalid");
        return -1;
    }
    dl = (const uint32_t *)ix->sec[IXS_DOCLEN];
    for (uint64_t i = 0; i < nd; i++) {
        sum += dl[i];
        if (dl[i] > ix->max_dl)
            ix->max_dl = dl[i];
    }
    if (sum != ix->total_dl) {
        seterr(err, errlen, "index doc lengths inconsistent");
        return -1;
    }
    ix->avgdl = nd ? (double)ix->total_dl / (double)nd : 0;
    /* k1 (1 - b + b dl / avgdl) for every length that occurs: records
     * share few lengths, and the search saves a division per posting;
     * the expression is the search's own, so the values are identical */
    if (nd && ix->max_dl < NORM_TABLE_MAX) {
        double avgdl = ix->avgdl > 0 ? ix->avgdl : 1;
        ix->norms = malloc(((size_t)ix->max_dl + 1) * sizeof(double));
        if (ix->norms == NULL) {
            seterr(err, errlen, "out of memory");
            return -1;
        }
        for (uint32_t l = 0; l <= ix->max_dl; l++) {
            double len = l;
            ix->norms[l] = ix->k1 * (1 - ix->b + ix->b * len / avgdl);
        }
    }
    return 0;
}

/* One term's blocks: stream lengths agree with the control bytes, data
 * stays inside the section (before its padding), doc ids increase and
 * stay below n_docs, frequencies are >= 1. Returns the term's data
 * length, or -1. */
/* BM25F: block b's (global number) FBLOCKS entry and FLDTF streams: at
 * the next offset, inside the section, lengths agreeing with the control
 * bytes, and no field frequency above the posting's (the body's, what
 * is left, is never negative). 0 or -1. */
static int
check_field_block(rag_index *ix, uint64_t b, uint32_t n, const uint32_t *tfs)
{
    const unsigned char *e = ix->sec[IXS_FBLOCKS] + b * IXF_FBLK_SZ;
    const unsigned char *d = ix->sec[IXS_FLDTF];
    uint64_t off = ixf_ld64(e), limit = ix->seclen[IXS_FLDTF] - RAG_SVB_PAD;
    uint32_t tb = ixf_ld16(e + 8), hb = ixf_ld16(e + 10);
    uint32_t tt[IXF_BLOCK], th[IXF_BLOCK];
    float mx = ixf_ldf(e + 12);

    if (off != ix->fldtf_sum || off > limit ||
        (uint64_t)tb + hb > limit - off || (n + 3) / 4 > tb ||
        (n + 3) / 4 > hb ||
        rag_svb_stream_len(d + off, n, RAG_SVB_0124) != tb ||
        rag_svb_stream_len(d + off + tb, n, RAG_SVB_0124) != hb ||
        !isfinite(mx) || mx < 0)
        return -1;
    rag_svb_decode_0124(d + off, n, tt);
    rag_svb_decode_0124(d + off + tb, n, th);
    for (uint32_t i = 0; i < n; i++)
        if ((uint64_t)tt[i] + 2 * (uint64_t)th[i] > (uint64_t)tfs[i] + 1)
            return -1;
    ix->fldtf_sum = off + tb + hb;
    return 0;
}

static int64_t
check_blocks(rag_index *ix, uint64_t data_off, uint64_t blk0, uint32_t df,
             float *maxf)
{
    const unsigned char *post = ix->sec[IXS_POSTINGS];
    uint64_t limit = ix->seclen[IXS_POSTINGS] - RAG_SVB_PAD, rel = 0;
    uint32_t nb = (df + IXF_BLOCK - 1) / IXF_BLOCK, prev = 0;
    uint32_t docs[IXF_BLOCK], tfs[IXF_BLOCK];
    float mx = 0;

    for (uint32_t b = 0; b < nb; b++) {
        const unsigned char *e = ix->sec[IXS_BLOCKS] + (blk0 + b) * IXF_BLK_SZ;
        uint32_t n = b + 1 < nb ? IXF_BLOCK : df - b * IXF_BLOCK;
        uint32_t last = ixf_ld32(e), boff = ixf_ld32(e + 4);
        uint32_t db = ixf_ld16(e + 12), tb = ixf_ld16(e + 14);
        float bm = ixf_ldf(e + 8);
        uint64_t at = data_off + rel;

        if (boff != rel || at > limit || (uint64_t)db + tb > limit - at ||
            (n + 3) / 4 > db || (n + 3) / 4 > tb ||
            rag_svb_stream_len(post + at, n, RAG_SVB_1234) != db ||
            rag_svb_stream_len(post + at + db, n, RAG_SVB_0124) != tb ||
            !isfinite(bm) || bm < 0)
            return -1;
        rag_svb_decode_delta(post + at, n, prev, docs);
        rag_svb_decode_0124(post + at + db, n, tfs);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t lo = i ? docs[i - 1] : prev;
            if (docs[i] >= ix->ndocs || tfs[i] == UINT32_MAX ||
                (docs[i] <= lo && (i > 0 || b > 0)))
                return -1;
        }
        if (docs[n - 1] != last)
            return -1;
        if (ix->has_fields && check_field_block(ix, blk0 + b, n, tfs) != 0)
            return -1;
        prev = last;
        if (bm > mx)
            mx = bm;
        rel += (uint64_t)db + tb;
    }
    *maxf = mx;
    return (int64_t)rel;
}

static int
check_terms(rag_index *ix, char *err, size_t errlen)
{
    const unsigned char *tt = ix->sec[IXS_TERMTEXT];
    uint64_t post_sum = 0, blk_sum = 0, data_sum = 0;

    if (ix->seclen[IXS_TERMS] != (uint64_t)ix->nterms * IXF_TERM_SZ ||
        ix->seclen[IXS_BLOCKS] % IXF_BLK_SZ != 0 ||
        ix->seclen[IXS_POSTINGS] < RAG_SVB_PAD) {
        seterr(err, errlen, "index section sizes inconsistent with counts");
        return -1;
    }
    for (uint64_t i = 0; i < ix->nterms; i++) {
        const unsigned char *t = ix->sec[IXS_TERMS] + i * IXF_TERM_SZ;
        uint64_t doff = ixf_ld64(t), blk0 = ixf_ld64(t + 8);
        uint32_t df = ixf_ld32(t + 16), to = ixf_ld32(t + 20);
        uint32_t tl = ixf_ld32(t + 24), nb;
        float tmax = ixf_ldf(t + 28), bmax;
        int64_t dlen;

        if (tl == 0 || tl > RAG_TERM_MAX || to > ix->seclen[IXS_TERMTEXT] ||
            tl > ix->seclen[IXS_TERMTEXT] - to) {
            seterr(err, errlen, "index term %llu text out of bounds",
                   (unsigned long long)i);
            return -1;
        }
        if (i > 0) {
            const unsigned char *p = t - IXF_TERM_SZ;
            if (ixf_term_cmp((const char *)tt + ixf_ld32(p + 20),
                             ixf_ld32(p + 24), (const char *)tt + to,
                             tl) >= 0) {
                seterr(err, errlen, "index term dictionary not sorted at %llu",
                       (unsigned long long)i);
                return -1;
            }
        }
        nb = (df + IXF_BLOCK - 1) / IXF_BLOCK;
        if (df == 0 || df > ix->ndocs || doff != data_sum || blk0 != blk_sum ||
            nb > ix->seclen[IXS_BLOCKS] / IXF_BLK_SZ - blk_sum) {
            seterr(err, errlen, "index term %llu postings out of range",
                   (unsigned long long)i);
            return -1;
        }
        dlen = check_blocks(ix, doff, blk0, df, &bmax);
        if (dlen < 0 || bmax != tmax) {
            seterr(err, errlen, "index term %llu has a bad postings block",
                   (unsigned long long)i);
            return -1;
        }
        data_sum += (uint64_t)dlen;
        blk_sum += nb;
        post_sum += df;
    }
    if (post_sum != ix->npost ||
        blk_sum != ix->seclen[IXS_BLOCKS] / IXF_BLK_SZ ||
        data_sum + RAG_SVB_PAD != ix->seclen[IXS_POSTINGS] ||
        (ix->has_fields &&
         ix->fldtf_sum + RAG_SVB_PAD != ix->seclen[IXS_FLDTF])) {
        seterr(err, errlen, "index postings count inconsistent");
        return -1;
    }
    return 0;
}

/* FIELDS and FLDLEN (the per-block FBLOCKS and FLDTF are checked with
 * the postings); tabulates each field's weight / normalisation by
 * length, as the BM25 norms. */
static int
check_fields(rag_index *ix, char *err, size_t errlen)
{
    static const char *const names[RAG_INDEX_FIELDS] = {"title", "heading",
                                                        "body"};
    const unsigned char *fs = ix->sec[IXS_FIELDS];
    rag_index_fields *F = &ix->fields;
    uint64_t nd = ix->ndocs, sum[RAG_INDEX_FIELDS] = {0};
    const uint32_t *len;

    if (fs == NULL) {
        if (ix->sec[IXS_FLDLEN] || ix->sec[IXS_FBLOCKS] || ix->sec[IXS_FLDTF]) {
            seterr(err, errlen, "index field sections without FIELDS");
            return -1;
        }
        return 0;
    }
    if (!ix->sec[IXS_FLDLEN] || !ix->sec[IXS_FBLOCKS] || !ix->sec[IXS_FLDTF] ||
        ix->seclen[IXS_FIELDS] != IXF_FIELDS_SZ ||
        ix->seclen[IXS_FLDLEN] != nd * RAG_INDEX_FIELDS * 4 ||
        ix->seclen[IXS_FBLOCKS] / IXF_FBLK_SZ !=
            ix->seclen[IXS_BLOCKS] / IXF_BLK_SZ ||
        ix->seclen[IXS_FBLOCKS] % IXF_FBLK_SZ != 0 ||
        ix->seclen[IXS_FLDTF] < RAG_SVB_PAD ||
        ixf_ld32(fs) != RAG_INDEX_FIELDS || ixf_ld32(fs + 4) != 0) {
        seterr(err, errlen, "index field sections inconsistent");
        return -1;
    }
    F->p.k1 = ixf_ldd(fs + 8);
    len = (const uint32_t *)ix->sec[IXS_FLDLEN];
    for (uint64_t i = 0; i < nd * RAG_INDEX_FIELDS; i++) {
        sum[i % RAG_INDEX_FIELDS] += len[i];
        if (len[i] > F->max_len[i % RAG_INDEX_FIELDS])
            F->max_len[i % RAG_INDEX_FIELDS] = len[i];
    }
    int ok = isfinite(F->p.k1) && F->p.k1 >= 0 && F->p.k1 <= 100;
    for (int f = 0; f < RAG_INDEX_FIELDS && ok; f++) {
        const unsigned char *q = fs + 16 + f * 32;
        char name[9] = {0};
        memcpy(name, q, 8);
        F->p.weight[f] = ixf_ldd(q + 8);
        F->p.b[f] = ixf_ldd(q + 16);
        ok = strcmp(name, names[f]) == 0 && F->p.weight[f] >= 0 &&
             F->p.weight[f] <= 1000 && F->p.b[f] >= 0 && F->p.b[f] <= 1 &&
             ixf_ld64(q + 24) == sum[f];
        F->avglen[f] = nd ? (double)sum[f] / (double)nd : 0;
        if (F->avglen[f] <= 0)
            F->avglen[f] = 1;
    }
    if (!ok) {
        seterr(err, errlen, "index FIELDS invalid");
        return -1;
    }
    F->len = len;
    for (int f = 0; f < RAG_INDEX_FIELDS; f++) {
        if (F->max_len[f] >= NORM_TABLE_MAX)
            continue; /* computed per use */
        ix->wnorm[f] = malloc(((size_t)F->max_len[f] + 1) * sizeof(double));
        if (ix->wnorm[f] == NULL) {
            seterr(err, errlen, "out of memory");
            return -1;
        }
        for (uint32_t l = 0; l <= F->max_len[f]; l++)
            ix->wnorm[f][l] =
                rag_bm25f_wnorm(F->p.weight[f], F->p.b[f], l, F->avglen[f]);
        F->wnorm[f] = ix->wnorm[f];
    }
    ix->body_len16 = malloc(nd * sizeof(uint16_t) + 1);
    ix->ht_len8 = malloc(nd * 2 + 1);
    if (ix->body_len16 == NULL || ix->ht_len8 == NULL) {
        seterr(err, errlen, "out of memory");
        return -1;
    }
    for (uint64_t i = 0; i < nd; i++) {
        const uint32_t *l = len + i * RAG_INDEX_FIELDS;
        uint32_t b = l[RAG_FIELD_BODY], h = l[RAG_FIELD_HEADING];
        uint32_t t = l[RAG_FIELD_TITLE];
        ix->body_len16[i] =
            b < RAG_INDEX_LEN16_MORE ? (uint16_t)b : RAG_INDEX_LEN16_MORE;
        ix->ht_len8[2 * i] =
            h < RAG_INDEX_LEN8_MORE ? (uint8_t)h : RAG_INDEX_LEN8_MORE;
        ix->ht_len8[2 * i + 1] =
            t < RAG_INDEX_LEN8_MORE ? (uint8_t)t : RAG_INDEX_LEN8_MORE;
    }
    F->body_len16 = ix->body_len16;
    F->ht_len8 = ix->ht_len8;
    ix->has_fields = 1;
    return 0;
}

static int
check_vectors(rag_index *ix, char *err, size_t errlen)
{
    const unsigned char *vi = ix->sec[IXS_VINFO];
    const uint32_t *slot, *pos, *lists;
    uint64_t nd = ix->ndocs, dims;

    if (vi == NULL) {
        for (int k = IXS_VINFO; k <= IXS_VQ4SCALE; k++)
            if ((k <= IXS_VCENT || k >= IXS_VQ4) && ix->sec[k] != NULL) {
                seterr(err, errlen, "index vector sections without VINFO");
                return -1;
            }
        return 0;
    }
    if (ix->seclen[IXS_VINFO] != IXF_VINFO_SZ) {
        seterr(err, errlen, "index section sizes inconsistent with counts");
        return -1;
    }
    ix->dims = ixf_ld32(vi);
    ix->nlists = ixf_ld32(vi + 4);
    ix->nprobe = ixf_ld32(vi + 8);
    ix->nvec = ixf_ld32(vi + 12);
    dims = ix->dims;
    if (ix->dims == 0 || ix->dims > IXF_MAX_DIMS || ix->nvec > ix->ndocs ||
        ix->nlists > ix->nvec ||
        (ix->nlists ? ix->nprobe == 0 || ix->nprobe > ix->nlists
                    : ix->nprobe != 0)) {
        seterr(err, errlen, "index vector counts invalid");
        return -1;
    }
    for (int k = IXS_VSCALE; k <= IXS_VPOS; k++)
        if (ix->sec[k] == NULL) {
            seterr(err, errlen, "index section %s missing",
                   ixf_sections[k].name);
            return -1;
        }
    if ((ix->sec[IXS_VLISTS] != NULL) != (ix->nlists > 0) ||
        (ix->sec[IXS_VCENT] != NULL) != (ix->nlists > 0)) {
        seterr(err, errlen, "index vector lists inconsistent");
        return -1;
    }
    if (ix->seclen[IXS_VSCALE] != nd * 4 || ix->seclen[IXS_VI8] != nd * dims ||
        ix->seclen[IXS_VF32] != nd * dims * 4 ||
        ix->seclen[IXS_VSLOT] != nd * 4 || ix->seclen[IXS_VPOS] != nd * 4 ||
        (ix->nlists &&
         (ix->seclen[IXS_VLISTS] != ((uint64_t)ix->nlists + 1) * 4 ||
          ix->seclen[IXS_VCENT] != (uint64_t)ix->nlists * dims * 4))) {
        seterr(err, errlen, "index section sizes inconsistent with counts");
        return -1;
    }
    slot = (const uint32_t *)ix->sec[IXS_VSLOT];
    pos = (const uint32_t *)ix->sec[IXS_VPOS];
    for (uint64_t s = 0; s < nd; s++) {
        float sc = ixf_ldf(ix->sec[IXS_VSCALE] + s * 4);
        if (slot[s] >= nd || pos[slot[s]] != s) {
            seterr(err, errlen, "index vector slots are not a permutation");
            return -1;
        }
        if (!isfinite(sc) || (s < ix->nvec ? !(sc > 0) : sc != 0)) {
            seterr(err, errlen, "index vector scale %llu invalid",
                   (unsigned long long)s);
            return -1;
        }
    }
    for (uint64_t i = 0; i < nd * dims; i++) {
        if (!isfinite(ixf_ldf(ix->sec[IXS_VF32] + i * 4))) {
            seterr(err, errlen, "index vector value invalid");
            return -1;
        }
    }
    if ((ix->sec[IXS_VQ4] != NULL) != (ix->sec[IXS_VQ4SCALE] != NULL) ||
        (ix->sec[IXS_VQ4] &&
         (ix->seclen[IXS_VQ4] != ix->nvec * RAG_VEC_Q4_BYTES(dims) ||
          ix->seclen[IXS_VQ4SCALE] != (uint64_t)ix->nvec * 4))) {
        seterr(err, errlen, "index section sizes inconsistent with counts");
        return -1;
    }
    for (uint64_t s = 0; ix->sec[IXS_VQ4] && s < ix->nvec; s++) {
        float sc = ixf_ldf(ix->sec[IXS_VQ4SCALE] + s * 4);
        if (!isfinite(sc) || !(sc > 0)) {
            seterr(err, errlen, "index vector scale %llu invalid",
                   (unsigned long long)s);
            return -1;
        }
    }
    if (ix->nlists) {
        lists = (const uint32_t *)ix->sec[IXS_VLISTS];
        if (lists[0] != 0 || lists[ix->nlists] != ix->nvec) {
            seterr(err, errlen, "index vector lists inconsistent");
            return -1;
        }
        for (uint32_t l = 0; l < ix->nlists; l++)
            if (lists[l] > lists[l + 1]) {
                seterr(err, errlen, "index vector lists inconsistent");
                return -1;
            }
        for (uint64_t i = 0; i < (uint64_t)ix->nlists * dims; i++)
            if (!isfinite(ixf_ldf(ix->sec[IXS_VCENT] + i * 4))) {
                seterr(err, errlen, "index vector value invalid");
                return -1;
            }
    }
    return 0;
}

/* FTMODEL and FTDOCS (both or neither): the model as rag_ft checks it,
 * then every record vector finite and of unit length or zero, the
 * component likewise. A model cut by other tokenizer rules is sound but
 * unusable: the index opens without its semantic leg. */
static int
check_ft(rag_index *ix, char *err, size_t errlen)
{
    const unsigned char *fd = ix->sec[IXS_FTDOCS];
    uint64_t nd = ix->ndocs, dim, nvec = 0;
    char e2[200];
    int rc;

    if ((ix->sec[IXS_FTMODEL] == NULL) != (fd == NULL)) {
        seterr(err, errlen, "index has one of FTMODEL and FTDOCS");
        return -1;
    }
    if (fd == NULL)
        return 0;
    rc = rag_ft_model_open(&ix->ft, ix->sec[IXS_FTMODEL],
                           ix->seclen[IXS_FTMODEL], e2, sizeof(e2));
    if (rc == -2)
        return 0;
    if (rc != 0) {
        seterr(err, errlen, "index FTMODEL: %s", e2);
        return -1;
    }
    dim = ix->ft.dim;
    if (ix->seclen[IXS_FTDOCS] != IXF_FTDOCS_HDR + (nd + 1) * dim * 4 ||
        ixf_ld32(fd) != dim || ixf_ld32(fd + 4) != nd) {
        seterr(err, errlen, "index FTDOCS inconsistent with counts");
        return -1;
    }
    for (int i = 8; i < IXF_FTDOCS_HDR; i++)
        if (fd[i] != 0) {
            seterr(err, errlen, "index FTDOCS inconsistent with counts");
            return -1;
        }
    for (uint64_t r = 0; r <= nd; r++) {
        const float *v = (const float *)(fd + IXF_FTDOCS_HDR) + r * dim;
        double norm = 0;
        for (uint64_t d = 0; d < dim; d++) {
            if (!isfinite(v[d])) {
                seterr(err, errlen, "index FTDOCS value invalid");
                return -1;
            }
            norm += (double)v[d] * v[d];
        }
        if (norm != 0 && fabs(norm - 1) > 1e-3) {
            seterr(err, errlen, "index FTDOCS vector %llu not of unit length",
                   (unsigned long long)r);
            return -1;
        }
        if (r > 0 && norm != 0)
            nvec++;
    }
    ix->ft_pc = (const float *)(fd + IXF_FTDOCS_HDR);
    ix->ft_vecs = ix->ft_pc + dim;
    ix->ft_nvec = (uint32_t)nvec;
    ix->has_ft = 1;
    return 0;
}

/* PAGEID, when there: one id per record, each below the record count
 * (ids are numbered from 0 in order of first appearance). */
static int
check_pages(rag_index *ix, char *err, size_t errlen)
{
    const uint32_t *id = (const uint32_t *)ix->sec[IXS_PAGEID];

    if (id == NULL)
        return 0;
    if (ix->seclen[IXS_PAGEID] != (uint64_t)ix->ndocs * 4) {
        seterr(err, errlen, "index section PAGEID inconsistent with counts");
        return -1;
    }
    for (uint32_t i = 0; i < ix->ndocs; i++)
        if (id[i] >= ix->ndocs) {
            seterr(err, errlen, "index record %u has a bad page id", i);
            return -1;
        }
    return 0;
}

static int
validate(rag_index *ix, char *err, size_t errlen)
{
    if (check_header(ix, err, errlen) != 0 || check_meta(ix, err, errlen) ||
        check_docs(ix, err, errlen) != 0 ||
        check_fields(ix, err, errlen) != 0 ||
        check_terms(ix, err, errlen) != 0 ||
        check_vectors(ix, err, errlen) != 0 || check_ft(ix, err, errlen) != 0 ||
        check_pages(ix, err, errlen) != 0)
        return -1;
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
    /* sections are read in place as u32 and f32 arrays: a mapping is
     * page-aligned; other memory (tests, fuzzing) is copied if need be */
    if (((uintptr_t)data & (IXF_ALIGN - 1)) != 0) {
        /* exactly len bytes, so ASan sees any read past the end */
        if (posix_memalign(&ix->copy, IXF_ALIGN, len ? len : 1) != 0) {
            ix->copy = NULL;
            seterr(err, errlen, "out of memory");
            free(ix);
            return NULL;
        }
        memcpy(ix->copy, data, len);
        data = ix->copy;
    }
    ix->base = data;
    ix->len = len;
    if (validate(ix, err, errlen) != 0) {
        for (int f = 0; f < RAG_INDEX_FIELDS; f++)
            free(ix->wnorm[f]);
        free(ix->body_len16);
        free(ix->ht_len8);
        free(ix->norms);
        ZSTD_freeDDict(ix->ddict);
        free(ix->copy);
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
    char e2[256];

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
    if ((uint64_t)st.st_size < IXF_HDR || (uint64_t)st.st_size > SIZE_MAX) {
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

int
rag_index_file_major(const char *path)
{
    unsigned char b[10];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    n = read(fd, b, sizeof(b));
    close(fd);
    if (n != (ssize_t)sizeof(b) || memcmp(b, IXF_MAGIC, 8) != 0)
        return -1;
    return (int)ixf_ld16(b + 8);
}

void
rag_index_close(rag_index *ix)
{
    if (ix == NULL)
        return;
    if (ix->mapped)
        munmap((void *)ix->base, ix->len);
    ZSTD_freeDDict(ix->ddict);
    for (int f = 0; f < RAG_INDEX_FIELDS; f++)
        free(ix->wnorm[f]);
    free(ix->body_len16);
    free(ix->ht_len8);
    free(ix->norms);
    free(ix->copy);
    free(ix);
}

const char *
rag_index_language(const rag_index *ix)
{
    return ix->language[0] ? ix->language : NULL;
}

const rag_index_fields *
rag_index_fields_get(const rag_index *ix)
{
    return ix->has_fields ? &ix->fields : NULL;
}

/* ---- accessors -------------------------------------------------------- */

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

const double *
rag_index_bm25_norms(const rag_index *ix, uint32_t *max_dl)
{
    *max_dl = ix->max_dl;
    return ix->norms;
}

void
rag_index_bm25_params(const rag_index *ix, double *k1, double *b)
{
    *k1 = ix->k1;
    *b = ix->b;
}

uint32_t
rag_index_doc_len(const rag_index *ix, uint32_t i)
{
    if (i >= ix->ndocs)
        return 0;
    return ((const uint32_t *)ix->sec[IXS_DOCLEN])[i];
}

const uint32_t *
rag_index_doc_lens(const rag_index *ix)
{
    return (const uint32_t *)ix->sec[IXS_DOCLEN];
}

const uint32_t *
rag_index_page_ids(const rag_index *ix)
{
    return (const uint32_t *)ix->sec[IXS_PAGEID];
}

int
rag_index_chunk_get(const rag_index *ix, uint32_t i, rag_index_chunk *out)
{
    const unsigned char *d;
    const char *s;

    if (i >= ix->ndocs)
        return -1;
    d = ix->sec[IXS_DOCS] + (size_t)i * IXF_DOC_SZ;
    s = (const char *)ix->sec[IXS_STRINGS] + ixf_ld64(d + 8);
    out->chunk_id = (int64_t)ixf_ld64(d);
    out->url.p = s;
    out->url.len = ixf_ld32(d + 16);
    s += out->url.len;
    out->title.p = s;
    out->title.len = ixf_ld32(d + 20);
    s += out->title.len;
    out->heading_path.p = s;
    out->heading_path.len = ixf_ld32(d + 24);
    return 0;
}

int
rag_index_chunk_body(const rag_index *ix, uint32_t i, rag_index_buf *buf,
                     rag_str *out)
{
    const unsigned char *d;
    const char *s;
    uint32_t blen, stored;
    size_t got;

    out->p = "";
    out->len = 0;
    if (i >= ix->ndocs)
        return -1;
    d = ix->sec[IXS_DOCS] + (size_t)i * IXF_DOC_SZ;
    blen = ixf_ld32(d + 28);
    stored = ixf_ld32(d + 32);
    s = (const char *)ix->sec[IXS_STRINGS] + ixf_ld64(d + 8) +
        ixf_ld32(d + 16) + ixf_ld32(d + 20) + ixf_ld32(d + 24);
    if ((ixf_ld32(d + 36) & IXF_DOC_ZSTD) == 0) {
        out->p = s;
        out->len = blen;
        return 0;
    }
    if (buf->dctx == NULL && (buf->dctx = ZSTD_createDCtx()) == NULL)
        return -1;
    if (buf->cap < (size_t)blen + 1) {
        char *np = realloc(buf->p, (size_t)blen + 1);
        if (np == NULL)
            return -1;
        buf->p = np;
        buf->cap = (size_t)blen + 1;
    }
    got = ZSTD_decompress_usingDDict(buf->dctx, buf->p, blen, s, stored,
                                     ix->ddict);
    if (ZSTD_isError(got) || got != blen)
        return -1;
    buf->p[blen] = '\0';
    out->p = buf->p;
    out->len = blen;
    return 0;
}

void
rag_index_buf_free(rag_index_buf *buf)
{
    if (buf == NULL)
        return;
    ZSTD_freeDCtx(buf->dctx);
    free(buf->p);
    buf->dctx = NULL;
    buf->p = NULL;
    buf->cap = 0;
}

const char *
rag_index_meta(const rag_index *ix, const char *key, size_t *len)
{
    const char *p = (const char *)ix->sec[IXS_META];
    size_t n = ix->seclen[IXS_META], kl = strlen(key), i = 0;

    while (i < n) { /* validated: every line is "key=value\n" */
        const char *line = p + i, *nl = memchr(line, '\n', n - i);
        if (nl == NULL)
            break;
        if ((size_t)(nl - line) > kl && memcmp(line, key, kl) == 0 &&
            line[kl] == '=') {
            *len = (size_t)(nl - line) - kl - 1;
            return line + kl + 1;
        }
        i = (size_t)(nl - p) + 1;
    }
    return NULL;
}

int
rag_index_term(const rag_index *ix, const char *term, size_t len,
               rag_postings *out)
{
    size_t lo = 0, hi = ix->nterms;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const unsigned char *t = ix->sec[IXS_TERMS] + mid * IXF_TERM_SZ;
        int c = ixf_term_cmp(
            term, len, (const char *)ix->sec[IXS_TERMTEXT] + ixf_ld32(t + 20),
            ixf_ld32(t + 24));
        if (c == 0) {
            out->df = ixf_ld32(t + 16);
            out->nblocks = (out->df + IXF_BLOCK - 1) / IXF_BLOCK;
            out->max = ixf_ldf(t + 28);
            out->blk = ix->sec[IXS_BLOCKS] + ixf_ld64(t + 8) * IXF_BLK_SZ;
            out->data = ix->sec[IXS_POSTINGS] + ixf_ld64(t);
            out->fblk = out->fdata = NULL;
            if (ix->has_fields) {
                out->fblk =
                    ix->sec[IXS_FBLOCKS] + ixf_ld64(t + 8) * IXF_FBLK_SZ;
                out->fdata = ix->sec[IXS_FLDTF];
            }
            return 0;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

uint32_t
rag_postings_decode_docs(const rag_postings *pl, uint32_t b, uint32_t *docs)
{
    const unsigned char *e = pl->blk + (size_t)b * IXF_BLK_SZ;
    const unsigned char *d = pl->data + ixf_ld32(e + 4);
    uint32_t n = b + 1 < pl->nblocks ? IXF_BLOCK : pl->df - b * IXF_BLOCK;
    uint32_t prev = b ? rag_postings_block_last(pl, b - 1) : 0;

    rag_svb_decode_delta(d, n, prev, docs);
    return n;
}

uint32_t
rag_postings_decode_tfs(const rag_postings *pl, uint32_t b, uint32_t *tfs)
{
    const unsigned char *e = pl->blk + (size_t)b * IXF_BLK_SZ;
    const unsigned char *d = pl->data + ixf_ld32(e + 4);
    uint32_t n = b + 1 < pl->nblocks ? IXF_BLOCK : pl->df - b * IXF_BLOCK;

    rag_svb_decode_0124(d + ixf_ld16(e + 12), n, tfs);
    for (uint32_t i = 0; i < n; i++)
        tfs[i]++;
    return n;
}

uint32_t
rag_postings_decode(const rag_postings *pl, uint32_t b, uint32_t *docs,
                    uint32_t *tfs)
{
    rag_postings_decode_docs(pl, b, docs);
    return rag_postings_decode_tfs(pl, b, tfs);
}

int
rag_postings_decode_fields(const rag_postings *pl, uint32_t b, uint32_t *title,
                           uint32_t *heading)
{
    const unsigned char *e = pl->fblk + (size_t)b * IXF_FBLK_SZ;
    const unsigned char *d = pl->fdata + ixf_ld64(e);
    uint32_t n = b + 1 < pl->nblocks ? IXF_BLOCK : pl->df - b * IXF_BLOCK;
    uint32_t tb = ixf_ld16(e + 8), hb = ixf_ld16(e + 10);

    /* a 0124 stream of zeros is its control bytes alone */
    if (tb == (n + 3) / 4 && hb == (n + 3) / 4)
        return 0;
    rag_svb_decode_0124(d, n, title);
    rag_svb_decode_0124(d + tb, n, heading);
    return 1;
}

/* ---- vectors ---------------------------------------------------------- */

uint32_t
rag_index_vec_lists(const rag_index *ix, uint32_t *n_probe)
{
    if (n_probe)
        *n_probe = ix->nprobe;
    return ix->nlists;
}

uint32_t
rag_index_vec_count(const rag_index *ix)
{
    return ix->nvec;
}

void
rag_index_vec_list(const rag_index *ix, uint32_t l, uint32_t *first,
                   uint32_t *n)
{
    const uint32_t *v = (const uint32_t *)ix->sec[IXS_VLISTS];

    if (l >= ix->nlists) {
        *first = *n = 0;
        return;
    }
    *first = v[l];
    *n = v[l + 1] - v[l];
}

const float *
rag_index_vec_centroid(const rag_index *ix, uint32_t l)
{
    if (l >= ix->nlists)
        return NULL;
    return (const float *)ix->sec[IXS_VCENT] + (size_t)l * ix->dims;
}

const int8_t *
rag_index_vec_slot(const rag_index *ix, uint32_t s, float *scale, uint32_t *rec)
{
    if (ix->dims == 0 || s >= ix->nvec)
        return NULL;
    *scale = ((const float *)ix->sec[IXS_VSCALE])[s];
    *rec = ((const uint32_t *)ix->sec[IXS_VSLOT])[s];
    return (const int8_t *)ix->sec[IXS_VI8] + (size_t)s * ix->dims;
}

const uint8_t *
rag_index_vec_q4(const rag_index *ix, uint32_t s, const float **scales)
{
    if (ix->sec[IXS_VQ4] == NULL || s >= ix->nvec)
        return NULL;
    *scales = (const float *)ix->sec[IXS_VQ4SCALE] + s;
    return ix->sec[IXS_VQ4] + (size_t)s * RAG_VEC_Q4_BYTES(ix->dims);
}

const int8_t *
rag_index_vec_i8(const rag_index *ix, uint32_t i, float *scale)
{
    uint32_t s, rec;

    if (ix->dims == 0 || i >= ix->ndocs)
        return NULL;
    s = ((const uint32_t *)ix->sec[IXS_VPOS])[i];
    return rag_index_vec_slot(ix, s, scale, &rec);
}

int
rag_index_vec_f32(const rag_index *ix, uint32_t i, float *out)
{
    float sc;

    if (rag_index_vec_i8(ix, i, &sc) == NULL)
        return -1;
    memcpy(out, ix->sec[IXS_VF32] + (size_t)i * ix->dims * 4,
           (size_t)ix->dims * 4);
    return 0;
}

/* ---- the semantic leg --------------------------------------------------- */

const rag_ft_model *
rag_index_ft_model(const rag_index *ix)
{
    return ix->has_ft ? &ix->ft : NULL;
}

const void *
rag_index_ft_model_bytes(const rag_index *ix, size_t *len)
{
    *len = ix->has_ft ? ix->seclen[IXS_FTMODEL] : 0;
    return ix->has_ft ? ix->sec[IXS_FTMODEL] : NULL;
}

const float *
rag_index_ft_pc(const rag_index *ix)
{
    return ix->has_ft ? ix->ft_pc : NULL;
}

const float *
rag_index_ft_vecs(const rag_index *ix, uint32_t *nvec)
{
    if (nvec)
        *nvec = ix->has_ft ? ix->ft_nvec : 0;
    return ix->has_ft ? ix->ft_vecs : NULL;
}
