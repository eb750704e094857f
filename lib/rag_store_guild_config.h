/*
 * rag_store_guild_config — a guild's settings (guild_config) and which
 * collection answers each of its forums (guild_forums), as the worker
 * and rag-admin see them.
 *
 * Runs on the caller's connection (rag_db.h logs errors). Returned
 * PGresults belong to the caller (PQclear); strings are borrowed.
 */
#ifndef RAG_STORE_GUILD_CONFIG_H
#define RAG_STORE_GUILD_CONFIG_H

#include <libpq-fe.h>
#include <stddef.h>

/* How the answerer treats guild: the role pinged when it abstains (the
 * helper role, else the mod role; "" when none) and the guild's
 * abstention threshold (*threshold untouched when the guild sets none).
 * 1 found, 0 unknown guild (nothing touched), -1 error. */
int rag_store_guild_config_answering(PGconn *db, const char *guild_id,
                                     char *role_id, size_t role_len,
                                     double *threshold);

/* Answers forum_id of guild_id from collection (the guild is created if
 * new; a forum already mapped is re-pointed), in one transaction. 0 or
 * -1. */
int rag_store_guild_config_map_forum(PGconn *db, const char *guild_id,
                                     const char *forum_id,
                                     const char *collection);

/* Every mapped forum: guild_id, forum_channel_id, collection. */
PGresult *rag_store_guild_config_forums(PGconn *db);

#endif
