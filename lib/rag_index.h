/*
 * rag_index — the immutable per-collection search index file.
 *
 * Written by the worker / rag-ingest from Postgres rows (the source of
 * truth), read by nginx workers (mmap, read-only, shared page cache) and
 * by the worker for retrieval. A file is written to "<path>.tmp.<pid>",
 * fsynced, renamed over <path>, and the directory fsynced, so readers
 * only ever see whole files. Readers validate every offset and length
 * before use: a corrupt or truncated file is rejected, never trusted.
 *
 * Contents: one record per chunk (chunk id, url with #anchor, title,
 * heading path, body), BM25 postings (terms from rag_terms) compressed in
 * blocks of 128 (doc-id gaps + term frequencies, Stream VByte) with each
 * block's maximum score for dynamic pruning, and, when embeddings exist,
 * int8-quantized vectors (partitioned into k-means lists for large
 * collections) plus the float32 originals for rescoring, and the
 * semantic leg trained on the collection (a fastText model and each
 * record's vector, rag_ft.h). The layout, in
 * named and versioned sections, is described in rag_index_fmt.h.
 *
 * Ownership: a rag_index_writer owns copies of everything added (record
 * strings and vectors are spilled to unlinked temporary files in $TMPDIR,
 * so its memory stays bounded); a rag_index owns its mapping;
 * rag_index_chunk views point into the mapping and live as long as the
 * rag_index; a body lives in the caller's rag_index_buf when it had to
 * be decompressed.
 */
#ifndef RAG_INDEX_H
#define RAG_INDEX_H

#include "rag_ft.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct rag_index_writer rag_index_writer;
typedef struct rag_index rag_index;

typedef struct {
    int64_t chunk_id;
    const char *url;          /* page URL with "#anchor" when known */
    const char *title;        /* page title */
    const char *heading_path; /* "Guide > Install > Debian" */
    const char *body;         /* chunk Markdown */
    const float *embedding;   /* dims floats, or NULL */
} rag_index_input;

/* The index format this build writes and reads (older and newer majors
 * are refused at open with a message saying so). */
#define RAG_INDEX_FORMAT_MAJOR 2

/* dims = 0: lexical only. */
rag_index_writer *rag_index_writer_new(uint32_t dims);
int rag_index_writer_add(rag_index_writer *w, const rag_index_input *in);
/* Like rag_index_writer_add, with extra terms for the record's heading
 * field (document expansion: the terms the docs' own index files the
 * chunk under, one a line; NULL or "" for none). They are searched as
 * heading terms, never stored or shown. */
int rag_index_writer_add_expanded(rag_index_writer *w,
                                  const rag_index_input *in,
                                  const char *expand);
/* Vector partitioning: n_lists = 0 picks by collection size (exact scan
 * below RAG_INDEX_IVF_MIN vectors, else about sqrt(n)/4 k-means lists),
 * 1 forces the exact scan, > 1 forces that many lists; n_probe = 0 picks
 * the default stored for searches. For benches and tests. */
#define RAG_INDEX_IVF_MIN 65536
void rag_index_writer_set_vector_lists(rag_index_writer *w, uint32_t n_lists,
                                       uint32_t n_probe);
/* Body compression: AUTO compresses when there are at least 1,000
 * records and RAG_INDEX_PLAIN_MAX of bodies (a zstd dictionary is
 * trained on them); ALWAYS also for small sets (the sample itself serves
 * as dictionary when training finds too little); NEVER keeps bodies
 * plain. Below RAG_INDEX_PLAIN_MAX bodies stay plain: a search reads ten
 * of them, and decompressing one with the dictionary (which resets the
 * context's tables from the dictionary each time) cost about a fifth of
 * nginx's CPU per /search over the PostgreSQL manual, against a few MB
 * more of page cache. Records say per body how it is stored (DOCS flag
 * bit 0), so files of either kind open. */
#define RAG_INDEX_PLAIN_MAX (32u << 20)
enum rag_index_compress {
    RAG_INDEX_COMPRESS_AUTO = 0,
    RAG_INDEX_COMPRESS_ALWAYS,
    RAG_INDEX_COMPRESS_NEVER
};
void rag_index_writer_set_compression(rag_index_writer *w,
                                      enum rag_index_compress mode);
