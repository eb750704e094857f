/*
 * rag_index_fmt — the index file layout, shared by the writer
 * (rag_index_write.c) and the validating reader (rag_index.c). Not a
 * public header: everything outside lib/rag_index*.c goes through
 * rag_index.h.
 *
 * Format 2. Every integer is little-endian.
 *
 *   Header, 64 bytes
 *     0  magic "RAGIDX\r\n"
 *     8  u16 major = 2        10 u16 minor = 0
 *    12  u32 header size = 64 16 u64 generation
 *    24  u64 file size        32 u32 n_docs
 *    36  u32 n_sections (1..IXF_MAX_SECT)
 *    40  u32 flags = 0        44 u32 0
 *    48  u64 0
 *    56  u32 CRC-32C of the body: [table end, EOF)
 *    60  u32 CRC-32C of [0,60) + the section table
 *   Section table at 64: n_sections x 32 bytes
 *     0  name, 8 bytes, NUL-padded ("DOCS", "POSTINGS", ...)
 *     8  u16 major  10 u16 minor
 *    12  u32 flags: bit 0 REQUIRED - a reader that does not know the
 *        section must refuse the file (an optional section it does not
 *        know is skipped)
 *    16  u64 offset  24 u64 length
 *   Sections follow in table order, each starting on a 64-byte boundary,
 *   separated by zero padding only; the file ends at the end of the last.
 *
 * A reader refuses a file whose major version it does not know, a known
 * section with an unknown major, and an unknown REQUIRED section; minors
 * only add optional content. Later work adds sections, e.g. per-field
 * BM25F statistics ("FIELDS", "FLDLEN"); the stemmer language goes in
 * META.
 *
 * Sections of format 2.0 (all major 1):
 *   META      "key=value\n" lines, UTF-8: analyzer (which rag_terms
 *             rules made the terms; a reader refuses one it does not
 *             implement), with the Snowball analyzer language (the
 *             libstemmer algorithm; a reader refuses one its libstemmer
 *             lacks), plus informational keys
 *   DOCS      n_docs x 40: i64 chunk_id, u64 str_off (into STRINGS),
 *             u32 url_len, title_len, heading_len, body_len, u32 body
 *             bytes stored, u32 flags (bit 0: the body is a zstd frame
 *             made with the BODYDICT dictionary, its content size
 *             body_len; else stored bytes == body_len); url, title,
 *             heading and stored body back to back, not NUL-terminated
 *   STRINGS   bytes
 *   BODYDICT  (large collections: over 1,000 records and
 *             RAG_INDEX_PLAIN_MAX of bodies, or on demand; smaller ones
 *             store bodies plain) a zstd dictionary trained on a sample
 *             of the bodies: compressed one by one with it, bodies keep
 *             random access at about a third of their size
 *   DOCLEN    n_docs x u32: BM25 length (terms) of each record
 *   BM25      40 bytes: u64 total doc length, u32 n_terms, u32 block
 *             size (128), f64 k1, f64 b (the block maxima below were
 *             computed with these), u64 n_postings
 *   TERMTEXT  bytes
 *   TERMS     n_terms x 32, sorted by term bytes (memcmp, shorter first),
 *             strictly increasing: u64 data_off (into POSTINGS), u64
 *             first block (index into BLOCKS), u32 df, u32 text_off,
 *             u32 text_len (1..RAG_TERM_MAX), f32 term max (the largest
 *             block max). A term has ceil(df / 128) blocks, the blocks
 *             and data of term i+1 follow those of term i.
 *   BLOCKS    16 bytes per block: u32 last doc, u32 data offset (from
 *             the term's data_off), f32 max of tf*(k1+1)/(tf+k1*(1-b+b*
 *             dl/avgdl)) over the block, rounded up, u16 doc bytes, u16
 *             tf bytes
 *   POSTINGS  per block: Stream VByte 1234 of doc-id gaps from the
 *             previous block's last doc (0 for a term's first block),
 *             then Stream VByte 0124 of tf - 1; blocks are 128 postings
 *             but a term's last; RAG_SVB_PAD zero bytes end the section
 *   VINFO     16 bytes (when embeddings): u32 dims, u32 n_lists (0: no
 *             partitioning, exact scan), u32 default n_probe, u32 number
 *             of records with a vector
 *   VSCALE    n_docs x f32, slot order: int8 scale, 0 = no vector
 *   VI8       n_docs x dims int8, slot order
 *   VF32      n_docs x dims f32, record order, L2-normalised (zero for a
 *             record without a vector)
 *   VSLOT     n_docs x u32: slot -> record (a permutation)
 *   VPOS      n_docs x u32: record -> slot (its inverse)
 *   VLISTS    (n_lists > 0) (n_lists + 1) x u32: list l holds slots
 *             [v[l], v[l+1]); v[0] = 0, v[n_lists] = records with a
 *             vector; slots past it hold the records without one
 *   VCENT     (n_lists > 0) n_lists x dims f32 centroids (unit length)
 *   VQ4       (optional, with VQ4SCALE; written when n_lists > 0) the
 *             first number-of-records-with-a-vector slots' unit vectors
 *             in 4-bit codes, RAG_VEC_Q4_BYTES(dims) bytes each
 *             (lib/rag_vec.h's layout), slot order: the search ranks the
 *             probed lists with them (half the bytes of VI8) and rescores
 *             the best with VF32
 *   VQ4SCALE  (with VQ4) the same slots' 4-bit scales, f32, all > 0
 *
 * Optional sections of the semantic leg (lib/rag_ft.h), both or neither:
 *   FTMODEL   the fastText model trained on the collection: vocabulary,
 *             word vectors, subword bucket rows (layout in rag_ft.h); the
 *             same bytes from one generation to the next until the worker
 *             re-trains
 *   FTDOCS    64-byte header: u32 dim (the model's), u32 n_docs, zeros;
 *             then dim f32: the first principal component removed from
 *             every vector (unit length, or zero: none); then n_docs x
 *             dim f32, record order: each record's SIF vector of title,
 *             heading path and body, that component removed,
 *             L2-normalised (zero: no token had a vector)
 *
 * BM25F (optional sections, all four or none; without them a reader
 * ranks with BM25 over DOCLEN and the POSTINGS tfs):
 *   FIELDS    112 bytes: u32 n_fields = 3, u32 0, f64 k1, then per field
 *             (title, heading path, body) 32 bytes: name (8 bytes,
 *             NUL-padded), f64 weight, f64 b, u64 total length (terms)
 *   FLDLEN    n_docs x 3 u32: each record's field lengths (terms)
 *   FBLOCKS   16 bytes per block of BLOCKS (same numbering): u64 offset
 *             into FLDTF, u16 title stream bytes, u16 heading stream
 *             bytes, f32 max over the block of x(k1+1)/(x+k1), rounded
 *             up, where x = sum over fields of weight * tf / (1 - b + b *
 *             len / avglen)
 *   FLDTF     per block: Stream VByte 0124 of the title tfs, then of the
 *             heading tfs (the body's is the POSTINGS tf minus the title's
 *             minus twice the heading's); RAG_SVB_PAD zero bytes end it
 *
 * Page ids (optional; without it a reader groups records by their URLs):
 *   PAGEID    n_docs x u32: each record's page (its URL up to the first
 *             '#', lib/rag_search_page.h) numbered 0, 1, ... in order of
 *             first appearance; two records have the same id exactly when
 *             their pages are the same bytes
 */
