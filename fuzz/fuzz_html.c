/* libFuzzer target: HTML -> Markdown on arbitrary bytes, then the chunker
 * on the result (the real pipeline). Input: first byte picks a selector
 * and an HTTP charset (none, Latin-1, Shift_JIS, UTF-16), the rest is
 * the page; the Markdown must be valid UTF-8. */
#include "rag_charset.h"
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
    static const char *charsets[] = {NULL, "iso-8859-1", "shift_jis",
                                     "utf-16le"};
    rag_html_doc d;
    rag_chunks cs;
    rag_chunk_opts o = {120, 20, 20, 1};
    char err[256];

    if (size == 0)
        return 0;
    if (rag_html_convert((const char *)data + 1, size - 1,
                         "https://docs.example.org/a/b?c=d", sel[data[0] % 5],
                         charsets[(data[0] / 5) % 4], &d, err,
                         sizeof(err)) != 0)
        return 0;
    if (strlen(d.markdown) != d.markdown_len ||
        !rag_utf8_valid(d.markdown, d.markdown_len) ||
        !rag_utf8_valid(d.title, strlen(d.title)))
        __builtin_trap();
    if (rag_chunk_markdown(d.markdown, d.markdown_len, d.title, &o, &cs) == 0)
        rag_chunks_free(&cs);
    rag_html_doc_free(&d);
    return 0;
}
