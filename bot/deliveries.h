/*
 * deliveries — the bot's Discord writes other than replies, delivered
 * from the deliveries table (lib/rag_store_outbox.h): a thread's
 * controller message, the controller's edits, reactions, archive changes
 * and notices. Each claimed row becomes one asynchronous request, built
 * when it is sent (an edit shows the thread's state at that moment).
 *
 * A controller or notice is POSTed with a nonce derived from its dedupe
 * key and enforce_nonce, so a retry after a crash returns the message
 * Discord already created; when the retry comes after Discord forgot
 * the nonce, the thread's recent messages are searched for it first.
 * The controller's id is recorded in the transaction that settles the
 * delivery, which also records the edit and ✅ / ❌ reactions once the
 * thread has been answered. Failures settle as for replies (outbox.h).
 */
#ifndef RAG_BOT_DELIVERIES_H
#define RAG_BOT_DELIVERIES_H

#include "bot.h"

/* Claims what is due and starts it; returns how many were claimed. */
int rag_deliveries_run(rag_bot *b);

#endif
