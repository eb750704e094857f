/*
 * commands — slash commands (see commands.h).
 */
#include "commands.h"
#include "embed.h"

#include "rag_collection.h"
#include "rag_db.h"
#include "rag_index.h"
#include "rag_log.h"
#include "rag_search.h"
#include "rag_store_chunks.h"
#include "rag_store_collections.h"
#include "rag_store_messages.h"
#include "rag_store_outbox.h"
#include "rag_store_interactions.h"
#include "rag_store_threads.h"
#include "rag_time.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUERY_MAX 300 /* characters of a /search or /ask query we use */

static const char commands_json[] =
    "["
    "{\"name\":\"commands\",\"description\":\"List the bot's commands\"},"
    "{\"name\":\"search\",\"description\":\"Search the documentation\","
    "\"options\":[{\"type\":3,\"name\":\"query\",\"description\":"
    "\"What to look for\",\"required\":true,\"max_length\":300},"
    "{\"type\":3,\"name\":\"collection\",\"description\":"
    "\"Documentation collection\"},{\"type\":4,\"name\":\"limit\","
    "\"description\":\"Number of results (1-25)\",\"min_value\":1,"
    "\"max_value\":25}]},"
    "{\"name\":\"collections\",\"description\":"
    "\"List the documentation collections\"},"
    "{\"name\":\"solve\",\"description\":\"Mark this thread solved\"},"
    "{\"name\":\"unsolve\",\"description\":\"Mark this thread unsolved\"},"
    "{\"name\":\"open\",\"description\":\"Re-open this thread\"},"
    "{\"name\":\"close\",\"description\":\"Close this thread\"},"
    "{\"name\":\"status\",\"description\":\"Show this thread's status\"},"
    "{\"name\":\"info\",\"description\":\"About this bot\"},"
    "{\"name\":\"ask\",\"description\":\"Ask the bot a question\","
    "\"options\":[{\"type\":3,\"name\":\"question\",\"description\":"
    "\"Your question\",\"required\":true,\"max_length\":300}]}"
    "]";

#define REG_BACKOFF_MIN_MS 5000L
#define REG_BACKOFF_MAX_MS 3600000L

