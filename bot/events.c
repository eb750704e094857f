/*
 * events — gateway dispatch handlers (see events.h).
 */
#include "events.h"
#include "commands.h"
#include "embed.h"

#include "rag_db.h"
#include "rag_log.h"
#include "rag_store_feedback.h"
#include "rag_store_messages.h"
#include "rag_store_outbox.h"
#include "rag_store_threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMOJI_YES "\xE2\x9C\x85"      /* ✅ */
#define EMOJI_NO "\xE2\x9D\x8C"       /* ❌ */
#define EMOJI_EYES "\xF0\x9F\x91\x80" /* 👀 */
#define EMOJI_REDO "\xF0\x9F\x94\x81" /* 🔁: answer the edit */
#define LOOKUP_HELD_MAX 100 /* messages held per thread being looked up */

/* One message, copied out of its JSON so it can wait for a lookup. */
typedef struct held_msg {
    struct held_msg *next;
    char *id, *channel, *guild, *author, *content, *ref_author;
    int author_bot, mentions;
} held_msg;

/* GET /channels/<id> in flight for a thread we have no row for; the
 * messages that arrive meanwhile wait here, in order. */
struct rag_lookup {
    rag_lookup *next;
    rag_bot *b;
    char channel[32];
    held_msg *head, *tail;
    unsigned n;
};

static void handle_message(rag_bot *b, const held_msg *m, int tracked_now);

/* Inserts the thread row if its parent is a configured forum; returns 1
 * when the thread is (now) tracked. */
int
rag_events_track_thread(rag_bot *b, const char *thread_id, const char *guild_id,
                        const char *parent_id, const char *name,
                        const char *owner)
{
    char *coll = rag_bot_forum_collection(b, guild_id, parent_id);
    rag_thread_new t;
    int rc;

    if (coll == NULL)
        return 0;
    t.thread_id = thread_id;
    t.guild_id = guild_id;
    t.forum_id = parent_id;
    t.title = name;
    t.collection = coll;
    t.author_id = owner;
    rc = rag_store_threads_track(b->db, &t);
    if (rc == 1)
        rag_info("msg=\"thread tracked\" thread=%s collection=%s", thread_id,
                 coll);
    free(coll);
    return rc >= 0;
}

