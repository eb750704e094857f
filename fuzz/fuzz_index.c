/*
 * fuzz_index — the index reader on arbitrary bytes: rag_index_open_mem
 * must reject anything malformed without crashing; when a buffer does
 * open, every record and a search over it must be safe too. The same
 * bytes also go through rag_terms and rag_snippet as text.
 *
 * The checksums make mutated inputs fail early, so each input is also
 * tried a second time with its size and both CRCs (body, header + table)
 * re-stamped: that drives the structural checks behind them (section
 * table, counts, dictionary order, postings blocks and their Stream
 * VByte streams, vector permutation and lists).
 */
#include "rag_index.h"
#include "rag_search.h"
#include "rag_terms.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void
exercise(const uint8_t *data, size_t size)
{
    char err[256];
    rag_index *ix = rag_index_open_mem(data, size, err, sizeof(err));
    rag_hit hits[RAG_SEARCH_MAX_K];
    rag_index_chunk c;
    rag_index_buf zb = {NULL, 0, NULL};
    rag_str body;
    char snip[128];

    if (ix == NULL)
        return;
    for (uint32_t i = 0; i < rag_index_count(ix) && i < 64; i++) {
        if (rag_index_chunk_get(ix, i, &c) == 0 &&
            rag_index_chunk_body(ix, i, &zb, &body) == 0)
            rag_snippet(body.p, body.len, "index pg_dump", 13, snip,
                        sizeof(snip));
    }
    rag_index_buf_free(&zb);
    rag_query q = {
        "index pg_dump create table", 26, NULL, 10, RAG_SEARCH_HYBRID, 0};
    rag_search(ix, &q, hits);
    q.k = 1;
    rag_search(ix, &q, hits);
    q.k = 10;
    if (rag_index_term_count(ix) > 0) {
        size_t ml;
        rag_index_meta(ix, "analyzer", &ml);
    }
    if (rag_index_dims(ix) > 0 && rag_index_dims(ix) <= 4096) {
        float *qv = calloc(rag_index_dims(ix), sizeof(float));
        if (qv) {
            rag_search_opts one = {1, RAG_SEARCH_FT_AUTO, 0},
                            all = {UINT32_MAX, RAG_SEARCH_FT_ALWAYS, 0};
            qv[0] = 1;
            q.qvec = qv;
            rag_search(ix, &q, hits);
            q.mode = RAG_SEARCH_VECTOR;
            rag_search(ix, &q, hits);
            rag_search_ex(ix, &q, &one, hits);
            rag_search_ex(ix, &q, &all, hits);
            free(qv);
        }
    }
    rag_index_close(ix);
}

static int
count_term(void *ud, const char *t, size_t n, size_t off, size_t len)
{
    size_t *total = ud;
    /* every term is bounded and points inside the input */
    if (n == 0 || n > RAG_TERM_MAX)
        __builtin_trap();
    *total += n + off + len;
    return 0;
}

/* The tokenizer and the snippet maker on the same arbitrary bytes (both
 * see untrusted text: chunk bodies and user queries). */
static void
text_paths(const uint8_t *data, size_t size)
{
    char snip[97];
    size_t total = 0, n;
    const char *t = (const char *)data;

    rag_terms_each(t, size, count_term, &total);
    n = rag_snippet(t, size, t, size < 64 ? size : 64, snip, sizeof(snip));
    if (n >= sizeof(snip) || snip[n] != '\0')
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy;
    uint32_t crc, nsect;
    uint64_t te;

    text_paths(data, size);
    exercise(data, size);
    if (size < 64)
        return 0;
    /* the same bytes with valid checksums and file size */
    copy = malloc(size);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    for (int i = 0; i < 8; i++)
        copy[24 + i] = (uint8_t)((uint64_t)size >> (8 * i));
    nsect = (uint32_t)copy[36] | (uint32_t)copy[37] << 8 |
            (uint32_t)copy[38] << 16 | (uint32_t)copy[39] << 24;
    te = 64 + (uint64_t)nsect * 32;
    if (te <= size) {
        crc = rag_crc32c(0, copy + te, size - te);
        for (int i = 0; i < 4; i++)
            copy[56 + i] = (uint8_t)(crc >> (8 * i));
        crc = rag_crc32c(rag_crc32c(0, copy, 60), copy + 64, te - 64);
        for (int i = 0; i < 4; i++)
            copy[60 + i] = (uint8_t)(crc >> (8 * i));
    }
    exercise(copy, size);
    free(copy);
    return 0;
}
