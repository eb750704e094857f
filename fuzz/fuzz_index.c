/*
 * fuzz_index — the index reader on arbitrary bytes: rag_index_open_mem
 * must reject anything malformed without crashing; when a buffer does
 * open, every record and a search over it must be safe too.
 *
 * The checksum makes mutated inputs fail early, so each input is also
 * tried a second time with its size and CRC re-stamped: that drives the
 * structural checks behind the checksum (offsets, counts, dictionary
 * order, postings, vectors).
 */
#include "rag_index.h"
#include "rag_search.h"

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
    char snip[128];

    if (ix == NULL)
        return;
    for (uint32_t i = 0; i < rag_index_count(ix) && i < 64; i++) {
        if (rag_index_chunk_get(ix, i, &c) == 0)
            rag_snippet(c.body.p, c.body.len, "index pg_dump", 13, snip,
                        sizeof(snip));
    }
    rag_query q = {"index pg_dump create table", 26, NULL, 10,
                   RAG_SEARCH_HYBRID};
    rag_search(ix, &q, hits);
    if (rag_index_dims(ix) > 0 && rag_index_dims(ix) <= 4096) {
        float *qv = calloc(rag_index_dims(ix), sizeof(float));
        if (qv) {
            qv[0] = 1;
            q.qvec = qv;
            rag_search(ix, &q, hits);
            q.mode = RAG_SEARCH_VECTOR;
            rag_search(ix, &q, hits);
            free(qv);
        }
    }
    rag_index_close(ix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy;
    uint32_t crc;

    exercise(data, size);
    if (size < 64)
        return 0;
    /* the same bytes with a valid checksum and file size */
    copy = malloc(size);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    for (int i = 0; i < 8; i++)
        copy[24 + i] = (uint8_t) ((uint64_t) size >> (8 * i));
    crc = rag_crc32c(rag_crc32c(0, copy, 60), copy + 64, size - 64);
    for (int i = 0; i < 4; i++)
        copy[60 + i] = (uint8_t) (crc >> (8 * i));
    exercise(copy, size);
    free(copy);
    return 0;
}
