/*
 * events — gateway dispatch handlers (see events.h).
 */
#include "events.h"
#include "commands.h"
#include "embed.h"

#include "rag_db.h"
#include "rag_log.h"
#include "rag_store_feedback.h"
#include "rag_store_threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMOJI_YES "\xE2\x9C\x85"      /* ✅ */
#define EMOJI_NO "\xE2\x9D\x8C"       /* ❌ */
#define EMOJI_EYES "\xF0\x9F\x91\x80" /* 👀 */

/* Inserts the thread row if its parent is a configured forum; returns 1
 * when the thread is (now) tracked. */
int
rag_events_track_thread(rag_bot *b, const char *thread_id, const char *guild_id,
                        const char *parent_id, const char *name,
                        const char *owner)
{
    char *coll = rag_bot_forum_collection(b, guild_id, parent_id);
    const char *p[6];
    int rc;

    if (coll == NULL)
        return 0;
    p[0] = thread_id;
    p[1] = guild_id;
    p[2] = parent_id;
    p[3] = name;
    p[4] = coll;
    p[5] = owner;
    rc = rag_db_exec(
        b->db,
        "INSERT INTO threads (thread_id, guild_id, forum_channel_id, title,"
        " collection, author_id) VALUES ($1, $2, $3, $4, $5, $6) "
        "ON CONFLICT (thread_id) DO NOTHING",
        6, p);
    if (rc == 0)
        rag_info("msg=\"thread tracked\" thread=%s collection=%s", thread_id,
                 coll);
    free(coll);
    return rc == 0;
}

static void
on_thread_create(rag_bot *b, yajl_val d)
{
    const char *id = rag_json_str(d, "id", NULL),
               *guild = rag_json_str(d, "guild_id", NULL),
               *parent = rag_json_str(d, "parent_id", NULL);

    if (!id || !guild || !parent)
        return;
    if (!rag_events_track_thread(b, id, guild, parent,
                                 rag_json_str(d, "name", NULL),
                                 rag_json_str(d, "owner_id", NULL))) {
        snprintf(b->untracked[b->untracked_next % 256], 24, "%s", id);
        b->untracked_next++;
    }
}

static int
known_untracked(rag_bot *b, const char *id)
{
    unsigned i;

    for (i = 0; i < 256; i++)
        if (strcmp(b->untracked[i], id) == 0)
            return 1;
    return 0;
}

static void
on_thread_update(rag_bot *b, yajl_val d)
{
    const char *id = rag_json_str(d, "id", NULL);
    int archived = rag_json_bool(d, "thread_metadata", "archived", NULL);
    int locked = rag_json_bool(d, "thread_metadata", "locked", NULL);
    const char *p[2];
    PGresult *r;

    if (!id || archived < 0)
        return;
    p[0] = id;
    p[1] = (archived == 1 || locked == 1) ? "false" : "true";
    r = rag_db_query(b->db,
                     "UPDATE threads SET open = $2::boolean WHERE "
                     "thread_id = $1 AND open <> $2::boolean "
                     "RETURNING 1",
                     2, p);
    if (r && PQntuples(r) == 1)
        rag_info("msg=\"thread state synced\" thread=%s open=%s", id, p[1]);
    PQclear(r);
    /* a renamed post keeps its title in step */
    p[1] = rag_json_str(d, "name", NULL);
    if (p[1])
        rag_db_exec(b->db,
                    "UPDATE threads SET title = $2 WHERE thread_id = $1 "
                    "AND title IS DISTINCT FROM $2",
                    2, p);
}

static void
on_thread_delete(rag_bot *b, yajl_val d)
{
    const char *p[] = {rag_json_str(d, "id", NULL)};

    if (p[0])
        rag_db_exec(b->db,
                    "UPDATE threads SET open = false WHERE "
                    "thread_id = $1 AND open",
                    1, p);
}