/* The semantic leg: model is an FTMODEL (rag_ft.h; validated here, -1
 * with the writer's error when it is not), borrowed until write
 * returns. The writer then stores it (FTMODEL) and embeds every record
 * with it (title, heading path, body: FTDOCS, rag_index_fmt.h). 0 or -1. */
int rag_index_writer_set_ft(rag_index_writer *w, const void *model, size_t len);

/* BM25F (Robertson, Zaragoza and Taylor 2004): a term's frequencies in
 * the title, heading path and body, each divided by its field's length
 * normalisation and weighted, are summed before the one saturation:
 *   x = sum_f weight_f * tf_f / (1 - b_f + b_f * len_f / avglen_f)
 *   score = sum_terms idf * x (k1 + 1) / (x + k1)
 * Index-time parameters (the block bounds are computed with them), stored
 * in the index's FIELDS section. */
#define RAG_INDEX_FIELDS 3 /* title, heading path, body */
enum { RAG_FIELD_TITLE, RAG_FIELD_HEADING, RAG_FIELD_BODY };
typedef struct {
    double k1;
    double weight[RAG_INDEX_FIELDS];
    double b[RAG_INDEX_FIELDS];
} rag_index_bm25f;
/* The parameters new indexes get by default. */
void rag_index_bm25f_defaults(rag_index_bm25f *p);
/* p NULL: plain BM25 only (title + heading path twice + body as one bag
 * of words, no field sections); else BM25F with p (weights 0..1000, b
 * 0..1, k1 0..100). The default is rag_index_bm25f_defaults. 0 or -1. */
int rag_index_writer_set_bm25f(rag_index_writer *w, const rag_index_bm25f *p);

/* One field's weight divided by its length normalisation; the writer,
 * the reader's tables and the tests all compute it with this. */
static inline double
rag_bm25f_wnorm(double weight, double b, double len, double avglen)
{
    return weight / (1 - b + b * len / avglen);
}

/* The stemmer the terms are made with: a Snowball language (the
 * collection's, rag_terms.h: "english", "german", ...) recorded in META
 * (analyzer IXF_ANALYZER_SNOWBALL, language) so that queries are stemmed
 * as the records were; NULL: the light English stemmer (IXF_ANALYZER,
 * the default). Before the first record. 0, or -1 with err filled (an
 * unknown language names the known ones). */
int rag_index_writer_set_language(rag_index_writer *w, const char *language,
                                  char *err, size_t errlen);

/* Adds a META key (letters, digits, '_', '.', '-'; "analyzer" and
 * "language" are the writer's own) with a one-line value. 0 or -1. */
int rag_index_writer_set_meta(rag_index_writer *w, const char *key,
                              const char *value);
/* Why the last add failed (out of memory, temporary file), or "". */
const char *rag_index_writer_error(const rag_index_writer *w);
/* Writes atomically (tmp + fsync + rename). 0 or -1 with err filled. */
int rag_index_writer_write(rag_index_writer *w, const char *path,
                           uint64_t generation, char *err, size_t errlen);
void rag_index_writer_free(rag_index_writer *w);

/* NULL + err on failure; errno is ENOENT when the file does not exist. */
rag_index *rag_index_open(const char *path, char *err, size_t errlen);
/* Same checks over caller memory (not copied, must outlive the index). */
rag_index *rag_index_open_mem(const void *data, size_t len, char *err,
                              size_t errlen);
void rag_index_close(rag_index *ix);
/* The major format version in a file's header, without validating the
 * rest: 0 when there is no file, -1 when it cannot be read or is not an
 * index file. (Tells "written by an older build: rebuild" from "written
 * by a newer one: leave it" before rag_index_open refuses either.) */
int rag_index_file_major(const char *path);

uint64_t rag_index_generation(const rag_index *ix);
uint32_t rag_index_dims(const rag_index *ix);
uint32_t rag_index_count(const rag_index *ix);

typedef struct {
    const char *p;
    size_t len;
} rag_str;

typedef struct {
    int64_t chunk_id;
    rag_str url, title, heading_path;
} rag_index_chunk;

/* Fills out for record i (0 <= i < count). 0 or -1. */
int rag_index_chunk_get(const rag_index *ix, uint32_t i, rag_index_chunk *out);

/* Caller-owned scratch for bodies: zero-initialise, reuse for any number
 * of records, release with rag_index_buf_free. One thread at a time. */
typedef struct {
    char *p;
    size_t cap;
    void *dctx;
} rag_index_buf;

