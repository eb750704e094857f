/*
 * rag_store_interactions — the interactions table as the nginx module
 * sees it: Discord slash commands it acknowledged (deferred) and leaves
 * for rag-bot to answer. (The bot's own functions for this table —
 * claiming and settling them — live beside these on its branch.)
 *
 * Runs on the caller's connection (rag_db.h logs errors); strings are
 * borrowed.
 */
#ifndef RAG_STORE_INTERACTIONS_H
#define RAG_STORE_INTERACTIONS_H

#include <libpq-fe.h>

/* Queues the interaction Discord sent (its JSON, already verified):
 * id, application_id, token, guild, channel, user, the member's roles,
 * the command (or component) name and its data. A replayed interaction
 * is stored once. 1 queued, 0 already there or not an interaction (no
 * id, token or application_id), -1 error. */
int rag_store_interactions_queue(PGconn *db, const char *interaction_json);

#endif