/* Learns a thread we have no row for (starter message first). */
static int
fetch_thread(rag_bot *b, const char *channel_id)
{
    rag_buf path;
    rag_rest_resp resp;
    yajl_val v = NULL;
    int tracked = 0;

    rag_buf_init(&path, 128);
    rag_buf_printf(&path, "/channels/%s", channel_id);
    if (rag_rest_call(b->rest, "GET", path.data, NULL, &resp) == 0 &&
        resp.status == 200) {
        v = rag_json_parse(resp.body.data, resp.body.len);
        if (v && rag_json_str(v, "parent_id", NULL))
            tracked = rag_events_track_thread(
                b, channel_id, rag_json_str(v, "guild_id", NULL),
                rag_json_str(v, "parent_id", NULL), rag_json_str(v, "name", NULL),
                rag_json_str(v, "owner_id", NULL));
    }
    yajl_tree_free(v);
    rag_buf_free(&resp.body);
    rag_buf_free(&path);
    return tracked;
}

/* Sends the controller once per thread (nonce makes a retry safe) and
 * records its id. */
static void
ensure_controller(rag_bot *b, const char *thread_id)
{
    const char *p[2] = {thread_id, NULL};
    PGresult *r;
    rag_controller c;
    rag_buf body, path, key;
    rag_rest_resp resp;
    char nonce[RAG_NONCE_LEN + 1];
    yajl_val v = NULL;

    r = rag_db_query(b->db,
                     "SELECT author_id FROM threads WHERE "
                     "thread_id = $1 AND thread_controller_id IS NULL",
                     1, p);
    if (r == NULL || PQntuples(r) != 1) {
        PQclear(r);
        return;
    }
    memset(&c, 0, sizeof(c));
    c.thread_id = thread_id;
    c.author_id = PQgetvalue(r, 0, 0);
    c.bot_id = b->bot_id;
    c.open = 1;
    rag_buf_init(&body, 16384);
    rag_buf_init(&path, 128);
    rag_buf_init(&key, 128);
    rag_buf_init(&resp.body, 0);
    rag_buf_printf(&key, "controller:%s", thread_id);
    rag_embed_nonce(key.data, 0, nonce);
    c.nonce = nonce;
    rag_embed_controller_json(&body, &c);
    rag_buf_printf(&path, "/channels/%s/messages", thread_id);
    if (rag_rest_call(b->rest, "POST", path.data, body.data, &resp) == 0 &&
        resp.status / 100 == 2) {
        v = rag_json_parse(resp.body.data, resp.body.len);
        p[1] = rag_json_str(v, "id", NULL);
        if (p[1])
            rag_db_exec(b->db,
                        "UPDATE threads SET thread_controller_id = "
                        "$2 WHERE thread_id = $1",
                        2, p);
    } else {
        rag_warn("msg=\"controller post failed\" thread=%s status=%ld",
                 thread_id, resp.status);
    }
    yajl_tree_free(v);
    rag_buf_free(&resp.body);
    rag_buf_free(&body);
    rag_buf_free(&path);
    rag_buf_free(&key);
    PQclear(r);
}

static int
mentions_user(yajl_val mentions, const char *id)
{
    size_t i;

    if (!mentions || !YAJL_IS_ARRAY(mentions) || !id || !*id)
        return 0;
    for (i = 0; i < mentions->u.array.len; i++) {
        const char *m = rag_json_str(mentions->u.array.values[i], "id", NULL);
        if (m && strcmp(m, id) == 0)
            return 1;
    }
    return 0;
}

static void
ban_notice(rag_bot *b, const char *guild, const char *user, const char *channel)
{
    const char *p[] = {guild, user};
    PGresult *r;
    char text[256];

    r = rag_db_query(b->db,
                     "INSERT INTO ban_notices (guild_id, user_id) "
                     "VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
                     2, p);
    if (r && PQntuples(r) == 1) {
        snprintf(text, sizeof(text),
                 "<@%s>, you have been banned from "
                 "using the help bot, so it will not answer you.",
                 user);
        rag_bot_post_embed(b, channel, "Banned", text, RAG_COLOR_ERROR, NULL,
                           0);
        rag_info("msg=\"ban notice sent\" user=%s", user);
    }
    PQclear(r);
}

