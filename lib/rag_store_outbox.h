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
 * Everything else the bot owes Discord for a thread is a row of the
 * deliveries table (sql/030_bot_deliveries.sql): the controller message,
 * its edits, reactions, archive changes, notices, and the removal of
 * the bot's messages whose question was deleted (unpost, sql/036). They are
 * recorded in the caller's transaction together with the change that calls for
 * them, claimed and settled like replies. Within a thread the
 * controller, edits, archive changes and removals are claimed one at a
 * time in order (an archive change also waits for the removals before
 * it); reactions and notices freely.
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
    char *content; /* malloc'd */
    char *sources; /* malloc'd JSON text, or NULL */
    int abstained;
    int attempts;         /* this one included */
    long long created_ms; /* when the reply was written (epoch ms) */
} rag_outbox_reply;

/* Claims up to max due replies for worker for lease_s seconds. Returns
 * how many (*out holds them; rag_store_outbox_replies_free), -1 on
 * error. */
int rag_store_outbox_claim_replies(PGconn *db, const char *worker, long lease_s,
                                   int max, rag_outbox_reply **out);
void rag_store_outbox_replies_free(rag_outbox_reply *v, int n);

/* Records the delivery: the first part's Discord id and every part's,
 * part_ids a text[] literal ("{1,2}"; NULL: unknown), so that a deleted
 * question takes them all (sql/036_bot_unpost.sql). 1 recorded, 0 the
 * lease was lost meanwhile, -1 error. */
int rag_store_outbox_reply_delivered(PGconn *db, const char *thread_id,
                                     const char *message_id,
                                     const char *discord_id,
                                     const char *part_ids, const char *worker);

/* A failed attempt: permanent gives up now (processed, why and the
 * short failure reason kept: "unknown_channel", "server_error", ...);
 * otherwise the reply waits backoff_ms * attempts^2 (at most 300 s)
 * and is given up on (with failure) once max_attempts are used. 0 or
 * -1. */
int rag_store_outbox_reply_failed(PGconn *db, const char *thread_id,
                                  const char *message_id, const char *worker,
                                  const char *why, const char *failure,
                                  int permanent, long backoff_ms,
                                  int max_attempts);

/* Gives up, without a request, what is pending for threads marked
 * unreachable (rag_store_threads_unreachable), replies and deliveries
 * not in flight. Rows settled, or -1. */
int rag_store_outbox_fail_unreachable(PGconn *db);

/* The deliveries given up on for a thread, newest first (the
 * delivery_failures view). */
typedef struct {
    char kind[16];
    char failure[32];
    char error[256];
} rag_delivery_failure;

/* Up to max rows into out; how many, or -1. */
int rag_store_outbox_failures(PGconn *db, const char *thread_id,
                              rag_delivery_failure *out, int max);

/* Extends the leases worker holds on replies and deliveries in flight,
 * in guilds on shards it still holds (one whose shard was taken over
 * lets them run out: the new owner retries them, with the same nonces).
 * Rows updated, or -1. */
int rag_store_outbox_renew(PGconn *db, const char *worker, long lease_s);

/* --- deliveries ------------------------------------------------------- */

/* Records the thread's controller message (posted once). */
int rag_store_outbox_controller(PGconn *db, const char *thread_id);
/* Records an edit of the controller to its current state (re-armed if
 * one is pending or in flight). */
int rag_store_outbox_edit(PGconn *db, const char *thread_id);
/* Records a reaction: emoji (UTF-8) on message_id in the thread; name is
 * a short tag for the dedupe key ("eyes", "yes", "no"). */
int rag_store_outbox_react(PGconn *db, const char *thread_id,
                           const char *message_id, const char *emoji,
                           const char *name);
/* Records archiving (1) or unarchiving (0) the thread (latest wins). */
int rag_store_outbox_archive(PGconn *db, const char *thread_id, int archived);
/* Records archiving the thread again once its pending removals (unpost)
 * are settled: written before the bot reopens an archived thread to
 * delete its messages there, so that a crash between the steps still
 * ends archived. A thread's locked flag is left as it is (Discord keeps
 * it across archiving). Re-armed if recorded again. */
int rag_store_outbox_rearchive(PGconn *db, const char *thread_id);
/* The thread could not be reopened: the re-archive is not needed (rows
 * removed, or -1). */
int rag_store_outbox_rearchive_cancel(PGconn *db, const char *thread_id);
/* Records a message for the thread, once per key; body is the message
 * JSON (its nonce is added when sent). */
int rag_store_outbox_notice(PGconn *db, const char *thread_id, const char *key,
                            const char *body);
/* All of the above return 1 when recorded (or re-armed), 0 when that
 * intent was already recorded, -1 on error. */

/* A banned user is told once per guild: records that they were told
 * (ban_notices) and the notice for the thread, together. 1 recorded, 0
 * told before, -1 error. Call inside a transaction. */
int rag_store_outbox_ban_notice(PGconn *db, const char *guild_id,
                                const char *user_id, const char *thread_id,
                                const char *body);

/* LISTENs on the channels that announce work for the bot (rag_outbox:
 * replies and deliveries, rag_interactions: deferred commands). 0 or
 * -1. */
int rag_store_outbox_listen(PGconn *db);

/* After the controller id or a delivered reply was recorded (in the
 * same transaction): once both exist, records the controller edit and
 * the ✅ / ❌ reactions that open the vote. Locks the thread row, so the
 * two paths cannot both miss it. 0 or -1. */
int rag_store_outbox_controller_followups(PGconn *db, const char *thread_id);

typedef struct {
    long long id;
    char thread_id[64];
    char kind[16];      /* controller | edit | react | archive | notice |
                           unpost */
    char target_id[64]; /* react: the message; unpost: the bot's message */
    char emoji[32];     /* react */
    char key[192];      /* dedupe key: nonces derive from it */
    char *body;         /* malloc'd JSON, or NULL */
    int attempts;       /* this one included */
    long long created_ms;
} rag_delivery;

/* Claims up to max due deliveries (see above for the order). Returns
 * how many (*out; rag_store_outbox_deliveries_free) or -1. */
int rag_store_outbox_claim(PGconn *db, const char *worker, long lease_s,
                           int max, rag_delivery **out);
void rag_store_outbox_deliveries_free(rag_delivery *v, int n);

/* Settles a claimed delivery: done (discord_id may be NULL), or failed
 * as for replies (permanent, or backoff_ms * attempts^2 until
 * max_attempts). A delivery re-armed while in flight is queued again
 * instead of done. 1 settled, 0 the lease was lost, -1 error. */
int rag_store_outbox_done(PGconn *db, long long id, const char *worker,
                          const char *discord_id);
int rag_store_outbox_failed(PGconn *db, long long id, const char *worker,
                            const char *why, const char *failure, int permanent,
                            long backoff_ms, int max_attempts);

#endif
