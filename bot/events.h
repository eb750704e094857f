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

/* One message object (MESSAGE_CREATE's d, or from REST, which lacks
 * guild_id: pass it, else NULL). */
void rag_events_message(rag_bot *b, yajl_val msg, const char *guild_id);

/* Inserts the thread row if parent_id is a configured forum; 1 when the
 * thread is tracked. */
int rag_events_track_thread(rag_bot *b, const char *thread_id,
                            const char *guild_id, const char *parent_id,
                            const char *name, const char *owner);

#endif