void
rag_events_message(rag_bot *b, yajl_val d, const char *guild_id)
{
    const char *id = rag_json_str(d, "id", NULL),
               *channel = rag_json_str(d, "channel_id", NULL),
               *guild = guild_id ? guild_id : rag_json_str(d, "guild_id", NULL),
               *author = rag_json_str(d, "author", "id", NULL),
               *content = rag_json_str(d, "content", NULL),
               *ref_author =
                   rag_json_str(d, "referenced_message", "author", "id", NULL);
    const char *p[7];
    PGresult *r = NULL, *ins = NULL;
    int first, mentions, replies, open = 0, tracked_now = 0;

    if (!id || !channel || !author ||
        rag_json_bool(d, "author", "bot", NULL) == 1 ||
        strcmp(author, b->bot_id) == 0)
        return;
    first = strcmp(id, channel) == 0;
    mentions = mentions_user(rag_json_get(d, "mentions", NULL), b->bot_id);
    p[0] = channel;
    r = rag_db_query(b->db,
                     "SELECT open AND NOT solved FROM threads "
                     "WHERE thread_id = $1",
                     1, p);
    if (r == NULL)
        return;
    if (PQntuples(r) == 0) {
        PQclear(r);
        r = NULL;
        /* a starter message, or a mention in a post from before the
         * bot's time, can reveal a forum thread we have no row for */
        if (!(first || mentions) || known_untracked(b, channel))
            return;
        if (!fetch_thread(b, channel)) {
            snprintf(b->untracked[b->untracked_next % 256], 24, "%s", channel);
            b->untracked_next++;
            return;
        }
        tracked_now = 1;
        r = rag_db_query(b->db,
                         "SELECT open AND NOT solved FROM threads "
                         "WHERE thread_id = $1",
                         1, p);
        if (r == NULL || PQntuples(r) == 0)
            goto done;
    }
    open = PQgetvalue(r, 0, 0)[0] == 't';
    if (rag_bot_is_banned(b, guild, author)) {
        ban_notice(b, guild, author, channel);
        goto done;
    }
    replies = ref_author && strcmp(ref_author, b->bot_id) == 0;
    p[0] = channel;
    p[1] = id;
    p[2] = author;
    p[3] = content ? content : "";
    p[4] = first ? "true" : "false";
    p[5] = mentions ? "true" : "false";
    p[6] = replies ? "true" : "false";
    /* the AFTER INSERT trigger enqueues the answer job when warranted */
    ins = rag_db_query(
        b->db,
        "INSERT INTO messages (thread_id, message_id, author_id, content, "
        "first_message, mentions_bot, replies_to_bot, processed) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, true) "
        "ON CONFLICT (thread_id, message_id) DO NOTHING RETURNING 1",
        7, p);
    if (ins == NULL || PQntuples(ins) == 0)
        goto done; /* replayed dispatch */
    rag_info("msg=\"message stored\" thread=%s message=%s first=%d "
             "mention=%d reply=%d",
             channel, id, first, mentions, replies);
    if (first || tracked_now)
        ensure_controller(b, channel);
    if (first) {
        rag_bot_react(b, channel, id, EMOJI_EYES);
    } else if ((mentions || replies) && open) {
        rag_bot_react(b, channel, id, EMOJI_EYES);
    }
done:
    PQclear(ins);
    PQclear(r);
}

static void
on_reaction(rag_bot *b, yajl_val d, int add)
{
    const char *user = rag_json_str(d, "user_id", NULL),
               *msg = rag_json_str(d, "message_id", NULL),
               *guild = rag_json_str(d, "guild_id", NULL),
               *emoji = rag_json_str(d, "emoji", "name", NULL);
    const char *vote;
    rag_thread_ref t;
    int may_solve, voted, changed = 0;

    if (!user || !msg || !emoji || strcmp(user, b->bot_id) == 0)
        return;
    if (strcmp(emoji, EMOJI_YES) == 0)
        vote = "up";
    else if (strcmp(emoji, EMOJI_NO) == 0)
        vote = "down";
    else
        return;
    if (rag_store_threads_by_controller(b->db, msg, &t) != 1 ||
        rag_bot_is_banned(b, guild, user))
        return;
    /* only the author (or a mod) marks solved, and only the author or
     * whoever solved it takes it back; a vote never closes */
    may_solve = strcmp(user, t.author_id) == 0 ||
                (add && rag_bot_is_mod(
                            b, guild, rag_json_get(d, "member", "roles", NULL))) ||
                (!add && strcmp(user, t.solved_by) == 0);
    /* the feedback row and the solved mark change together */
    if (rag_db_begin(b->db) < 0)
        return;
    voted = add ? rag_store_feedback_add(b->db, t.thread_id, user, vote)
                : rag_store_feedback_remove(b->db, t.thread_id, user, vote);
    if (voted < 0)
        goto rollback;
    if (strcmp(vote, "up") == 0 && may_solve) {
        changed = add ? rag_store_threads_solve(b->db, t.thread_id, user)
                      : rag_store_threads_unsolve(b->db, t.thread_id);
        if (changed < 0)
            goto rollback;
    }
    if (rag_db_commit(b->db) < 0)
        return;
    rag_info("msg=\"vote %s\" thread=%s vote=%s solved_change=%d",
             add ? "added" : "removed", t.thread_id, vote, changed);
    if (changed)
        rag_bot_controller_refresh(b, t.thread_id);
    return;
rollback:
    rag_db_rollback(b->db);
}