/* Record i's body (chunk Markdown) in *out: a view into the index when
 * stored plain, else decompressed into buf (large collections store
 * bodies zstd-compressed); valid until buf is next used or released.
 * 0, or -1 (no such record, a corrupt body, out of memory) with *out
 * empty. */
int rag_index_chunk_body(const rag_index *ix, uint32_t i, rag_index_buf *buf,
                         rag_str *out);
void rag_index_buf_free(rag_index_buf *buf);

/* The META value of key (a view into the index, not NUL-terminated), or
 * NULL. */
const char *rag_index_meta(const rag_index *ix, const char *key, size_t *len);
/* The Snowball language the index's terms were stemmed with
 * (NUL-terminated, valid while the index is open), or NULL: the light
 * English stemmer. Queries must be stemmed the same way (rag_search
 * does). */
const char *rag_index_language(const rag_index *ix);

/* ---- Lower-level read access, for rag_search and tests ----------------
 * All views point into the index's memory and were bounds-checked when
 * the index was opened. */

#define RAG_POSTINGS_BLOCK 128

/* One term's postings: ceil(df / 128) blocks of doc ids (ascending) and
 * term frequencies (title + heading path twice + body), and with BM25F
 * the title's and heading path's frequencies. */
typedef struct {
    uint32_t df;
    uint32_t nblocks;
    float max;                /* largest block max (see below) */
    const unsigned char *blk; /* nblocks entries of 16 bytes */
    const unsigned char *data;
    const unsigned char *fblk; /* BM25F: nblocks entries of 16, or NULL */
    const unsigned char *fdata;
} rag_postings;

/* Looks up an exact term (as produced by rag_terms). 0 when found. */
int rag_index_term(const rag_index *ix, const char *term, size_t len,
                   rag_postings *out);

/* Last doc id of block b. */
static inline uint32_t
rag_postings_block_last(const rag_postings *pl, uint32_t b)
{
    const unsigned char *q = pl->blk + (size_t)b * 16;
    return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
           (uint32_t)q[3] << 24;
}

/* Upper bound, over block b, of tf * (k1 + 1) / (tf + k1 * (1 - b + b *
 * dl / avgdl)): a posting's BM25 score is idf times that. */
