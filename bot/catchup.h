/*
 * catchup — after a fresh gateway session (READY: nothing is replayed),
 * fetch over REST what happened while the bot was away, so no question
 * is lost to downtime (the original dropped them):
 *   - active threads of each configured guild whose forum is configured
 *     but which have no row: tracked, starter message processed;
 *   - open tracked threads active in the last 7 days: messages after the
 *     newest one stored, processed oldest first.
 * Everything goes through the normal event handlers, which are
 * idempotent, so overlapping with live dispatches is harmless.
 */
#ifndef RAG_BOT_CATCHUP_H
#define RAG_BOT_CATCHUP_H

#include "bot.h"

#define RAG_CATCHUP_MAX_THREADS 200

/* Returns how many messages were handed to the handlers. */
int rag_catchup_run(rag_bot *b);

#endif
