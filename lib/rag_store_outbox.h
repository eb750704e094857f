/*
 * rag_store_outbox — what the bot owes Discord, and its delivery
 * bookkeeping. Replies are the messages rows with from_bot (written by
 * the worker): claimed with a lease (locked_by, lease_until), delivered
 * once (discord_message_id, processed), or given up on with the reason
 * (processed, last_error, no discord_message_id: the outbox_failed
 * view).
 *
 * A claim takes only the oldest undelivered reply of a thread, and none
 * while another reply of that thread is leased, so the parts of two
 * replies never interleave, whichever process delivers them. Leases
 * are renewed while a delivery is in flight (rag_store_outbox_renew).
 *
 * Runs on the caller's connection (rag_db.h logs errors). Claimed rows
 * are copied into caller-owned arrays.
 */
#ifndef RAG_STORE_OUTBOX_H
#define RAG_STORE_OUTBOX_H

#include <libpq-fe.h>

typedef struct {
    char thread_id[64];
    char message_id[128];
    char *content;      /* malloc'd */
    char *sources;      /* malloc'd JSON text, or NULL */
    int abstained;
    int attempts;       /* this one included */
    long long created_ms; /* when the reply was written (epoch ms) */
} rag_outbox_reply;

/* Claims up to max due replies for worker for lease_s seconds. Returns
 * how many (*out holds them; rag_store_outbox_replies_free), -1 on
 * error. */
int rag_store_outbox_claim_replies(PGconn *db, const char *worker,
                                   long lease_s, int max,
                                   rag_outbox_reply **out);
void rag_store_outbox_replies_free(rag_outbox_reply *v, int n);

/* Records the delivery (first part's Discord id). 1 recorded, 0 the
 * lease was lost meanwhile, -1 error. */
int rag_store_outbox_reply_delivered(PGconn *db, const char *thread_id,
                                     const char *message_id,
                                     const char *discord_id,
                                     const char *worker);

/* A failed attempt: permanent gives up now (processed, why kept);
 * otherwise the reply waits backoff_ms * attempts^2 (at most 300 s)
 * and is given up on once max_attempts are used. 0 or -1. */
int rag_store_outbox_reply_failed(PGconn *db, const char *thread_id,
                                  const char *message_id, const char *worker,
                                  const char *why, int permanent,
                                  long backoff_ms, int max_attempts);

/* Extends the leases worker holds on replies in flight. Rows updated,
 * or -1. */
int rag_store_outbox_renew(PGconn *db, const char *worker, long lease_s);

#endif
