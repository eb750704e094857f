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

/* After a crash Discord may have forgotten a nonce: looks among recent
 * (a GET .../messages array) for a message the bot posted after
 * since_ms whose first embed has the title and description of body's
 * (the title alone when title_only). Copies its id into out, or "". */
void rag_outbox_find_posted(rag_bot *b, yajl_val recent, const char *body,
                            long long since_ms, int title_only, char *out,
                            size_t outlen);

#endif
