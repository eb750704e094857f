/*
 * fuzz_webhook — the Hasura event parser behind the module's webhook on
 * arbitrary bytes: it must classify every input (enqueue, ignore,
 * invalid) without crashing, and an "enqueue" must carry bounded,
 * NUL-terminated, non-empty ids.
 */
#include "rag_event.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rag_event ev;
    char *json;
    enum rag_event_rc rc;

    if (size > 1 << 20)
        return 0;
    json = malloc(size + 1);
    if (json == NULL)
        return 0;
    memcpy(json, data, size);
    json[size] = '\0';
    rc = rag_event_parse(json, size, &ev);
    if (rc == RAG_EVENT_ENQUEUE &&
        (ev.thread_id[0] == '\0' || ev.message_id[0] == '\0' ||
         ev.event_id[0] == '\0' ||
         strlen(ev.thread_id) >= sizeof(ev.thread_id)))
        abort();
    if (rc != RAG_EVENT_ENQUEUE && ev.reason == NULL)
        abort();
    free(json);
    return 0;
}