#ifndef RAG_INDEX_FMT_H
#define RAG_INDEX_FMT_H

#include <stdint.h>
#include <string.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "rag_index: sections are read in place; little-endian only"
#endif

#define IXF_MAGIC "RAGIDX\r\n"
#define IXF_MAJOR 2
#define IXF_MINOR 0
#define IXF_HDR 64
#define IXF_SECT_SZ 32
#define IXF_MAX_SECT 64
#define IXF_ALIGN 64
#define IXF_SECT_REQUIRED 1u

#define IXF_DOC_SZ 40
#define IXF_DOC_ZSTD 1u
#define IXF_TERM_SZ 32
#define IXF_BLK_SZ 16
#define IXF_BM25_SZ 40
#define IXF_VINFO_SZ 16
#define IXF_FTDOCS_HDR 64
#define IXF_NFIELDS 3 /* title, heading path, body */
#define IXF_FIELDS_SZ (16 + IXF_NFIELDS * 32)
#define IXF_FBLK_SZ 16
#define IXF_BLOCK 128 /* postings per block */
#define IXF_MAX_DIMS 8192
#define IXF_MAX_FIELD (64u * 1024 * 1024) /* one string of one record */

/* The analyzer this build implements: rag_terms' rules (light English
 * stemmer, identifiers, SQL phrases), heading counted twice. */
