/*
 * bot — state shared by the rag-bot main thread's parts (events,
 * outbox, catch-up, commands) and small helpers they all use: the
 * bot's reads of the per-guild configuration (guild_config,
 * guild_forums, through lib/rag_store_guild_config.h) and
 * fire-and-forget Discord writes.
 *
 * Everything here runs on the main thread, which owns the database
 * connection and the asynchronous REST client; the gateway thread only
 * hands over raw dispatch payloads. Nothing on this thread waits for
 * Discord: a REST call is queued with a callback that runs from the
 * poll loop, so gateway events, other routes and the database go on
 * meanwhile. Guild configuration (forums, mod role, banned users) is
 * read from Postgres when an event needs it, so edits to guild_config /
 * guild_forums apply at once, without a restart.
 */
#ifndef RAG_BOT_BOT_H
#define RAG_BOT_BOT_H

#include "rest.h"

#include "rag_buf.h"
#include "rag_conf.h"
#include "rag_conf_bot.h" /* RAG_BOT_MAX_SHARDS */
#include "rag_json.h"

#include <libpq-fe.h>
#include <yajl/yajl_tree.h>

#define RAG_BOT_MAX_GUILDS 64

typedef struct rag_lookup rag_lookup; /* events.c: unknown threads */

typedef struct {
    rag_conf *conf;
    PGconn *db;
    rag_rest *rest;
    char bot_id[32];    /* from READY */
    char app_id[32];    /* conf, else READY */
    char worker_id[64]; /* locked_by for leases: host:pid */
    char web_base[256]; /* links to threads: discord_web_base */
    const char *index_dir;
    long lease_s;          /* delivery lease */
    long retry_backoff_ms; /* delivery retry: backoff * attempts^2 */
    int max_attempts;      /* delivery attempts before giving up */
    /* command registration: due after READY, backed off on failure */
    int reg_due, reg_failed;
    long reg_next_ms, reg_backoff_ms;
    char reg_inflight[RAG_BOT_MAX_GUILDS][24]; /* scopes being PUT */
    unsigned reg_n;
    int announced;            /* login posted to logging channels */
    int catchup_due;          /* after READY: fetch what happened while away */
    unsigned catchup_pending; /* catch-up requests in flight */
    int catchup_fed;          /* messages handed over by this catch-up */
    unsigned outbox_inflight; /* replies being delivered */
    unsigned deliveries_inflight; /* other deliveries in flight */
    /* threads seen in THREAD_CREATE outside configured forums: their
     * messages need no GET /channels lookup (a small ring) */
    char untracked[256][24];
    unsigned untracked_next;
    rag_lookup *lookups; /* GET /channels in flight, with held messages */
    /* the gateway shards this process runs (of shard_count) */
    int shard_count;
    int shards[RAG_BOT_MAX_SHARDS];
    int nshards;
} rag_bot;

/* Discord's shard of a guild: (guild_id >> 22) % count; 0 for a DM or
 * an id that is not a snowflake. */
int rag_bot_guild_shard(const char *guild_id, int count);
/* 1 when the guild's events come to one of this process's shards. */
int rag_bot_owns_guild(const rag_bot *b, const char *guild_id);
/* Parses "0,2,5" (ids < count, no repeats) into out; "" or NULL: all
 * of 0..count-1. Returns how many, or -1 (bad list, too many). */
int rag_bot_parse_shards(const char *list, int count, int *out, int max);

/* The web origin for links to Discord: conf (discord_web_base) when
 * set, else the scheme://host[:port] of api_base, so a bot pointed at
 * another Discord (canary, a test server) links there. 0 or -1. */
int rag_bot_web_base(const char *conf, const char *api_base, char *out,
                     size_t outlen);

/* Collection for a configured forum, or NULL (caller frees). */
char *rag_bot_forum_collection(rag_bot *b, const char *guild_id,
                               const char *forum_id);
int rag_bot_is_banned(rag_bot *b, const char *guild_id, const char *user);
/* 1 when the guild has a guild_config row, 0 not, -1 error. */
int rag_bot_guild_configured(rag_bot *b, const char *guild_id);
/* NULL-terminated lists (free with rag_bot_list_free; NULL on error):
 * configured guilds, guilds with a configured forum, and the guilds'
 * logging channels. */
char **rag_bot_configured_guilds(rag_bot *b);
char **rag_bot_forum_guilds(rag_bot *b);
/* (logging channels: only of guilds on shards this process holds) */
char **rag_bot_logging_channels(rag_bot *b);
void rag_bot_list_free(char **list);
/* 1 if roles (a yajl array of strings) holds the guild's mod role. */
int rag_bot_is_mod(rag_bot *b, const char *guild_id, yajl_val roles);

/* Queues a simple embed for a channel. 0 or -1. */
int rag_bot_post_embed(rag_bot *b, const char *channel, const char *title,
                       const char *text, int color);

/* Percent-encodes a UTF-8 emoji for a reactions path. */
void rag_bot_url_encode(rag_buf *b, const char *s);

#endif
