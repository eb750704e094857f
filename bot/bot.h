/*
 * bot — state shared by the rag-bot main thread's parts (events,
 * outbox, commands) and small helpers they all use: JSON field access
 * over yajl trees, per-guild configuration lookups, the controller
 * message refresh.
 *
 * Everything here runs on the main thread, which owns the database
 * connection and the REST client; the gateway thread only hands over
 * raw dispatch payloads. Guild configuration (forums, mod role, banned
 * users) is read from Postgres when an event needs it, so edits to
 * guild_config / guild_forums apply at once, without a restart.
 */
#ifndef RAG_BOT_BOT_H
#define RAG_BOT_BOT_H

#include "rest.h"

#include "rag_buf.h"
#include "rag_conf.h"
#include "rag_json.h"

#include <libpq-fe.h>
#include <yajl/yajl_tree.h>

#define RAG_BOT_MAX_GUILDS 64

typedef struct {
    rag_conf *conf;
    PGconn *db;
    rag_rest *rest;
    char bot_id[32];    /* from READY */
    char app_id[32];    /* conf, else READY */
    char worker_id[64]; /* locked_by for leases: host:pid */
    char web_base[256]; /* links to threads: discord_web_base */
    const char *index_dir;
    int commands_registered;
    int announced;   /* login posted to logging channels */
    int catchup_due; /* after READY: fetch what happened while away */
    /* guilds whose commands were registered by this process */
    char cmd_guilds[RAG_BOT_MAX_GUILDS][24];
    unsigned cmd_guilds_next;
    /* threads seen in THREAD_CREATE outside configured forums: their
     * messages need no GET /channels lookup (a small ring) */
    char untracked[256][24];
    unsigned untracked_next;
    /* handles queued gateway events; the outbox calls it between
     * replies so slash commands are not kept waiting (3 s deadline) */
    void (*pump)(void *ud);
    void *pump_ud;
} rag_bot;

/* The web origin for links to Discord: conf (discord_web_base) when
 * set, else the scheme://host[:port] of api_base, so a bot pointed at
 * another Discord (canary, a test server) links there. 0 or -1. */
int rag_bot_web_base(const char *conf, const char *api_base, char *out,
                     size_t outlen);

/* Collection for a configured forum, or NULL (caller frees). */
char *rag_bot_forum_collection(rag_bot *b, const char *guild_id,
                               const char *forum_id);
int rag_bot_is_banned(rag_bot *b, const char *guild_id, const char *user);
/* 1 if roles (a yajl array of strings) holds the guild's mod role. */
int rag_bot_is_mod(rag_bot *b, const char *guild_id, yajl_val roles);

/* Re-renders the thread's controller message from its row (loading or
 * voting text, solved / closed status) and PATCHes it. 0 or -1. */
int rag_bot_controller_refresh(rag_bot *b, const char *thread_id);

/* PUT a reaction (emoji as UTF-8) on a message. */
int rag_bot_react(rag_bot *b, const char *channel, const char *message,
                  const char *emoji);

/* POSTs a simple embed to a channel; 0 or -1. */
int rag_bot_post_embed(rag_bot *b, const char *channel, const char *title,
                       const char *text, int color, char *id_out,
                       size_t id_len);

#endif
