/*
 * outbox — delivers bot replies from the messages table (from_bot and
 * not processed): claim with a lease (one reply per thread at a time,
 * renewed while in flight), POST with a per-part nonce and
 * enforce_nonce so a retry after a crash never posts twice, record the
 * Discord message id, refresh the controller and add the vote
 * reactions. Discord remembers nonces only for a few minutes, so a retry
 * first looks among the thread's recent messages for a part the bot
 * already posted (same first embed, posted after the reply was written)
 * and does not post it again. Failures that cannot heal (deleted thread,
 * no access, no permission, bad body) mark the row processed with the
 * reason and no discord_message_id; 5xx and no response release the
 * lease with backoff, a bounded number of times. A thread whose channel
 * is gone is marked unreachable: what else it has pending fails without
 * a request.
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

/* What a failed Discord request means for a delivery. */
typedef struct {
    int permanent;       /* cannot heal: give up now */
    int channel_gone;    /* the thread's channel is gone / out of reach */
    const char *failure; /* short reason: "unknown_channel", ... */
} rag_outbox_verdict;

/* Classifies a final REST result (status 0: no response). 4xx that
 * cannot heal (10003 Unknown Channel, 10008 Unknown Message, 50001
 * Missing Access, 50013 Missing Permissions, bad bodies, ...) are
 * permanent; 5xx, 429 and no response are not (the attempts are
 * bounded by the caller). */
void rag_outbox_classify(long status, int code, rag_outbox_verdict *v);

/* 1 when a Discord error is permanent for a delivery. */
int rag_outbox_permanent(long status, int code);

/* Settles a failed attempt's side effects shared by every delivery:
 * logs it and, when the channel is gone, marks the thread unreachable
 * (its other deliveries then fail without a request). why is written
 * into (a description of the error, for last_error). */
void rag_outbox_failed_request(rag_bot *b, const char *thread_id,
                               const char *what, const rag_rest_result *res,
                               rag_outbox_verdict *v, char *why, size_t whylen);

/* After a crash Discord may have forgotten a nonce: looks among recent
 * (a GET .../messages array) for a message the bot posted after
 * since_ms whose first embed has the title and description of body's
 * (the title alone when title_only). Copies its id into out, or "". */
void rag_outbox_find_posted(rag_bot *b, yajl_val recent, const char *body,
                            long long since_ms, int title_only, char *out,
                            size_t outlen);

#endif
