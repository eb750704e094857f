/*
 * rag_store_guild_config — a guild's settings (guild_config) and which
 * collection answers each of its forums (guild_forums), as the worker,
 * rag-admin and rag-bot see them (the bot reads them when an event needs
 * them, so edits apply without a restart).
 *
 * Runs on the caller's connection (rag_db.h logs errors). Returned
 * PGresults belong to the caller (PQclear); strings passed in are
 * borrowed; out buffers are the caller's.
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

/* The collection answering forum_id of guild_id into out. 1 found, 0 not
 * a mapped forum (or it does not fit out), -1 error. */
int rag_store_guild_config_forum_collection(PGconn *db, const char *guild_id,
                                            const char *forum_id, char *out,
                                            size_t outlen);

/* 1 when user_id is in the guild's banned_user_ids, 0 not, -1 error. */
int rag_store_guild_config_is_banned(PGconn *db, const char *guild_id,
                                     const char *user_id);

/* 1 when the guild has a guild_config row, 0 not, -1 error. */
int rag_store_guild_config_exists(PGconn *db, const char *guild_id);

/* The guild's mod role into out. 1 found, 0 none set (or no row), -1
 * error. */
int rag_store_guild_config_mod_role(PGconn *db, const char *guild_id, char *out,
                                    size_t outlen);

/* One column, ordered: every configured guild_id; every guild_id with a
 * mapped forum; the logging channels of the guilds whose shard the
 * process worker_id holds (rag_store_shards.h), each once. */
PGresult *rag_store_guild_config_guilds(PGconn *db);
PGresult *rag_store_guild_config_forum_guilds(PGconn *db);
PGresult *rag_store_guild_config_logging_channels(PGconn *db,
                                                  const char *worker_id);

#endif
