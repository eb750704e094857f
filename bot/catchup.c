/*
 * catchup — REST backfill after a fresh session (see catchup.h).
 *
 * Every request runs asynchronously; each answer feeds the handlers and
 * may queue the next page. b->catchup_pending counts what is in flight,
 * and the run is logged as done when it drops to zero.
 */
#include "catchup.h"
#include "events.h"
#include "outbox.h"

#include "rag_log.h"
#include "rag_store_threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CATCHUP_PAGES 5
#define CATCHUP_DAYS 7

typedef struct {
    rag_bot *b;
    char guild[32];
    char thread[32];
    char after[32]; /* messages pages: the newest id seen */
    int page;
} cu_req;

static void cu_finish(rag_bot *b);

/* A thread's channel answered that it is gone or out of reach: no
 * catch-up (nor delivery) asks for it again. */
static void
cu_check_gone(cu_req *c, const rag_rest_result *res)
{
    rag_outbox_verdict v;

    if (res->status / 100 != 4)
        return;
    rag_outbox_classify(res->status, res->code, &v);
    if (v.channel_gone &&
        rag_store_threads_unreachable(c->b->db, c->thread, v.failure) == 1)
        rag_warn("msg=\"catch-up: thread unreachable\" thread=%s reason=%s",
                 c->thread, v.failure);
}

/* Queues GET path for done; 0 or -1 (c freed). */
static int
cu_get(cu_req *c, const char *path, rag_rest_done done)
{
    if (rag_rest_submit(c->b->rest, "GET", path, NULL, done, c) != 0) {
        free(c);
        return -1;
    }
    c->b->catchup_pending++;
    return 0;
}

/* A request of the run ended: c is freed by the caller. */
static void
cu_ended(rag_bot *b)
{
    if (b->catchup_pending > 0 && --b->catchup_pending == 0)
        cu_finish(b);
}

static void
cu_finish(rag_bot *b)
{
    rag_info("msg=\"catch-up done\" messages=%d", b->catchup_fed);
}

/* Snowflakes compare as numbers: longer is larger, then lexically. */
static int
snowflake_cmp(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la != lb)
        return la < lb ? -1 : 1;
    return strcmp(a, b);
}

static int
by_id(const void *x, const void *y)
{
    const char *a = rag_json_str(*(yajl_val const *)x, "id", NULL);
    const char *b = rag_json_str(*(yajl_val const *)y, "id", NULL);

    return snowflake_cmp(a ? a : "", b ? b : "");
}

/* Hands an array of messages to the handlers, oldest first; the newest
 * id goes to last. */
static int
feed_messages(rag_bot *b, yajl_val arr, const char *guild, char *last,
              size_t lastlen)
{
    yajl_val *v;
    size_t i, n;
    const char *id;

    if (arr == NULL || !YAJL_IS_ARRAY(arr) || arr->u.array.len == 0)
        return 0;
    n = arr->u.array.len;
    v = malloc(n * sizeof(*v));
    if (v == NULL)
        return 0;
    memcpy(v, arr->u.array.values, n * sizeof(*v));
    qsort(v, n, sizeof(*v), by_id);
    for (i = 0; i < n; i++)
        if (YAJL_IS_OBJECT(v[i]))
            rag_events_message(b, v[i], guild);
    id = rag_json_str(v[n - 1], "id", NULL);
    snprintf(last, lastlen, "%s", id ? id : "");
    free(v);
    return (int)n;
}

static int page_get(cu_req *c);

/* The starter of a new post, then the messages after it, in order. */
static void
starter_fetched(void *ud, const rag_rest_result *res)
{
    cu_req *c = ud;
    rag_bot *b = c->b;
    yajl_val msg;

    if (res->cancelled) {
        free(c);
        return;
    }
    if (res->status == 200) {
        msg = rag_json_parse(res->body, res->body_len);
        if (msg && YAJL_IS_OBJECT(msg)) {
            rag_events_message(b, msg, c->guild);
            b->catchup_fed++;
        }
        yajl_tree_free(msg);
    }
    cu_check_gone(c, res);
    snprintf(c->after, sizeof(c->after), "%s", c->thread);
    c->page = 0;
    if (page_get(c) != 0)
        free(c);
    cu_ended(b);
}

