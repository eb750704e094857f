/* libFuzzer target: the Markdown chunker on arbitrary bytes, checking its
 * guarantees (partition of the input, size limit, bounded overlap). */
#include "rag_chunk.h"
#include "rag_tokens.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rag_chunks cs;
    rag_chunk_opts o;
    size_t pos = 0;

    if (size < 2)
        return 0;
    o.max_tokens = 50 + data[0] * 4;
    o.overlap_tokens = data[1] % 60;
    o.min_tokens = 0;
    o.explicit_ids = data[1] & 1;
    data += 2;
    size -= 2;
    if (rag_chunk_markdown((const char *)data, size, "Fuzz", &o, &cs) != 0)
        return 0;
    for (size_t i = 0; i < cs.n; i++) {
        const rag_chunk *c = &cs.v[i];
        const char *nl = memchr(data + c->off, '\n', c->len);
        int one_line = nl == NULL ||
                       (size_t)(nl - (const char *)data) == c->off + c->len - 1;
        if (c->off != pos || c->len == 0)
            __builtin_trap();
        if (c->tokens > o.max_tokens && !one_line)
            __builtin_trap();
        if (c->overlap_off > c->off ||
            rag_tokens_estimate((const char *)data + c->overlap_off,
                                c->off - c->overlap_off) > o.overlap_tokens)
            __builtin_trap();
        pos = c->off + c->len;
    }
    if (pos != size)
        __builtin_trap();
    rag_chunks_free(&cs);
    return 0;
}
