/*
 * events — turns gateway dispatches into rows and reactions: forum
 * threads and their messages (the SQL trigger then enqueues answers),
 * the controller message, archive/lock state, votes and solved marks,
 * one ban notice per user, slash commands over the gateway.
 *
 * Runs on the main thread; json is one raw gateway payload (op 0),
 * which the caller keeps owning. Handlers are idempotent, so a
 * dispatch replayed after RESUME changes nothing twice.
 */
#ifndef RAG_BOT_EVENTS_H
#define RAG_BOT_EVENTS_H

#include "bot.h"

#include <stddef.h>

void rag_events_handle(rag_bot *b, const char *json, size_t len);

#endif
