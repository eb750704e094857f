/*
 * rag_store_interactions — slash commands seen from the database: the
 * deferred interactions the nginx module queues (the interactions table:
 * queued by the module, claimed by rag-bot with a lease, settled done or
 * failed) and the command sets Discord accepted per scope
 * (command_registrations).
 *
 * Runs on the caller's connection (rag_db.h logs errors). Claimed rows
 * are copied into caller-owned arrays; strings passed in are borrowed.
 */
#ifndef RAG_STORE_INTERACTIONS_H
#define RAG_STORE_INTERACTIONS_H

#include <libpq-fe.h>

typedef struct {
    long long id;
    char interaction_id[32];
    char application_id[32];
    char guild_id[32];   /* "" when none */
    char channel_id[32]; /* "" when none */
    char user_id[32];    /* "" when none */
    char command[40];
    char *token;        /* malloc'd */
    char *roles_json;   /* malloc'd JSON array of role ids */
    char *options_json; /* malloc'd JSON */
} rag_interaction;

/* Marks queued rows older than the 15 minutes a token lives as failed
 * ("token expired"). Rows changed, or -1. */
int rag_store_interactions_expire(PGconn *db);

/* Claims up to max queued rows (or running ones whose lease ran out)
 * for lease_s seconds, of guilds on shards owner holds
 * (rag_store_shards). Returns how many (*out;
 * rag_store_interactions_free) or -1. */
int rag_store_interactions_claim(PGconn *db, const char *owner, long lease_s,
                                 int max, rag_interaction **out);
void rag_store_interactions_free(rag_interaction *v, int n);

/* Settles a claimed row: done, or failed with why. 0 or -1. */
int rag_store_interactions_done(PGconn *db, long long id);
int rag_store_interactions_failed(PGconn *db, long long id, const char *why);

/* 1 when scope ('global' or a guild id) last registered exactly this
 * set (application and hash), 0 when not, -1 on error. */
int rag_store_interactions_commands_current(PGconn *db, const char *scope,
                                            const char *application_id,
                                            const char *hash);
/* Remembers that Discord accepted the set for scope. 0 or -1. */
int rag_store_interactions_commands_registered(PGconn *db, const char *scope,
                                               const char *application_id,
                                               const char *hash);

/* Queues the interaction Discord sent (its JSON, already verified):
 * id, application_id, token, guild, channel, user, the member's roles,
 * the command (or component) name and its data. A replayed interaction
 * is stored once. 1 queued, 0 already there or not an interaction (no
 * id, token or application_id), -1 error. */
int rag_store_interactions_queue(PGconn *db, const char *interaction_json);

#endif
