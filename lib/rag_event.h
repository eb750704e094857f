/*
 * rag_event — parse and validate a Hasura event-trigger payload for the
 * messages table (the module's webhook; fuzzed in fuzz/fuzz_webhook.c).
 *
 *   {"id": "...", "created_at": "...", "delivery_info": {...},
 *    "trigger": {"name": ...}, "table": {"schema": ..., "name": ...},
 *    "event": {"op": "INSERT", "data": {"old": null, "new": {...}}}}
 *
 * Pure: no I/O, no globals. The strings in rag_event are copies inside
 * the struct (bounded), so it needs no freeing.
 */
#ifndef RAG_EVENT_H
#define RAG_EVENT_H

#include <stddef.h>

enum rag_event_rc {
    RAG_EVENT_ENQUEUE = 0, /* a new user message: thread_id/message_id set */
    RAG_EVENT_IGNORE,      /* valid event needing no answer (reason set) */
    RAG_EVENT_INVALID      /* not a valid event (reason set) -> 400 */
};

typedef struct {
    char event_id[129];
    char thread_id[65];
    char message_id[129];
    const char *reason; /* static string */
} rag_event;

/* json must be NUL-terminated at json[len]. */
enum rag_event_rc rag_event_parse(const char *json, size_t len, rag_event *ev);

#endif
