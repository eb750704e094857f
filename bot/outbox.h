/*
 * outbox — delivers bot replies from the messages table (from_bot and
 * not processed): claim with a lease (one reply per thread at a time,
 * renewed while in flight), POST with a per-part nonce and
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

/* Claims what is due and starts delivering it (asynchronously: parts
 * are posted one after another as Discord answers); returns how many
 * replies were claimed. */
int rag_outbox_run(rag_bot *b);

/* Extends the leases of replies still in flight (call every lease/3). */
void rag_outbox_renew(rag_bot *b);

/* 1 when a Discord error is permanent for this reply. */
int rag_outbox_permanent(long status, int code);

#endif
