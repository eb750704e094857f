/*
 * fuzz_gateway — the gateway payload parser (rag_gw_parse) and the JSON
 * field walkers the event handlers use on dispatch data, plus the
 * answer splitter on the same bytes as text.
 */
#include "bot.h"
#include "embed.h"
#include "gateway.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rag_gw_msg m;
    yajl_val root, d;
    char **parts = NULL;
    long n;
    volatile size_t sink = 0;

    (void)rag_gw_parse((const char *)data, size, &m);
    root = rag_json_parse((const char *)data, size);
    if (root) {
        d = rag_json_get(root, "d", NULL);
        if (rag_json_str(d, "author", "id", NULL))
            sink++;
        if (rag_json_str(d, "referenced_message", "author", "id", NULL))
            sink++;
        if (rag_json_bool(d, "thread_metadata", "archived", NULL) == 1)
            sink++;
        sink += (size_t)rag_json_int(d, 0, "type", NULL);
        yajl_tree_free(root);
    }
    if (size < 20000) {
        n = rag_embed_split((const char *)data,
                            strnlen((const char *)data, size), 64 + size % 200,
                            &parts);
        rag_embed_parts_free(parts, n);
    }
    (void)sink;
    return 0;
}
