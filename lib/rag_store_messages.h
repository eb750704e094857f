/*
 * rag_store_messages — the messages table seen from the bot: users'
 * forum messages it stores (the table's AFTER INSERT trigger enqueues
 * the answer job when one is warranted). Replies (from_bot rows) are
 * written by the worker and delivered through rag_store_outbox.
 *
 * Runs on the caller's connection (rag_db.h logs errors).
 */
#ifndef RAG_STORE_MESSAGES_H
#define RAG_STORE_MESSAGES_H

#include <libpq-fe.h>

typedef struct {
    const char *thread_id, *message_id, *author_id;
    const char *content; /* NULL: "" */
    int first;           /* the post's starter message */
    int mentions_bot, replies_to_bot;
} rag_user_message;

/* Stores a user message once (processed: nothing to deliver). 1 stored,
 * 0 already there (a replayed event), -1 error. */
int rag_store_messages_insert_user(PGconn *db, const rag_user_message *m);

#endif