static inline float
rag_postings_block_max(const rag_postings *pl, uint32_t b)
{
    const unsigned char *q = pl->blk + (size_t)b * 16 + 8;
    uint32_t u = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                 (uint32_t)q[3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Decodes block b into docs[] and tfs[] (RAG_POSTINGS_BLOCK entries
 * each); returns the number of postings in it. */
uint32_t rag_postings_decode(const rag_postings *pl, uint32_t b, uint32_t *docs,
                             uint32_t *tfs);
/* The same in two steps, for a reader that may need only the doc ids
 * (a search checking whether a record is in the block): each returns
 * the number of postings in block b. */
uint32_t rag_postings_decode_docs(const rag_postings *pl, uint32_t b,
                                  uint32_t *docs);
uint32_t rag_postings_decode_tfs(const rag_postings *pl, uint32_t b,
                                 uint32_t *tfs);

/* BM25F (pl->fblk set): upper bound, over block b, of x (k1 + 1) / (x +
 * k1) (see rag_index_bm25f); a posting's score is idf times that. */
static inline float
rag_postings_block_fmax(const rag_postings *pl, uint32_t b)
{
    const unsigned char *q = pl->fblk + (size_t)b * 16 + 12;
    uint32_t u = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                 (uint32_t)q[3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* BM25F: decodes block b's title and heading path frequencies (the
 * body's is tfs[i] - title[i] - 2 * heading[i]); returns 1, or 0 without
 * touching the arrays when they are all zero (the block is body only). */
int rag_postings_decode_fields(const rag_postings *pl, uint32_t b,
                               uint32_t *title, uint32_t *heading);

uint32_t rag_index_term_count(const rag_index *ix);
/* Number of BM25 terms in record i (title + heading path twice + body). */
uint32_t rag_index_doc_len(const rag_index *ix, uint32_t i);
/* All of them, count entries (aligned, host order). */
const uint32_t *rag_index_doc_lens(const rag_index *ix);
/* Each record's page id (count entries: records share an id exactly when
 * their URLs agree up to the first '#'), or NULL: an index written
 * before the PAGEID section, whose pages are read from the URLs
 * (lib/rag_search_page.h does either). */
const uint32_t *rag_index_page_ids(const rag_index *ix);
double rag_index_avgdl(const rag_index *ix);
/* The BM25 k1 and b the block maxima were computed with. */
void rag_index_bm25_params(const rag_index *ix, double *k1, double *b);
/* k1 * (1 - b + b * dl / avgdl) for dl = 0..*max_dl (the longest record),
 * or NULL when that is too long to tabulate. */
const double *rag_index_bm25_norms(const rag_index *ix, uint32_t *max_dl);

/* BM25F statistics of an index written with fields, or NULL (plain
 * BM25). Views into the index, valid while it is open. */
typedef struct {
    rag_index_bm25f p;
    double avglen[RAG_INDEX_FIELDS]; /* 1 when a field is empty throughout */
    const uint32_t *len; /* count x RAG_INDEX_FIELDS, record by record */
    /* rag_bm25f_wnorm by length 0..max_len[f], or NULL when too long to
     * tabulate */
    const double *wnorm[RAG_INDEX_FIELDS];
    uint32_t max_len[RAG_INDEX_FIELDS];
    /* the body lengths again in 16 bits, RAG_INDEX_LEN16_MORE: see len (a
     * search reads a length per posting scored: 2 bytes a record to
     * stream instead of 12) */
    const uint16_t *body_len16;
    /* the heading path's and title's lengths in a byte each, record by
     * record (heading, title), RAG_INDEX_LEN8_MORE: see len (the 12-byte
     * rows missed the cache for every field hit scored) */
    const uint8_t *ht_len8;
} rag_index_fields;
#define RAG_INDEX_LEN16_MORE 0xffffu
#define RAG_INDEX_LEN8_MORE 0xffu
const rag_index_fields *rag_index_fields_get(const rag_index *ix);

/* Record i's int8 vector (dims bytes) and its scale (value ~ q * scale);
 * NULL when the index has no vectors or record i has no embedding. */
const int8_t *rag_index_vec_i8(const rag_index *ix, uint32_t i, float *scale);
/* Copies record i's L2-normalised float32 vector into out (dims floats).
 * 0, or -1 when it has none. */
int rag_index_vec_f32(const rag_index *ix, uint32_t i, float *out);

/* Vector storage by slot (int8 vectors are stored in list order):
 * the number of k-means lists (0: none, exact scan) and the default
 * number probed; slots [first, first + n) of list l; list l's centroid
 * (dims floats, unit length); slot s's vector, scale and record. Slots
 * past the last list's (up to count) hold records without a vector. */
uint32_t rag_index_vec_lists(const rag_index *ix, uint32_t *n_probe);
uint32_t rag_index_vec_count(const rag_index *ix);
void rag_index_vec_list(const rag_index *ix, uint32_t l, uint32_t *first,
                        uint32_t *n);
const float *rag_index_vec_centroid(const rag_index *ix, uint32_t l);
const int8_t *rag_index_vec_slot(const rag_index *ix, uint32_t s, float *scale,
                                 uint32_t *rec);
/* Slot s's 4-bit codes (RAG_VEC_Q4_BYTES(dims) bytes, rag_vec.h) and in
 * *scales the scales from slot s on (value ~ (code - 8) * scale); NULL
 * when the index has none (small indexes, older files) or s is past the
 * vectors. Slots s, s + 1, ... of a list are contiguous. */
const uint8_t *rag_index_vec_q4(const rag_index *ix, uint32_t s,
                                const float **scales);

/* The semantic leg (rag_ft.h), when the index has one it can use: the
 * model; its FTMODEL bytes (to carry it into the next generation); the
 * principal component removed from the record vectors (dim floats, zero
 * when none); the record vectors (count x dim floats, unit length, zero
 * for a record without one) and how many are not zero. NULL / 0 when the
 * index has no semantic leg, or one cut by other tokenizer rules. */
const rag_ft_model *rag_index_ft_model(const rag_index *ix);
const void *rag_index_ft_model_bytes(const rag_index *ix, size_t *len);
const float *rag_index_ft_pc(const rag_index *ix);
const float *rag_index_ft_vecs(const rag_index *ix, uint32_t *nvec);

/* CRC-32C (Castagnoli), as used for the file checksum. */
uint32_t rag_crc32c(uint32_t crc, const void *p, size_t n);

#endif
