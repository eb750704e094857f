/*
 * outbox — delivers bot replies from the messages table (from_bot and
 * not processed): claim with a lease, POST with a per-part nonce and
 * enforce_nonce so a retry after a crash never posts twice, record the
 * Discord message id, refresh the controller and add the vote
 * reactions. Discord remembers nonces only for a few minutes, so a retry
 * first looks among the thread's recent messages for a part the bot
 * already posted (same first embed, posted after the reply was written)
 * and does not post it again. Permanent failures (deleted thread, no access, bad body)
 * mark the row processed with last_error and no discord_message_id;
 * transient ones release the lease with backoff.
 */
#ifndef RAG_BOT_OUTBOX_H
#define RAG_BOT_OUTBOX_H

#include "bot.h"

/* Delivers what is due; returns how many rows were handled. lease_s is
 * how long a claim lasts before another bot may take the row over. */
int rag_outbox_run(rag_bot *b, long lease_s);

/* 1 when a Discord error is permanent for this reply. */
int rag_outbox_permanent(long status, int code);

#endif
