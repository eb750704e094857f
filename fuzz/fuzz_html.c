/* libFuzzer target: HTML -> Markdown on arbitrary bytes, then the chunker
 * on the result (the real pipeline). Input: first byte picks a selector,
 * the rest is the page. */
#include "rag_chunk.h"
#include "rag_html.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *sel[] = {NULL, "div.body", "#main, article",
                                "div[role=main]", "p"};
    rag_html_doc d;
    rag_chunks cs;
    rag_chunk_opts o = {120, 20, 20, 1};
    char err[256];

    if (size == 0)
        return 0;
    if (rag_html_convert((const char *) data + 1, size - 1,
                         "https://docs.example.org/a/b?c=d",
                         sel[data[0] % 5], NULL, &d, err, sizeof(err)) != 0)
        return 0;
    if (strlen(d.markdown) != d.markdown_len)
        __builtin_trap();
    if (rag_chunk_markdown(d.markdown, d.markdown_len, d.title, &o, &cs) == 0)
        rag_chunks_free(&cs);
    rag_html_doc_free(&d);
    return 0;
}