#define IXF_ANALYZER "rag_terms-en/1"
/* The same rules with a Snowball stemmer (META language) instead. */
#define IXF_ANALYZER_SNOWBALL "rag_terms-snowball/1"

/* BM25 parameters the writer uses. */
#define IXF_K1 1.2
#define IXF_B 0.75

/* BM25F defaults (rag_index_bm25f_defaults). Over eval/sets (page
 * recall@5, one hit per page) weights 1-8 for title and heading, b 0.3-0.9
 * and k1 0.9-2 all landed within two questions of the heading-twice bag of
 * words (0.676): 0.659-0.682. These gave 0.682; the heading, the
 * section's own, above the title every chunk of a page shares. */
#define IXF_BM25F_K1 1.2
#define IXF_W_TITLE 3.0
#define IXF_W_HEADING 5.0
#define IXF_W_BODY 1.0
#define IXF_B_TITLE 0.5
#define IXF_B_HEADING 0.5
#define IXF_B_BODY 0.75

enum ixf_sect {
    IXS_META,
    IXS_DOCS,
    IXS_STRINGS,
    IXS_DOCLEN,
    IXS_BM25,
    IXS_TERMTEXT,
    IXS_TERMS,
    IXS_BLOCKS,
    IXS_POSTINGS,
    IXS_VINFO,
    IXS_VSCALE,
    IXS_VI8,
    IXS_VF32,
    IXS_VSLOT,
    IXS_VPOS,
    IXS_VLISTS,
    IXS_VCENT,
    IXS_BODYDICT,
    IXS_FTMODEL,
    IXS_FTDOCS,
    IXS_FIELDS,
    IXS_FLDLEN,
    IXS_FBLOCKS,
    IXS_FLDTF,
    IXS_VQ4,
    IXS_VQ4SCALE,
    IXS_PAGEID,
    IXS_COUNT
};

/* name, major, required: the sections this build writes and reads */
static const struct {
    char name[9];
    uint16_t major;
    int required;
} ixf_sections[IXS_COUNT] = {
    {"META", 1, 1},     {"DOCS", 1, 1},     {"STRINGS", 1, 1}, {"DOCLEN", 1, 1},
    {"BM25", 1, 1},     {"TERMTEXT", 1, 1}, {"TERMS", 1, 1},   {"BLOCKS", 1, 1},
    {"POSTINGS", 1, 1}, {"VINFO", 1, 1},    {"VSCALE", 1, 1},  {"VI8", 1, 1},
    {"VF32", 1, 1},     {"VSLOT", 1, 1},    {"VPOS", 1, 1},    {"VLISTS", 1, 1},
    {"VCENT", 1, 1},    {"BODYDICT", 1, 1}, {"FTMODEL", 1, 0}, {"FTDOCS", 1, 0},
    {"FIELDS", 1, 0},   {"FLDLEN", 1, 0},   {"FBLOCKS", 1, 0}, {"FLDTF", 1, 0},
    {"VQ4", 1, 0},      {"VQ4SCALE", 1, 0}, {"PAGEID", 1, 0},
};

static inline uint16_t
ixf_ld16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t
ixf_ld32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint64_t
ixf_ld64(const unsigned char *p)
{
    return (uint64_t)ixf_ld32(p) | (uint64_t)ixf_ld32(p + 4) << 32;
}

static inline float
ixf_ldf(const unsigned char *p)
{
    uint32_t u = ixf_ld32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline double
ixf_ldd(const unsigned char *p)
{
    uint64_t u = ixf_ld64(p);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static inline void
ixf_st16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static inline void
ixf_st32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static inline void
ixf_st64(unsigned char *p, uint64_t v)
{
    ixf_st32(p, (uint32_t)v);
    ixf_st32(p + 4, (uint32_t)(v >> 32));
}

static inline void
ixf_stf(unsigned char *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    ixf_st32(p, u);
}

static inline void
ixf_std(unsigned char *p, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    ixf_st64(p, u);
}

static inline uint64_t
ixf_align(uint64_t v)
{
    return (v + IXF_ALIGN - 1) & ~(uint64_t)(IXF_ALIGN - 1);
}

/* term order: by bytes, shorter first on a common prefix */
static inline int
ixf_term_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return (al > bl) - (al < bl);
}

#endif