/* New forum posts made while we were away: tracked, starter fetched. */
static void
active_fetched(void *ud, const rag_rest_result *res)
{
    cu_req *c = ud, *s;
    rag_bot *b = c->b;
    yajl_val v = NULL, threads;
    size_t i;
    char path[128];

    if (res->cancelled) {
        free(c);
        return;
    }
    if (res->status == 200)
        v = rag_json_parse(res->body, res->body_len);
    threads = rag_json_get(v, "threads", NULL);
    for (i = 0; threads && YAJL_IS_ARRAY(threads) && i < threads->u.array.len &&
                i < RAG_CATCHUP_MAX_THREADS;
         i++) {
        yajl_val t = threads->u.array.values[i];
        const char *id = rag_json_str(t, "id", NULL),
                   *parent = rag_json_str(t, "parent_id", NULL);

        if (!id || !parent || strlen(id) >= sizeof(c->thread) ||
            rag_store_threads_state(b->db, id) != 0 ||
            !rag_events_track_thread(b, id, c->guild, parent,
                                     rag_json_str(t, "name", NULL),
                                     rag_json_str(t, "owner_id", NULL)))
            continue;
        rag_info("msg=\"catch-up: new post\" thread=%s", id);
        if ((s = calloc(1, sizeof(*s))) == NULL)
            continue;
        s->b = b;
        snprintf(s->guild, sizeof(s->guild), "%s", c->guild);
        snprintf(s->thread, sizeof(s->thread), "%s", id);
        /* the starter message has the thread's id */
        snprintf(path, sizeof(path), "/channels/%s/messages/%s", id, id);
        cu_get(s, path, starter_fetched);
    }
    yajl_tree_free(v);
    cu_ended(b);
    free(c);
}

/* A page of messages after c->after: fed to the handlers, oldest first;
 * a full page asks for the next one. */
static void
page_fetched(void *ud, const rag_rest_result *res)
{
    cu_req *c = ud;
    rag_bot *b = c->b;
    yajl_val v;
    int got = 0;

    if (res->cancelled) {
        free(c);
        return;
    }
    if (res->status == 200) {
        v = rag_json_parse(res->body, res->body_len);
        got = feed_messages(b, v, *c->guild ? c->guild : NULL, c->after,
                            sizeof(c->after));
        yajl_tree_free(v);
        b->catchup_fed += got;
    }
    cu_check_gone(c, res);
    c->page++;
    /* only a snowflake goes into the next URL */
    if (got == 100 && c->page < CATCHUP_PAGES && c->after[0] &&
        c->after[strspn(c->after, "0123456789")] == '\0' && page_get(c) == 0) {
        cu_ended(b); /* this page; the next one is counted */
        return;
    }
    cu_ended(b);
    free(c);
}

static int
page_get(cu_req *c)
{
    char path[160];

    snprintf(path, sizeof(path), "/channels/%s/messages?limit=100&after=%s",
             c->thread, c->after);
    if (rag_rest_submit(c->b->rest, "GET", path, NULL, page_fetched, c) != 0)
        return -1;
    c->b->catchup_pending++;
    return 0;
}

int
rag_catchup_run(rag_bot *b)
{
    char **guilds;
    rag_thread_recent *t = NULL;
    cu_req *c;
    char path[128];
    int i, n;

    b->catchup_due = 0;
    if (b->catchup_pending > 0)
        return 0; /* one run at a time */
    b->catchup_fed = 0;
    b->catchup_pending = 1; /* held until everything is queued */
    guilds = rag_bot_forum_guilds(b);
    for (i = 0; guilds && guilds[i]; i++) {
        if (strlen(guilds[i]) >= sizeof(c->guild) ||
            (c = calloc(1, sizeof(*c))) == NULL)
            continue;
        c->b = b;
        snprintf(c->guild, sizeof(c->guild), "%s", guilds[i]);
        snprintf(path, sizeof(path), "/guilds/%s/threads/active", c->guild);
        cu_get(c, path, active_fetched);
    }
    rag_bot_list_free(guilds);
    /* messages after the newest one stored in each open, recent thread */
    n = rag_store_threads_recent(b->db, CATCHUP_DAYS, RAG_CATCHUP_MAX_THREADS,
                                 &t);
    for (i = 0; i < n; i++) {
        if (strlen(t[i].thread_id) >= sizeof(c->thread) ||
            (c = calloc(1, sizeof(*c))) == NULL)
            continue;
        c->b = b;
        snprintf(c->thread, sizeof(c->thread), "%s", t[i].thread_id);
        snprintf(c->guild, sizeof(c->guild), "%s", t[i].guild_id);
        snprintf(c->after, sizeof(c->after), "%s",
                 t[i].last_seen[0] ? t[i].last_seen : t[i].thread_id);
        if (page_get(c) != 0)
            free(c);
    }
    rag_store_threads_recent_free(t);
    cu_ended(b);
    return n < 0 ? 0 : n;
}
