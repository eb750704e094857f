/*
 * catchup — REST backfill after a fresh session (see catchup.h).
 */
#include "catchup.h"
#include "events.h"

#include "rag_db.h"
#include "rag_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CATCHUP_PAGES 5

/* GET path; parsed JSON or NULL (caller frees). */
static yajl_val
get_json(rag_bot *b, const char *path)
{
    rag_rest_resp resp;
    yajl_val v = NULL;

    if (rag_rest_call(b->rest, "GET", path, NULL, &resp) == 0 &&
        resp.status == 200)
        v = rag_json_parse(resp.body.data, resp.body.len);
    rag_buf_free(&resp.body);
    return v;
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

/* New forum posts made while we were away. */
static int
new_threads(rag_bot *b, const char *guild)
{
    rag_buf path;
    yajl_val v, threads;
    size_t i;
    int fed = 0;

    rag_buf_init(&path, 256);
    rag_buf_printf(&path, "/guilds/%s/threads/active", guild);
    v = get_json(b, path.data);
    threads = rag_json_get(v, "threads", NULL);
    for (i = 0; threads && YAJL_IS_ARRAY(threads) && i < threads->u.array.len &&
                i < RAG_CATCHUP_MAX_THREADS;
         i++) {
        yajl_val t = threads->u.array.values[i], msg;
        const char *id = rag_json_str(t, "id", NULL),
                   *parent = rag_json_str(t, "parent_id", NULL);
        const char *p[] = {id};
        PGresult *r;
        int known;

        if (!id || !parent)
            continue;
        r = rag_db_query(b->db, "SELECT 1 FROM threads WHERE thread_id = $1", 1,
                         p);
        known = r == NULL || PQntuples(r) > 0;
        PQclear(r);
        if (known || !rag_events_track_thread(b, id, guild, parent,
                                              rag_json_str(t, "name", NULL),
                                              rag_json_str(t, "owner_id", NULL)))
            continue;
        rag_info("msg=\"catch-up: new post\" thread=%s", id);
        /* the starter message has the thread's id */
        rag_buf_reset(&path);
        rag_buf_printf(&path, "/channels/%s/messages/%s", id, id);
        msg = get_json(b, path.data);
        if (msg && YAJL_IS_OBJECT(msg)) {
            rag_events_message(b, msg, guild);
            fed++;
        }
        yajl_tree_free(msg);
    }
    yajl_tree_free(v);
    rag_buf_free(&path);
    return fed;
}

/* Messages after the newest stored one in each open, recent thread. */
static int
missed_messages(rag_bot *b)
{
    PGresult *r;
    rag_buf path;
    int i, fed = 0;

    r = rag_db_query(
        b->db,
        "SELECT t.thread_id, coalesce(t.guild_id, ''), "
        "       (SELECT m.message_id FROM messages m "
        "         WHERE m.thread_id = t.thread_id AND NOT m.from_bot "
        "           AND m.message_id ~ '^[0-9]{1,20}$' "
        "         ORDER BY length(m.message_id) DESC, m.message_id DESC "
        "         LIMIT 1) "
        "FROM threads t WHERE t.open AND t.updated_at > now() - "
        "interval '7 days' ORDER BY t.updated_at DESC LIMIT 200",
        0, NULL);
    if (r == NULL)
        return 0;
    rag_buf_init(&path, 256);
    for (i = 0; i < PQntuples(r); i++) {
        const char *t = PQgetvalue(r, i, 0), *g = PQgetvalue(r, i, 1);
        char after[32];
        int page, got;

        if (i > 0 && b->pump) /* keep slash commands answered */
            b->pump(b->pump_ud);
        snprintf(after, sizeof(after), "%s",
                 *PQgetvalue(r, i, 2) ? PQgetvalue(r, i, 2) : t);
        /* pages of 100, oldest first, up to CATCHUP_PAGES per thread */
        for (page = 0, got = 100; page < CATCHUP_PAGES && got == 100; page++) {
            yajl_val v;

            rag_buf_reset(&path);
            rag_buf_printf(&path, "/channels/%s/messages?limit=100&after=%s", t,
                           after);
            v = get_json(b, path.data);
            got = feed_messages(b, v, *g ? g : NULL, after, sizeof(after));
            fed += got;
            yajl_tree_free(v);
            if (!after[0] || after[strspn(after, "0123456789")] != '\0')
                break; /* only a snowflake goes into the next URL */
        }
    }
    rag_buf_free(&path);
    PQclear(r);
    return fed;
}

int
rag_catchup_run(rag_bot *b)
{
    PGresult *r;
    int i, fed = 0;

    b->catchup_due = 0;
    r = rag_db_query(b->db, "SELECT DISTINCT guild_id FROM guild_forums", 0,
                     NULL);
    for (i = 0; r && i < PQntuples(r); i++)
        fed += new_threads(b, PQgetvalue(r, i, 0));
    PQclear(r);
    fed += missed_messages(b);
    rag_info("msg=\"catch-up done\" messages=%d", fed);
    return fed;
}