static void
mark_untracked(rag_bot *b, const char *id)
{
    snprintf(b->untracked[b->untracked_next % 256], 24, "%s", id);
    b->untracked_next++;
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
on_thread_create(rag_bot *b, yajl_val d)
{
    const char *id = rag_json_str(d, "id", NULL),
               *guild = rag_json_str(d, "guild_id", NULL),
               *parent = rag_json_str(d, "parent_id", NULL);

    if (!id || !guild || !parent)
        return;
    if (!rag_events_track_thread(b, id, guild, parent,
                                 rag_json_str(d, "name", NULL),
                                 rag_json_str(d, "owner_id", NULL)))
        mark_untracked(b, id);
}

static void
on_thread_update(rag_bot *b, yajl_val d)
{
    const char *id = rag_json_str(d, "id", NULL),
               *name = rag_json_str(d, "name", NULL);
    int archived = rag_json_bool(d, "thread_metadata", "archived", NULL);
    int locked = rag_json_bool(d, "thread_metadata", "locked", NULL);
    int open = !(archived == 1 || locked == 1);

    if (!id || archived < 0)
        return;
    /* Discord told us about it: it is there and we can see it */
    if (rag_store_threads_reachable(b->db, id) == 1)
        rag_info("msg=\"thread reachable again\" thread=%s", id);
    if (rag_store_threads_set_open(b->db, id, open) == 1)
        rag_info("msg=\"thread state synced\" thread=%s open=%d", id, open);
    /* a renamed post keeps its title in step */
    if (name)
        rag_store_threads_set_title(b->db, id, name);
}

/* Deleted on Discord: erased here with all derived from it (Discord's
 * developer policy; sql/034_bot_erasure.sql). */
static void
on_thread_delete(rag_bot *b, yajl_val d)
{
    const char *id = rag_json_str(d, "id", NULL);

    if (id && rag_store_threads_erase(b->db, id) == 1)
        rag_info("msg=\"thread deleted, erased\" thread=%s", id);
}

/* Removed from a guild (no "unavailable": an outage erases nothing). */
static void
on_guild_delete(rag_bot *b, yajl_val d)
{
    const char *id = rag_json_str(d, "id", NULL);
    int n;

    if (id == NULL || rag_json_bool(d, "unavailable", NULL) == 1)
        return;
    n = rag_store_threads_erase_guild(b->db, id);
    if (n >= 0)
        rag_info("msg=\"left guild, erased\" guild=%s threads=%d", id, n);
}

/* --- messages ------------------------------------------------------------ */

static char *
dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void
held_free(held_msg *m)
{
    if (m == NULL)
        return;
    free(m->id);
    free(m->channel);
    free(m->guild);
    free(m->author);
    free(m->content);
    free(m->ref_author);
    free(m);
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

/* Copies what the handlers need out of a message object; NULL when it
 * lacks an id, channel or author (or memory ran out). */
static held_msg *
held_from_json(rag_bot *b, yajl_val d, const char *guild_id)
{
    held_msg *m;
    const char *id = rag_json_str(d, "id", NULL),
               *channel = rag_json_str(d, "channel_id", NULL),
               *author = rag_json_str(d, "author", "id", NULL);

    if (!id || !channel || !author || (m = calloc(1, sizeof(*m))) == NULL)
        return NULL;
    m->id = strdup(id);
    m->channel = strdup(channel);
    m->author = strdup(author);
    m->guild =
        dup_or_null(guild_id ? guild_id : rag_json_str(d, "guild_id", NULL));
    m->content = dup_or_null(rag_json_str(d, "content", NULL));
    m->ref_author = dup_or_null(
        rag_json_str(d, "referenced_message", "author", "id", NULL));
    m->author_bot = rag_json_bool(d, "author", "bot", NULL) == 1;
    m->mentions = mentions_user(rag_json_get(d, "mentions", NULL), b->bot_id);
    if (!m->id || !m->channel || !m->author) {
        held_free(m);
        return NULL;
    }
    return m;
}

static rag_lookup *
lookup_find(rag_bot *b, const char *channel)
{
    rag_lookup *l;

    for (l = b->lookups; l; l = l->next)
        if (strcmp(l->channel, channel) == 0)
            return l;
    return NULL;
}

static void
lookup_hold(rag_lookup *l, held_msg *m)
{
    if (l->n >= LOOKUP_HELD_MAX) {
        held_free(m);
        return;
    }
    if (l->tail)
        l->tail->next = m;
    else
        l->head = m;
    l->tail = m;
    l->n++;
}

/* GET /channels/<id> answered: track the thread if it is a forum post
 * of a configured forum, then handle the messages held meanwhile. */
static void
lookup_done(void *ud, const rag_rest_result *res)
{
    rag_lookup *l = ud, **pp;
    rag_bot *b = l->b;
    held_msg *m, *next;
    int tracked = 0;

    for (pp = &b->lookups; *pp; pp = &(*pp)->next)
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    if (!res->cancelled && res->status == 200) {
        yajl_val v = rag_json_parse(res->body, res->body_len);
        if (v && rag_json_str(v, "parent_id", NULL))
            tracked = rag_events_track_thread(
                b, l->channel, rag_json_str(v, "guild_id", NULL),
                rag_json_str(v, "parent_id", NULL),
                rag_json_str(v, "name", NULL),
                rag_json_str(v, "owner_id", NULL));
        yajl_tree_free(v);
        if (!tracked)
            mark_untracked(b, l->channel);
    } else if (!res->cancelled && res->status / 100 == 4) {
        mark_untracked(b, l->channel); /* gone or not ours */
    }
    for (m = l->head; m; m = next) {
        next = m->next;
        if (tracked)
            handle_message(b, m, 1);
        held_free(m);
    }
    free(l);
}

/* Starts a lookup for m's channel, holding m; 0, or -1 (m not taken). */
static int
lookup_start(rag_bot *b, held_msg *m)
{
    rag_lookup *l = calloc(1, sizeof(*l));
    char path[64];

    if (l == NULL)
        return -1;
    l->b = b;
    snprintf(l->channel, sizeof(l->channel), "%s", m->channel);
    snprintf(path, sizeof(path), "/channels/%s", m->channel);
    if (rag_rest_submit(b->rest, "GET", path, NULL, lookup_done, l) != 0) {
        free(l);
        return -1;
    }
    lookup_hold(l, m);
    l->next = b->lookups;
    b->lookups = l;
    return 0;
}

/* One notice per banned user and guild. */
static void
ban_notice(rag_bot *b, const char *guild, const char *user, const char *channel)
{
    char text[256];
    rag_buf body;
    int told = -1;

    rag_buf_init(&body, 16384);
    snprintf(text, sizeof(text),
             "<@%s>, you have been banned from "
             "using the help bot, so it will not answer you.",
             user);
    if (rag_embed_simple(&body, "Banned", text, RAG_COLOR_ERROR) == 0 &&
        rag_db_begin(b->db) == 0) {
        told =
            rag_store_outbox_ban_notice(b->db, guild, user, channel, body.data);
        if (told <= 0 || rag_db_commit(b->db) < 0) {
            rag_db_rollback(b->db);
            told = told > 0 ? -1 : told;
        }
    }
    if (told == 1)
        rag_info("msg=\"ban notice queued\" user=%s", user);
    rag_buf_free(&body);
}

/* The message in a tracked thread: stored once (the trigger asks for
 * the answer) and, in the same transaction, the controller (for a new
 * post) and the 👀 reaction are recorded for delivery. */
static void
handle_message(rag_bot *b, const held_msg *m, int tracked_now)
{
    rag_user_message um;
    int first = strcmp(m->id, m->channel) == 0, state, replies, stored;

    state = rag_store_threads_state(b->db, m->channel);
    if (state <= 0)
        return;
    if (rag_bot_is_banned(b, m->guild, m->author)) {
        ban_notice(b, m->guild, m->author, m->channel);
        return;
    }
    replies = m->ref_author && strcmp(m->ref_author, b->bot_id) == 0;
    memset(&um, 0, sizeof(um));
    um.thread_id = m->channel;
    um.message_id = m->id;
    um.author_id = m->author;
    um.content = m->content;
    um.first = first;
    um.mentions_bot = m->mentions;
    um.replies_to_bot = replies;
    if (rag_db_begin(b->db) < 0)
        return;
    /* the AFTER INSERT trigger enqueues the answer job when warranted */
    stored = rag_store_messages_insert_user(b->db, &um);
    if (stored != 1)
        goto rollback; /* a replayed dispatch, or an error (logged) */
    if ((first || tracked_now) &&
        rag_store_outbox_controller(b->db, m->channel) < 0)
        goto rollback;
    if ((first || ((m->mentions || replies) && state == 1)) &&
        rag_store_outbox_react(b->db, m->channel, m->id, EMOJI_EYES, "eyes") <
            0)
        goto rollback;
    /* a message there: the channel is alive again */
    if (rag_store_threads_reachable(b->db, m->channel) < 0)
        goto rollback;
    if (rag_db_commit(b->db) < 0)
        return;
    rag_info("msg=\"message stored\" thread=%s message=%s first=%d "
             "mention=%d reply=%d",
             m->channel, m->id, first, m->mentions, replies);
    return;
rollback:
    rag_db_rollback(b->db);
}

void
rag_events_message(rag_bot *b, yajl_val d, const char *guild_id)
{
    held_msg *m = held_from_json(b, d, guild_id);
    rag_lookup *l;
    int first, state;

    if (m == NULL)
        return;
    if (m->author_bot || strcmp(m->author, b->bot_id) == 0)
        goto done;
    /* a thread being looked up: keep the order of its messages */
    if ((l = lookup_find(b, m->channel)) != NULL) {
        lookup_hold(l, m);
        return;
    }
    state = rag_store_threads_state(b->db, m->channel);
    if (state < 0)
        goto done;
    if (state > 0) {
        handle_message(b, m, 0);
        goto done;
    }
    /* a starter message, or a mention in a post from before the bot's
     * time, can reveal a forum thread we have no row for */
    first = strcmp(m->id, m->channel) == 0;
    if (!(first || m->mentions) || known_untracked(b, m->channel))
        goto done;
    if (lookup_start(b, m) == 0)
        return;
done:
    held_free(m);
}

/* An edit of a message answered already: the 🔁 reaction on it and a
 * notice saying what it does, recorded with the edit. */
static int
offer_reanswer(rag_bot *b, const char *channel, const char *id, int rev)
{
    char key[96];
    rag_buf body;
    int rc = -1;

    rag_buf_init(&body, 4096);
    snprintf(key, sizeof(key), "reanswer:%s:%d", id, rev);
    if (rag_embed_simple(&body, "Question edited",
                         "This question was edited after it was answered. "
                         "React with " EMOJI_REDO " on it to get an answer "
                         "to the edited question.",
                         RAG_COLOR_INFO) == 0 &&
        rag_store_outbox_react(b->db, channel, id, EMOJI_REDO, "reanswer") >=
            0 &&
        rag_store_outbox_notice(b->db, channel, key, body.data) >= 0)
        rc = 0;
    rag_buf_free(&body);
    return rc;
}

/* MESSAGE_UPDATE: updates may carry a subset of the message; only one
 * with content is an edit of the text. Before the answer: the answer
 * reads the edit. After: a re-answer is offered. */
static void
on_message_update(rag_bot *b, yajl_val d)
{
    const char *id = rag_json_str(d, "id", NULL),
               *channel = rag_json_str(d, "channel_id", NULL),
               *content = rag_json_str(d, "content", NULL),
               *author = rag_json_str(d, "author", "id", NULL);
    rag_lookup *l;
    held_msg *m;
    rag_edit_outcome o;
    int mentions, rev;

    if (!id || !channel || !content ||
        rag_json_bool(d, "author", "bot", NULL) == 1 ||
        (author && strcmp(author, b->bot_id) == 0))
        return;
    /* held for a lookup: it is stored as edited */
    if ((l = lookup_find(b, channel)) != NULL)
        for (m = l->head; m; m = m->next)
            if (strcmp(m->id, id) == 0) {
                char *c = strdup(content);
                if (c) {
                    free(m->content);
                    m->content = c;
                }
            }
    if (rag_store_threads_state(b->db, channel) <= 0)
        return;
    mentions = mentions_user(rag_json_get(d, "mentions", NULL), b->bot_id);
    if (rag_db_begin(b->db) < 0)
        return;
    o = rag_store_messages_edited(b->db, channel, id, content, mentions, &rev);
    if (o == RAG_EDIT_ERROR ||
        (o == RAG_EDIT_OFFER && offer_reanswer(b, channel, id, rev) < 0)) {
        rag_db_rollback(b->db);
        return;
    }
    if (rag_db_commit(b->db) < 0)
        return;
    if (o != RAG_EDIT_UNKNOWN && o != RAG_EDIT_SAME)
        rag_info("msg=\"message edited\" thread=%s message=%s outcome=%d",
                 channel, id, (int)o);
}

/* Messages held for a lookup that were deleted meanwhile are dropped. */
static void
lookup_forget(rag_bot *b, const char *channel, const char *const *ids, size_t n)
{
    rag_lookup *l = lookup_find(b, channel);
    held_msg **pp, *m;
    size_t i;

    if (l == NULL)
        return;
    for (pp = &l->head; (m = *pp) != NULL;) {
        for (i = 0; i < n && strcmp(ids[i], m->id) != 0; i++)
            ;
        if (i == n) {
            pp = &m->next;
            continue;
        }
        *pp = m->next;
        l->n--;
        held_free(m);
    }
    for (l->tail = NULL, m = l->head; m; m = m->next)
        l->tail = m;
}

#define DELETE_BULK_MAX 100 /* Discord's bulk delete limit */

/* MESSAGE_DELETE / MESSAGE_DELETE_BULK in a tracked thread: erased with
 * all derived from them. Ids only are logged. */
static void
on_message_delete(rag_bot *b, yajl_val d, int bulk)
{
    const char *channel = rag_json_str(d, "channel_id", NULL);
    const char *ids[DELETE_BULK_MAX];
    yajl_val arr;
    size_t n = 0, i;
    int erased;

    if (channel == NULL)
        return;
    if (!bulk) {
        if ((ids[0] = rag_json_str(d, "id", NULL)) != NULL)
            n = 1;
    } else if ((arr = rag_json_get(d, "ids", NULL)) != NULL &&
               YAJL_IS_ARRAY(arr)) {
        for (i = 0; i < arr->u.array.len && n < DELETE_BULK_MAX; i++)
            if (YAJL_IS_STRING(arr->u.array.values[i]))
                ids[n++] = arr->u.array.values[i]->u.string;
    }
    if (n == 0)
        return;
    lookup_forget(b, channel, ids, n);
    if (rag_store_threads_state(b->db, channel) <= 0)
        return; /* not a thread we store anything of */
    erased = rag_store_messages_erase(b->db, ids, n);
    if (erased >= 0)
        rag_info("msg=\"messages deleted, erased\" thread=%s deleted=%zu "
                 "stored=%d",
                 channel, n, erased);
}

/* 🔁 on an edited, answered question: its author (or a mod) asks for
 * an answer to the edit. */
static void
on_reanswer(rag_bot *b, yajl_val d, const char *user, const char *guild,
            const char *msg)
{
    const char *channel = rag_json_str(d, "channel_id", NULL);
    int mod, rc;

    if (channel == NULL || rag_bot_is_banned(b, guild, user))
        return;
    mod = rag_bot_is_mod(b, guild, rag_json_get(d, "member", "roles", NULL));
    rc = rag_store_messages_reanswer(b->db, channel, msg, user, mod);
    if (rc == 1)
        rag_info("msg=\"re-answer asked\" thread=%s message=%s", channel, msg);
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
    if (strcmp(emoji, EMOJI_REDO) == 0) {
        if (add)
            on_reanswer(b, d, user, guild, msg);
        return;
    }
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
    may_solve =
        strcmp(user, t.author_id) == 0 ||
        (add &&
         rag_bot_is_mod(b, guild, rag_json_get(d, "member", "roles", NULL))) ||
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
        /* the controller shows the solved status */
        if (changed < 0 ||
            (changed && rag_store_outbox_edit(b->db, t.thread_id) < 0))
            goto rollback;
    }
    if (rag_db_commit(b->db) < 0)
        return;
    rag_info("msg=\"vote %s\" thread=%s vote=%s solved_change=%d",
             add ? "added" : "removed", t.thread_id, vote, changed);
    return;
rollback:
    rag_db_rollback(b->db);
}

/* Once per process: say so in each guild's logging channel, as the
 * original did (it is the channel's only use). */
static void
announce_login(rag_bot *b)
{
    char **ch = rag_bot_logging_channels(b), text[128];
    size_t i;

    b->announced = 1;
    snprintf(text, sizeof(text), "The bot has logged in as <@%s>.", b->bot_id);
    for (i = 0; ch && ch[i]; i++)
        if (rag_bot_post_embed(b, ch[i], "Bot online", text, RAG_COLOR_INFO) <
            0)
            rag_warn("msg=\"login notice failed\" channel=%s", ch[i]);
    rag_bot_list_free(ch);
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
    rag_commands_ready(b); /* registered if the set changed */
    if (!b->announced)
        announce_login(b);
    /* a fresh session replays nothing: look for what we missed */
    b->catchup_due = 1;
}

void
rag_events_handle(rag_bot *b, const char *json, size_t len)
{
    yajl_val root = rag_json_parse(json, len), d;
    const char *t, *g;

    if (root == NULL)
        return;
    t = rag_json_str(root, "t", NULL);
    d = rag_json_get(root, "d", NULL);
    if (t == NULL || d == NULL || !YAJL_IS_OBJECT(d))
        goto done;
    rag_debug("msg=\"dispatch\" t=%s", t);
    /* queued before its shard was found to be another's (a stall): that
     * process handles it */
    g = rag_json_str(d, "guild_id", NULL);
    if (g && !rag_bot_owns_guild(b, g)) {
        rag_info("msg=\"event of a shard not held here, dropped\" t=%s "
                 "guild=%s",
                 t, g);
        goto done;
    }
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
    else if (strcmp(t, "MESSAGE_UPDATE") == 0)
        on_message_update(b, d);
    else if (strcmp(t, "MESSAGE_DELETE") == 0)
        on_message_delete(b, d, 0);
    else if (strcmp(t, "MESSAGE_DELETE_BULK") == 0)
        on_message_delete(b, d, 1);
    else if (strcmp(t, "GUILD_DELETE") == 0)
        on_guild_delete(b, d);
    else if (strcmp(t, "MESSAGE_REACTION_ADD") == 0)
        on_reaction(b, d, 1);
    else if (strcmp(t, "MESSAGE_REACTION_REMOVE") == 0)
        on_reaction(b, d, 0);
    else if (strcmp(t, "INTERACTION_CREATE") == 0)
        rag_commands_gateway(b, d);
done:
    yajl_tree_free(root);
}
