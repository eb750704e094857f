/*
 * catchup — after a fresh gateway session (READY: nothing is replayed),
 * fetch over REST what happened while the bot was away, so no question
 * is lost to downtime (the original dropped them):
 *   - active threads of each configured guild whose forum is configured
 *     but which have no row: tracked, starter message processed;
 *   - open tracked threads active in the last 7 days: messages after the
 *     newest one stored, processed oldest first.
 * Everything goes through the normal event handlers, which are
 * idempotent, so overlapping with live dispatches is harmless. The
 * requests run asynchronously beside everything else.
 */
#ifndef RAG_BOT_CATCHUP_H
#define RAG_BOT_CATCHUP_H

#include "bot.h"

#define RAG_CATCHUP_MAX_THREADS 200

/* Queues the catch-up requests (at most one run at a time; their
 * answers are handled as they come, and "catch-up done" is logged when
 * the last one is). Returns how many tracked threads are looked at. */
int rag_catchup_run(rag_bot *b);

#endif