/* Once per process: say so in each guild's logging channel, as the
 * original did (it is the channel's only use). */
static void
announce_login(rag_bot *b)
{
    PGresult *r;
    char text[128];
    int i;

    b->announced = 1;
    r = rag_db_query(b->db,
                     "SELECT DISTINCT logging_channel_id FROM "
                     "guild_config WHERE logging_channel_id IS NOT NULL",
                     0, NULL);
    snprintf(text, sizeof(text), "The bot has logged in as <@%s>.", b->bot_id);
    for (i = 0; r && i < PQntuples(r); i++)
        if (rag_bot_post_embed(b, PQgetvalue(r, i, 0), "Bot online", text,
                               RAG_COLOR_INFO, NULL, 0) < 0)
            rag_warn("msg=\"login notice failed\" channel=%s",
                     PQgetvalue(r, i, 0));
    PQclear(r);
}

static void
on_ready(rag_bot *b, yajl_val d)
{
    const char *uid = rag_json_str(d, "user", "id", NULL),
               *app = rag_json_str(d, "application", "id", NULL);

    if (uid)
        snprintf(b->bot_id, sizeof(b->bot_id), "%s", uid);
    if (!b->app_id[0] && app)
        snprintf(b->app_id, sizeof(b->app_id), "%s", app);
    rag_info("msg=\"logged in\" user=%s application=%s", b->bot_id, b->app_id);
    if (!b->commands_registered && b->app_id[0] &&
        rag_commands_register(b) == 0)
        b->commands_registered = 1;
    if (!b->announced)
        announce_login(b);
    /* a fresh session replays nothing: look for what we missed */
    b->catchup_due = 1;
}

void
rag_events_handle(rag_bot *b, const char *json, size_t len)
{
    yajl_val root = rag_json_parse(json, len), d;
    const char *t;

    if (root == NULL)
        return;
    t = rag_json_str(root, "t", NULL);
    d = rag_json_get(root, "d", NULL);
    if (t == NULL || d == NULL || !YAJL_IS_OBJECT(d))
        goto done;
    rag_debug("msg=\"dispatch\" t=%s", t);
    if (strcmp(t, "READY") == 0)
        on_ready(b, d);
    else if (strcmp(t, "GUILD_CREATE") == 0 && rag_json_str(d, "id", NULL))
        rag_commands_guild_joined(b, rag_json_str(d, "id", NULL));
    else if (strcmp(t, "THREAD_CREATE") == 0)
        on_thread_create(b, d);
    else if (strcmp(t, "THREAD_UPDATE") == 0)
        on_thread_update(b, d);
    else if (strcmp(t, "THREAD_DELETE") == 0)
        on_thread_delete(b, d);
    else if (strcmp(t, "MESSAGE_CREATE") == 0)
        rag_events_message(b, d, NULL);
    else if (strcmp(t, "MESSAGE_REACTION_ADD") == 0)
        on_reaction(b, d, 1);
    else if (strcmp(t, "MESSAGE_REACTION_REMOVE") == 0)
        on_reaction(b, d, 0);
    else if (strcmp(t, "INTERACTION_CREATE") == 0)
        rag_commands_gateway(b, d);
done:
    yajl_tree_free(root);
}
