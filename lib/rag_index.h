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
 * heading path, body), BM25 postings (terms from rag_terms), and, when
 * embeddings exist, int8-quantized vectors plus the float32 originals for
 * rescoring.
 *
 * Ownership: a rag_index_writer owns copies of everything added; a
 * rag_index owns its mapping; rag_index_chunk views point into the
 * mapping and live as long as the rag_index.
 */
#ifndef RAG_INDEX_H
#define RAG_INDEX_H

#include <stddef.h>
#include <stdint.h>

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

/* dims = 0: lexical only. */
rag_index_writer *rag_index_writer_new(uint32_t dims);
int rag_index_writer_add(rag_index_writer *w, const rag_index_input *in);
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

uint64_t rag_index_generation(const rag_index *ix);
uint32_t rag_index_dims(const rag_index *ix);
uint32_t rag_index_count(const rag_index *ix);

typedef struct {
    const char *p;
    size_t len;
} rag_str;

typedef struct {
    int64_t chunk_id;
    rag_str url, title, heading_path, body;
} rag_index_chunk;

/* Fills out for record i (0 <= i < count). 0 or -1. */
int rag_index_chunk_get(const rag_index *ix, uint32_t i, rag_index_chunk *out);

/* ---- Lower-level read access, for rag_search and tests ----------------
 * All views point into the index's memory and were bounds-checked when
 * the index was opened. */

typedef struct {
    const unsigned char *p; /* df entries of {u32 doc, u32 tf}, LE */
    uint32_t df;
} rag_postings;

/* Looks up an exact term (as produced by rag_terms). 0 when found. */
int rag_index_term(const rag_index *ix, const char *term, size_t len,
                   rag_postings *out);

static inline uint32_t
rag_postings_doc(const rag_postings *pl, uint32_t i)
{
    const unsigned char *q = pl->p + (size_t)i * 8;
    return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
           (uint32_t)q[3] << 24;
}

static inline uint32_t
rag_postings_tf(const rag_postings *pl, uint32_t i)
{
    const unsigned char *q = pl->p + (size_t)i * 8 + 4;
    return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
           (uint32_t)q[3] << 24;
}

uint32_t rag_index_term_count(const rag_index *ix);
/* Number of BM25 terms in record i (title + heading path + body). */
uint32_t rag_index_doc_len(const rag_index *ix, uint32_t i);
double rag_index_avgdl(const rag_index *ix);

/* Record i's int8 vector (dims bytes) and its scale (value ~ q * scale);
 * NULL when the index has no vectors or record i has no embedding. */
const int8_t *rag_index_vec_i8(const rag_index *ix, uint32_t i, float *scale);
/* Copies record i's L2-normalised float32 vector into out (dims floats).
 * 0, or -1 when it has none. */
int rag_index_vec_f32(const rag_index *ix, uint32_t i, float *out);

/* CRC-32C (Castagnoli), as used for the file checksum. */
uint32_t rag_crc32c(uint32_t crc, const void *p, size_t n);

#endif