/* Hex SHA-256 of the command set: what a scope was registered with. */
static void
commands_hash(char out[2 * SHA256_DIGEST_LENGTH + 1])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    int i;

    SHA256((const unsigned char *)commands_json, strlen(commands_json), md);
    for (i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

typedef struct {
    rag_bot *b;
    char scope[24]; /* guild id, or "global" */
    char hash[2 * SHA256_DIGEST_LENGTH + 1];
} reg_req;

static int
reg_running(rag_bot *b, const char *scope)
{
    unsigned i;

    for (i = 0; i < b->reg_n; i++)
        if (strcmp(b->reg_inflight[i], scope) == 0)
            return 1;
    return 0;
}

static void
reg_forget(rag_bot *b, const char *scope)
{
    unsigned i;

    for (i = 0; i < b->reg_n; i++)
        if (strcmp(b->reg_inflight[i], scope) == 0) {
            memmove(b->reg_inflight[i], b->reg_inflight[b->reg_n - 1],
                    sizeof(b->reg_inflight[0]));
            b->reg_n--;
            return;
        }
}

/* The last PUT of a pass ended: done, or try again after the backoff. */
static void
reg_settle(rag_bot *b)
{
    if (!b->reg_failed) {
        b->reg_due = 0;
        b->reg_backoff_ms = 0;
        return;
    }
    b->reg_due = 1;
    b->reg_next_ms = rag_time_mono_ms() + b->reg_backoff_ms;
    b->reg_backoff_ms = b->reg_backoff_ms * 2 > REG_BACKOFF_MAX_MS
                            ? REG_BACKOFF_MAX_MS
                            : b->reg_backoff_ms * 2;
    b->reg_failed = 0;
}

static void
put_done(void *ud, const rag_rest_result *res)
{
    reg_req *q = ud;
    rag_bot *b = q->b;
    char desc[160];

    reg_forget(b, q->scope);
    if (res->cancelled) {
        free(q);
        return;
    }
    if (res->status / 100 == 2 &&
        rag_store_interactions_commands_registered(b->db, q->scope, b->app_id,
                                                   q->hash) == 0) {
        rag_info("msg=\"slash commands registered\" scope=%s", q->scope);
    } else {
        if (b->reg_backoff_ms < REG_BACKOFF_MIN_MS)
            b->reg_backoff_ms = REG_BACKOFF_MIN_MS;
        b->reg_failed = 1;
        /* Discord's JSON body is logged in full by rest.c */
        rag_warn("msg=\"command registration failed\" scope=%s status=%ld "
                 "error=\"%s\" retry_in_s=%ld",
                 q->scope, res->status,
                 rag_rest_describe(res->status, res->code, res->error, desc,
                                   sizeof(desc)),
                 b->reg_backoff_ms / 1000);
    }
    if (b->reg_n == 0)
        reg_settle(b);
    free(q);
}

/* PUTs the set for scope unless Discord already has it; 1 when a PUT
 * was queued, 0 when none was needed, -1 on error. */
static int
put_commands(rag_bot *b, const char *scope)
{
    reg_req *q;
    char path[160];
    int current;

    if (reg_running(b, scope))
        return 0;
    if (b->reg_n >= RAG_BOT_MAX_GUILDS || strlen(scope) >= sizeof(q->scope) ||
        (q = calloc(1, sizeof(*q))) == NULL)
        return -1;
    q->b = b;
    snprintf(q->scope, sizeof(q->scope), "%s", scope);
    commands_hash(q->hash);
    current = rag_store_interactions_commands_current(b->db, scope, b->app_id,
                                                      q->hash);
    if (current != 0) {
        free(q);
        return current > 0 ? 0 : -1;
    }
    if (strcmp(scope, "global") == 0)
        snprintf(path, sizeof(path), "/applications/%s/commands", b->app_id);
    else
        snprintf(path, sizeof(path), "/applications/%s/guilds/%s/commands",
                 b->app_id, scope);
    if (rag_rest_submit(b->rest, "PUT", path, commands_json, put_done, q) !=
        0) {
        free(q);
        return -1;
    }
    snprintf(b->reg_inflight[b->reg_n++], sizeof(b->reg_inflight[0]), "%s",
             scope);
    return 1;
}

void
rag_commands_ready(rag_bot *b)
{
    b->reg_due = 1; /* compared with what Discord has, PUT if it differs */
}

int
rag_commands_register(rag_bot *b)
{
    char **guilds;
    int i, n, rc, queued = 0, failed = 0;

    if (!b->reg_due || !b->app_id[0] || b->reg_n > 0 ||
        rag_time_mono_ms() < b->reg_next_ms)
        return 0;
    if ((guilds = rag_bot_configured_guilds(b)) == NULL)
        return -1;
    for (n = 0; guilds[n]; n++)
        ;
    for (i = 0; i < (n ? n : 1); i++) {
        rc = put_commands(b, n ? guilds[i] : "global");
        queued += rc > 0;
        failed |= rc < 0;
    }
    rag_bot_list_free(guilds);
    if (queued == 0) {
        b->reg_failed = failed;
        if (failed && b->reg_backoff_ms < REG_BACKOFF_MIN_MS)
            b->reg_backoff_ms = REG_BACKOFF_MIN_MS;
        reg_settle(b);
        if (!failed)
            rag_debug("msg=\"slash commands up to date\"");
    }
    return queued;
}

void
rag_commands_guild_joined(rag_bot *b, const char *guild_id)
{
    if (!b->app_id[0] || strlen(guild_id) >= 24)
        return;
    /* a guild configured since the start: its set, unless it has it */
    if (rag_bot_guild_configured(b, guild_id) == 1 &&
        put_commands(b, guild_id) < 0) {
        b->reg_due = 1; /* the next pass tries again */
        if (b->reg_backoff_ms < REG_BACKOFF_MIN_MS)
            b->reg_backoff_ms = REG_BACKOFF_MIN_MS;
    }
}

/* One command invocation, from either path. */
typedef struct {
    const char *name, *guild, *channel, *user;
    yajl_val roles;   /* array of role ids, may be NULL */
    yajl_val options; /* [{name,value}] or {name: value} */
} cmd_ctx;

/* What a command answers: message data JSON plus an after-action. */
typedef struct {
    rag_buf data; /* {"embeds":[...]} */
    int ephemeral;
} cmd_out;

static yajl_val
opt(const cmd_ctx *c, const char *name)
{
    size_t i;

    if (c->options == NULL)
        return NULL;
    if (YAJL_IS_OBJECT(c->options))
        return rag_json_get(c->options, name, NULL);
    if (!YAJL_IS_ARRAY(c->options))
        return NULL;
    for (i = 0; i < c->options->u.array.len; i++) {
        yajl_val o = c->options->u.array.values[i];
        const char *n = rag_json_str(o, "name", NULL);
        if (n && strcmp(n, name) == 0)
            return rag_json_get(o, "value", NULL);
    }
    return NULL;
}

static void
reply(cmd_out *o, const char *title, const char *text, int color)
{
    rag_buf_reset(&o->data);
    rag_embed_simple(&o->data, title, text, color);
}

static void
error_reply(cmd_out *o, const char *text)
{
    o->ephemeral = 1;
    reply(o, "Error", text, RAG_COLOR_ERROR);
}

static void
cmd_commands(cmd_out *o)
{
    reply(o, "Commands Help",
          "**/search** query [collection] [limit] — search the docs\n"
          "**/ask** question — ask the bot (in a thread: it answers there)\n"
          "**/collections** — list the documentation collections\n"
          "**/status** — this thread's status\n"
          "**/solve**, **/unsolve** — mark this thread (author or mods)\n"
          "**/open**, **/close** — re-open or close this thread (author or "
          "mods)\n"
          "**/info** — about this bot\n"
          "**/commands** — this list",
          RAG_COLOR_INFO);
}

static void
cmd_info(cmd_out *o)
{
    reply(o, "Bot Info",
          "A self-hosted support bot that answers forum questions from the "
          "documentation, with cited sources. Answers can be wrong: check "
          "the linked sources. Vote ✅ or ❌ on the thread's controller "
          "message to help improve it.",
          RAG_COLOR_INFO);
}

static void
cmd_collections(rag_bot *b, cmd_out *o)
{
    PGresult *r = rag_store_collections_list(b->db, 100);
    rag_buf t;
    int i;

    rag_buf_init(&t, RAG_EMBED_DESC_MAX);
    for (i = 0; r && i < PQntuples(r); i++)
        if (rag_buf_printf(&t, "**%s** %s\n", PQgetvalue(r, i, 0),
                           PQgetvalue(r, i, 1)) < 0)
            break;
    reply(o, "Collections", t.len ? t.data : "No collections yet.",
          RAG_COLOR_INFO);
    rag_buf_free(&t);
    PQclear(r);
}

/* Default collection: the thread's, else the guild's first forum's. */
static char *
pick_collection(rag_bot *b, const cmd_ctx *c)
{
    char name[128];

    if (rag_store_threads_collection(b->db, c->channel, c->guild, name,
                                     sizeof(name)) != 1)
        return NULL;
    return strdup(name);
}

/* BM25 over <index_dir>/<collection>.idx (the bot has no query
 * embedding, so the lexical leg only). Shown score: s / (s + 1).
 * Returns 0 when it answered, -1 when there is no usable index. */
static int
search_index(rag_bot *b, const char *coll, const char *query, int limit,
             cmd_out *o, const char *title)
{
    char path[1024], err[256];
    rag_index *ix;
    rag_hit hits[25];
    rag_query q;
    rag_buf t;
    int n, i;

    if (rag_index_path(path, sizeof(path), b->index_dir, coll) != 0)
        return -1;
    ix = rag_index_open(path, err, sizeof(err));
    if (ix == NULL)
        return -1;
    memset(&q, 0, sizeof(q));
    q.text = query;
    q.text_len = strlen(query);
    q.k = (size_t)(limit > 25 ? 25 : limit);
    q.mode = RAG_SEARCH_BM25;
    n = rag_search(ix, &q, hits);
    if (n < 0) {
        rag_index_close(ix);
        return -1;
    }
    rag_buf_init(&t, RAG_EMBED_DESC_MAX);
    rag_buf_puts(&t, "**Query:** ");
    rag_buf_append(&t, query, strnlen(query, QUERY_MAX));
    rag_buf_puts(&t, "\n\n");
    for (i = 0; i < n; i++) {
        rag_index_chunk ch;
        double s = hits[i].score;
        if (rag_index_chunk_get(ix, hits[i].rec, &ch) != 0)
            continue;
        if (rag_buf_printf(
                &t, "**%d.** [%.*s%s%.*s](<%.*s>) · %d%%\n", i + 1,
                (int)(ch.title.len > 100 ? 100 : ch.title.len), ch.title.p,
                ch.heading_path.len ? " › " : "",
                (int)(ch.heading_path.len > 100 ? 100 : ch.heading_path.len),
                ch.heading_path.p, (int)(ch.url.len > 800 ? 800 : ch.url.len),
                ch.url.p, (int)(s / (s + 1) * 100 + 0.5)) < 0)
            break;
    }
    if (n == 0)
        rag_buf_puts(&t, "No results in the documentation.");
    reply(o, title, t.data, RAG_COLOR_SOURCES);
    rag_buf_free(&t);
    rag_index_close(ix);
    return 0;
}

/* Search: the collection's index file when there is one, else Postgres
 * full text over the stored chunks (scores are rank/(rank+1)). */
static void
search_into(rag_bot *b, const char *coll, const char *query, int limit,
            cmd_out *o, const char *title)
{
    PGresult *r;
    rag_buf t;
    int i;

    if (search_index(b, coll, query, limit, o, title) == 0)
        return;
    r = rag_store_chunks_search_fts(b->db, coll, query, limit);
    if (r == NULL) {
        error_reply(o, "Search failed; please try again later.");
        return;
    }
    rag_buf_init(&t, RAG_EMBED_DESC_MAX);
    rag_buf_puts(&t, "**Query:** ");
    rag_buf_append(&t, query, strnlen(query, QUERY_MAX));
    rag_buf_puts(&t, "\n\n");
    for (i = 0; i < PQntuples(r); i++) {
        const char *url = PQgetvalue(r, i, 0), *anchor = PQgetvalue(r, i, 1);
        double s = atof(PQgetvalue(r, i, 4));
        if (rag_buf_printf(&t, "**%d.** [%.100s%s%.100s](<%s%s%s>) · %d%%\n",
                           i + 1, PQgetvalue(r, i, 2),
                           *PQgetvalue(r, i, 3) ? " › " : "",
                           PQgetvalue(r, i, 3), url,
                           *anchor && !strchr(url, '#') ? "#" : "", anchor,
                           (int)(s * 100 + 0.5)) < 0)
            break;
    }
    if (PQntuples(r) == 0)
        rag_buf_puts(&t, "No results in the documentation.");
    reply(o, title, t.data, RAG_COLOR_SOURCES);
    rag_buf_free(&t);
    PQclear(r);
}

static void
cmd_search(rag_bot *b, const cmd_ctx *c, cmd_out *o)
{
    yajl_val q = opt(c, "query"), coll = opt(c, "collection"),
             lim = opt(c, "limit");
    long limit = lim && YAJL_IS_INTEGER(lim) ? (long)YAJL_GET_INTEGER(lim) : 5;
    char *cname = NULL, query[QUERY_MAX + 1];

    if (q == NULL || !YAJL_IS_STRING(q) || !*q->u.string) {
        error_reply(o, "Give a query: /search query:<text>");
        return;
    }
    if (limit < 1 || limit > 25) {
        error_reply(o, "limit must be between 1 and 25.");
        return;
    }
    snprintf(query, sizeof(query), "%s", q->u.string);
    cname = coll && YAJL_IS_STRING(coll) ? strdup(coll->u.string)
                                         : pick_collection(b, c);
    if (cname == NULL) {
        error_reply(o, "No collection given and none configured here.");
        return;
    }
    search_into(b, cname, query, (int)limit, o, "Search Results");
    free(cname);
}

/* Thread commands: loads the row; replies with an error when the
 * channel is not a tracked thread or the user may not change it. 1 when
 * *t is the thread, 0 when o holds the error. */
static int
thread_row(rag_bot *b, const cmd_ctx *c, cmd_out *o, int need_perm,
           rag_thread_status *t)
{
    if (c->channel == NULL ||
        rag_store_threads_status(b->db, c->channel, t) != 1) {
        error_reply(o, "This command only works inside a help forum "
                       "thread.");
        return 0;
    }
    if (need_perm && (c->user == NULL || strcmp(c->user, t->author_id) != 0) &&
        !rag_bot_is_mod(b, c->guild, c->roles)) {
        error_reply(o, "You do not have permission to do that: only the "
                       "thread's author or a moderator can.");
        return 0;
    }
    return 1;
}

static void
status_text(rag_bot *b, rag_buf *out, const rag_thread_status *t)
{
    rag_delivery_failure f[3];
    int i, n;

    rag_buf_printf(out,
                   "**Thread:** %.200s\n**ID:** %s\n"
                   "**Link:** %s/channels/%s/%s\n",
                   t->title, t->thread_id, b->web_base, t->guild_id,
                   t->thread_id);
    if (t->controller_id[0])
        rag_buf_printf(out, "**Controller:** %s/channels/%s/%s/%s\n",
                       b->web_base, t->guild_id, t->thread_id,
                       t->controller_id);
    rag_buf_printf(out,
                   "**Status:** %s\n**Solved:** %s\n"
                   "**✅ votes:** %ld\n**❌ votes:** %ld",
                   t->open ? "Open" : "Closed", t->solved ? "Yes" : "No",
                   t->solved_votes, t->failed_votes);
    /* deliveries Discord refused for good: why a reply is missing */
    n = rag_store_outbox_failures(b->db, t->thread_id, f, 3);
    for (i = 0; i < n; i++)
        rag_buf_printf(out, "%s%s — %.200s", i ? "\n" : "\n**Not delivered:** ",
                       f[i].kind, f[i].error);
}

static void
cmd_status(rag_bot *b, const cmd_ctx *c, cmd_out *o)
{
    rag_thread_status t;
    rag_buf text;

    if (!thread_row(b, c, o, 0, &t))
        return;
    rag_buf_init(&text, RAG_EMBED_DESC_MAX);
    status_text(b, &text, &t);
    reply(o, "Thread Status", text.data, RAG_COLOR_INFO);
    rag_buf_free(&text);
}

/* Changes the thread's state and, in the same transaction, records
 * what Discord must show for it, in order: unarchive before the
 * controller edit (an archived thread cannot be edited), archive after
 * it. */
static int
toggle(rag_bot *b, const cmd_ctx *c)
{
    const char *t = c->channel;
    int changed;

    if (rag_db_begin(b->db) < 0)
        return -1;
    if (strcmp(c->name, "solve") == 0)
        changed = rag_store_threads_solve(b->db, t, c->user ? c->user : "");
    else if (strcmp(c->name, "unsolve") == 0)
        changed = rag_store_threads_unsolve(b->db, t);
    else
        changed =
            rag_store_threads_set_open(b->db, t, strcmp(c->name, "open") == 0);
    if (changed > 0 && ((strcmp(c->name, "open") == 0 &&
                         rag_store_outbox_archive(b->db, t, 0) < 0) ||
                        rag_store_outbox_edit(b->db, t) < 0 ||
                        (strcmp(c->name, "close") == 0 &&
                         rag_store_outbox_archive(b->db, t, 1) < 0)))
        changed = -1;
    if (changed < 0 || rag_db_commit(b->db) < 0) {
        rag_db_rollback(b->db);
        return -1;
    }
    return changed;
}

static void
cmd_toggle(rag_bot *b, const cmd_ctx *c, cmd_out *o)
{
    rag_thread_status t;
    const char *done;
    int changed;

    if (!thread_row(b, c, o, 1, &t))
        return;
    if (strcmp(c->name, "solve") == 0)
        done = "This post has been marked as solved.";
    else if (strcmp(c->name, "unsolve") == 0)
        done = "This post is no longer marked as solved.";
    else if (strcmp(c->name, "open") == 0)
        done = "This post has been re-opened.";
    else
        done = "This post has been closed.";
    changed = toggle(b, c);
    if (changed < 0) {
        error_reply(o, "Could not update the thread; try again later.");
    } else if (changed == 0) {
        reply(o, "Thread Status",
              "Nothing to change: the thread is "
              "already in that state.",
              RAG_COLOR_INFO);
        o->ephemeral = 1;
    } else {
        rag_info("msg=\"thread command\" thread=%s command=%s user=%s",
                 c->channel, c->name, c->user ? c->user : "");
        reply(o, "Thread Status", done, RAG_COLOR_INFO);
    }
}

static void
cmd_ask(rag_bot *b, const cmd_ctx *c, cmd_out *o, const char *iid)
{
    yajl_val q = opt(c, "question");
    char mid[96], query[QUERY_MAX + 1];
    rag_user_message m;
    char *coll;
    int state;

    if (q == NULL || !YAJL_IS_STRING(q) || !*q->u.string) {
        error_reply(o, "Ask a question: /ask question:<text>");
        return;
    }
    snprintf(query, sizeof(query), "%s", q->u.string);
    state = c->channel ? rag_store_threads_state(b->db, c->channel) : 0;
    if (state == 2) {
        error_reply(o, "This thread is closed or solved; open a new "
                       "post to ask something else.");
        return;
    }
    if (state == 1) {
        /* stored like a mention: the trigger enqueues the answer */
        snprintf(mid, sizeof(mid), "ask-%s", iid);
        memset(&m, 0, sizeof(m));
        m.thread_id = c->channel;
        m.message_id = mid;
        m.author_id = c->user ? c->user : "";
        m.content = query;
        m.mentions_bot = 1;
        if (rag_store_messages_insert_user(b->db, &m) >= 0)
            reply(o, "Question received",
                  "The answer will be posted "
                  "in this thread.",
                  RAG_COLOR_INFO);
        else
            error_reply(o, "Could not queue the question; try again.");
        return;
    }
    /* outside a help thread: the top passages, quoted as links */
    coll = pick_collection(b, c);
    if (coll == NULL) {
        error_reply(o, "No documentation collection is configured here.");
        return;
    }
    search_into(b, coll, query, 5, o, "From the docs");
    free(coll);
}

static void
run(rag_bot *b, const cmd_ctx *c, cmd_out *o, const char *iid)
{
    const char *n = c->name;

    if (strcmp(n, "commands") == 0)
        cmd_commands(o);
    else if (strcmp(n, "info") == 0)
        cmd_info(o);
    else if (strcmp(n, "collections") == 0)
        cmd_collections(b, o);
    else if (strcmp(n, "search") == 0)
        cmd_search(b, c, o);
    else if (strcmp(n, "status") == 0)
        cmd_status(b, c, o);
    else if (strcmp(n, "solve") == 0 || strcmp(n, "unsolve") == 0 ||
             strcmp(n, "open") == 0 || strcmp(n, "close") == 0)
        cmd_toggle(b, c, o);
    else if (strcmp(n, "ask") == 0)
        cmd_ask(b, c, o, iid);
    else
        error_reply(o, "Unknown command.");
}

/* data with "flags":64 merged in when ephemeral. */
static void
with_flags(rag_buf *dst, cmd_out *o)
{
    if (o->data.len < 2 || o->data.data[o->data.len - 1] != '}')
        error_reply(o, "Something went wrong; please try again.");
    rag_buf_append(dst, o->data.data, o->data.len - 1);
    rag_buf_printf(dst, ",\"flags\":%d}", o->ephemeral ? 64 : 0);
}

static void
callback_done(void *ud, const rag_rest_result *res)
{
    char *name = ud;

    if (!res->cancelled && res->status / 100 != 2)
        rag_warn("msg=\"interaction response failed\" command=%s "
                 "status=%ld code=%d",
                 name, res->status, res->code);
    free(name);
}

void
rag_commands_gateway(rag_bot *b, yajl_val d)
{
    cmd_ctx c;
    cmd_out o;
    const char *id = rag_json_str(d, "id", NULL),
               *token = rag_json_str(d, "token", NULL);
    rag_buf body, path;
    char *name;

    if (!id || !token || rag_json_int(d, 0, "type", NULL) != 2)
        return;
    memset(&c, 0, sizeof(c));
    c.name = rag_json_str(d, "data", "name", NULL);
    c.guild = rag_json_str(d, "guild_id", NULL);
    c.channel = rag_json_str(d, "channel_id", NULL);
    c.user = rag_json_str(d, "member", "user", "id", NULL);
    if (c.user == NULL)
        c.user = rag_json_str(d, "user", "id", NULL);
    c.roles = rag_json_get(d, "member", "roles", NULL);
    c.options = rag_json_get(d, "data", "options", NULL);
    if (c.name == NULL)
        return;
    memset(&o, 0, sizeof(o));
    rag_buf_init(&o.data, 64 * 1024);
    rag_buf_init(&body, 64 * 1024);
    rag_buf_init(&path, 512);
    run(b, &c, &o, id);
    rag_buf_puts(&body, "{\"type\":4,\"data\":");
    with_flags(&body, &o);
    rag_buf_putc(&body, '}');
    rag_buf_printf(&path, "/interactions/%s/%s/callback", id, token);
    name = strdup(c.name);
    if (name == NULL || rag_rest_submit(b->rest, "POST", path.data, body.data,
                                        callback_done, name) != 0) {
        rag_warn("msg=\"interaction response not queued\" command=%s", c.name);
        free(name);
    }
    rag_buf_free(&o.data);
    rag_buf_free(&body);
    rag_buf_free(&path);
}

/* A deferred interaction's answer: the row settles when Discord has
 * taken the webhook edit. */
typedef struct {
    rag_bot *b;
    long long id;
} deferred;

static void
deferred_done(void *ud, const rag_rest_result *res)
{
    deferred *q = ud;
    char err[200], desc[160];

    if (!res->cancelled) {
        if (res->status / 100 == 2) {
            rag_store_interactions_done(q->b->db, q->id);
        } else {
            rag_rest_describe(res->status, res->code, res->error, desc,
                              sizeof(desc));
            snprintf(err, sizeof(err), "webhook edit: status %ld: %s",
                     res->status, desc);
            rag_store_interactions_failed(q->b->db, q->id, err);
        }
    }
    free(q);
}

int
rag_commands_run_queue(rag_bot *b)
{
    rag_interaction *v;
    int i, n;

    /* interaction tokens last 15 minutes: older rows cannot be answered */
    rag_store_interactions_expire(b->db);
    n = rag_store_interactions_claim(b->db, b->worker_id, 60, 10, &v);
    for (i = 0; i < n; i++) {
        rag_interaction *x = &v[i];
        cmd_ctx c;
        cmd_out o;
        yajl_val roles, opts;
        rag_buf path;
        deferred *q;

        roles = rag_json_parse(x->roles_json, strlen(x->roles_json));
        opts = rag_json_parse(x->options_json, strlen(x->options_json));
        memset(&c, 0, sizeof(c));
        c.name = x->command;
        c.guild = *x->guild_id ? x->guild_id : NULL;
        c.channel = *x->channel_id ? x->channel_id : NULL;
        c.user = *x->user_id ? x->user_id : NULL;
        c.roles = roles;
        /* the module queues the interaction's "data": its options are
         * inside (a bare array or {name: value} object also works) */
        c.options =
            opts && YAJL_IS_OBJECT(opts) && rag_json_get(opts, "name", NULL)
                ? rag_json_get(opts, "options", NULL)
                : opts;
        memset(&o, 0, sizeof(o));
        rag_buf_init(&o.data, 64 * 1024);
        rag_buf_init(&path, 512);
        run(b, &c, &o, x->interaction_id);
        /* the deferred reply's visibility was fixed by the module */
        if (o.data.len == 0)
            error_reply(&o, "Something went wrong; please try again.");
        rag_buf_printf(&path, "/webhooks/%s/%s/messages/@original",
                       x->application_id, x->token);
        q = calloc(1, sizeof(*q));
        if (q) {
            q->b = b;
            q->id = x->id;
            if (rag_rest_submit(b->rest, "PATCH", path.data, o.data.data,
                                deferred_done, q) != 0)
                free(q); /* the lease runs out; retried */
        }
        rag_buf_free(&o.data);
        rag_buf_free(&path);
        yajl_tree_free(roles);
        yajl_tree_free(opts);
    }
    rag_store_interactions_free(v, n > 0 ? n : 0);
    return n < 0 ? 0 : n;
}
