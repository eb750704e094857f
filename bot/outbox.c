/*
 * outbox — reply delivery (see outbox.h).
 */
#include "outbox.h"
#include "embed.h"

#include "rag_db.h"
#include "rag_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 10
#define MAX_ATTEMPTS 10

int
rag_outbox_permanent(long status, int code)
{
    /* 10003 Unknown Channel, 10008 Unknown Message, 50001 Missing
     * Access, 50013 Missing Permissions, 50083 archived thread */
    if (status == 404 || status == 403 || status == 400)
        return 1;
    return code == 10003 || code == 50001 || code == 50013 || code == 50083;
}

static void
mark_failed(rag_bot *b, const char *thread, const char *msg, const char *why,
            int permanent)
{
    const char *p[] = {thread, msg, why, b->worker_id};

    /* a permanent failure is processed with no discord_message_id;
     * otherwise the lease is pushed out with backoff (attempts^2 s) */
    rag_db_exec(
        b->db,
        permanent
            ? "UPDATE messages SET processed = true, last_error = $3, "
              "lease_until = NULL, locked_by = NULL WHERE thread_id = $1 AND "
              "message_id = $2 AND locked_by = $4"
            : "UPDATE messages SET last_error = $3, locked_by = NULL, "
              "lease_until = now() + make_interval(secs => "
              "least(300, delivery_attempts * delivery_attempts)), "
              "processed = delivery_attempts >= 10 "
              "WHERE thread_id = $1 AND message_id = $2 AND locked_by = $4",
        4, p);
    rag_warn("msg=\"reply delivery failed\" thread=%s message=%s "
             "permanent=%d error=\"%s\"",
             thread, msg, permanent, why);
}

/* First embed's description of a message body we built or fetched. */
static const char *
first_desc(yajl_val msg)
{
    yajl_val e = rag_json_get(msg, "embeds", NULL);

    if (e == NULL || !YAJL_IS_ARRAY(e) || e->u.array.len == 0)
        return NULL;
    return rag_json_str(e->u.array.values[0], "description", NULL);
}

/* On a retry, Discord's nonce memory (a few minutes) may have lapsed:
 * look for the part among the bot's recent messages in the thread.
 * Returns the existing message id in out, or "" if not found. */
/* Creation time in ms of a snowflake id. */
static long long
snowflake_ms(const char *id)
{
    return (long long)(strtoull(id, NULL, 10) >> 22) + 1420070400000LL;
}

static void
find_posted(rag_bot *b, yajl_val recent, const char *body, long long since_ms,
            char *out, size_t outlen)
{
    yajl_val mine = rag_json_parse(body, strlen(body));
    const char *want = first_desc(mine);
    size_t i;

    out[0] = '\0';
    for (i = 0;
         want && recent && YAJL_IS_ARRAY(recent) && i < recent->u.array.len;
         i++) {
        yajl_val m = recent->u.array.values[i];
        const char *author = rag_json_str(m, "author", "id", NULL),
                   *id = rag_json_str(m, "id", NULL), *d = first_desc(m);
        /* only messages posted after the reply was written */
        if (id && author && d && strcmp(author, b->bot_id) == 0 &&
            snowflake_ms(id) >= since_ms && strcmp(d, want) == 0) {
            snprintf(out, outlen, "%s", id);
            break;
        }
    }
    yajl_tree_free(mine);
}

static yajl_val
recent_messages(rag_bot *b, const char *thread)
{
    rag_buf path;
    rag_rest_resp resp;
    yajl_val v = NULL;

    rag_buf_init(&path, 128);
    rag_buf_printf(&path, "/channels/%s/messages?limit=100", thread);
    if (rag_rest_call(b->rest, "GET", path.data, NULL, &resp) == 0 &&
        resp.status == 200)
        v = rag_json_parse(resp.body.data, resp.body.len);
    rag_buf_free(&resp.body);
    rag_buf_free(&path);
    return v;
}

static void
deliver(rag_bot *b, const char *thread, const char *msg, const char *content,
        const char *sources, int abstained, int attempt, long long created_ms)
{
    rag_buf *bodies = NULL, path;
    long n, i;
    char first_id[32] = "", why[160], found[32];
    const char *p[4];
    PGresult *r;
    yajl_val recent = NULL;

    n = rag_embed_reply_messages(content, sources, msg, abstained, &bodies);
    if (n <= 0) {
        mark_failed(b, thread, msg, "cannot build message", 0);
        return;
    }
    rag_buf_init(&path, 128);
    rag_buf_printf(&path, "/channels/%s/messages", thread);
    /* a retry: maybe the last attempt got through before we crashed */
    if (attempt > 1 && b->bot_id[0])
        recent = recent_messages(b, thread);
    for (i = 0; i < n; i++) {
        rag_rest_resp resp;
        int rc;

        find_posted(b, recent, bodies[i].data, created_ms - 1000, found,
                    sizeof(found));
        if (found[0]) {
            rag_info("msg=\"reply part already posted\" thread=%s "
                     "message=%s part=%ld discord_id=%s",
                     thread, msg, i, found);
            if (i == 0)
                snprintf(first_id, sizeof(first_id), "%s", found);
            continue;
        }
        rc = rag_rest_call(b->rest, "POST", path.data, bodies[i].data, &resp);
        if (rc == 0 && resp.status / 100 == 2) {
            if (i == 0) {
                yajl_val v = rag_json_parse(resp.body.data, resp.body.len);
                const char *id = rag_json_str(v, "id", NULL);
                snprintf(first_id, sizeof(first_id), "%s", id ? id : "");
                yajl_tree_free(v);
            }
            rag_buf_free(&resp.body);
            continue;
        }
        snprintf(why, sizeof(why), "POST messages: status %ld code %d",
                 resp.status, resp.code);
        mark_failed(b, thread, msg, why,
                    rc == 0 && rag_outbox_permanent(resp.status, resp.code));
        rag_buf_free(&resp.body);
        goto done;
    }
    p[0] = thread;
    p[1] = msg;
    p[2] = first_id;
    p[3] = b->worker_id;
    r = rag_db_query(
        b->db,
        "UPDATE messages SET processed = true, discord_message_id = $3, "
        "delivered_at = now(), lease_until = NULL, locked_by = NULL, "
        "last_error = NULL WHERE thread_id = $1 AND message_id = $2 AND "
        "locked_by = $4 RETURNING 1",
        4, p);
    if (r && PQntuples(r) == 1) {
        rag_info("msg=\"reply delivered\" thread=%s message=%s parts=%ld "
                 "discord_id=%s",
                 thread, msg, n, first_id);
        PQclear(r);
        p[0] = thread;
        r = rag_db_query(b->db,
                         "SELECT thread_controller_id FROM threads "
                         "WHERE thread_id = $1 AND thread_controller_id "
                         "IS NOT NULL",
                         1, p);
        if (r && PQntuples(r) == 1) {
            rag_bot_controller_refresh(b, thread);
            rag_bot_react(b, thread, PQgetvalue(r, 0, 0), "\xE2\x9C\x85");
            rag_bot_react(b, thread, PQgetvalue(r, 0, 0), "\xE2\x9D\x8C");
        }
    } else {
        rag_warn("msg=\"lease lost before recording delivery\" thread=%s "
                 "message=%s",
                 thread, msg);
    }
    PQclear(r);
done:
    yajl_tree_free(recent);
    for (i = 0; i < n; i++)
        rag_buf_free(&bodies[i]);
    free(bodies);
    rag_buf_free(&path);
}

int
rag_outbox_run(rag_bot *b, long lease_s)
{
    char lease[32], batch[16];
    const char *p[] = {b->worker_id, lease, batch};
    PGresult *r;
    int i, n, total = 0;

    snprintf(lease, sizeof(lease), "%ld", lease_s > 0 ? lease_s : 60);
    snprintf(batch, sizeof(batch), "%d", BATCH);
    for (;;) {
        /* claim: the lease, not "processed", marks a reply in flight, so
         * a crash leaves it to be retried (with the same nonces) */
        r = rag_db_query(
            b->db,
            "WITH c AS (SELECT thread_id, message_id FROM messages "
            "  WHERE from_bot AND NOT processed AND "
            "        (lease_until IS NULL OR lease_until < now()) "
            "  ORDER BY created_at LIMIT $3::int FOR UPDATE SKIP LOCKED) "
            "UPDATE messages m SET locked_by = $1, "
            "  lease_until = now() + make_interval(secs => $2::int), "
            "  delivery_attempts = m.delivery_attempts + 1 "
            "FROM c WHERE m.thread_id = c.thread_id AND "
            "  m.message_id = c.message_id "
            "RETURNING m.thread_id, m.message_id, m.content, "
            "  m.sources::text, m.abstained, m.delivery_attempts, "
            "  (extract(epoch FROM m.created_at) * 1000)::bigint",
            3, p);
        if (r == NULL)
            return total;
        n = PQntuples(r);
        for (i = 0; i < n; i++) {
            if (i > 0 && b->pump)
                b->pump(b->pump_ud);
            deliver(b, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                    PQgetvalue(r, i, 2),
                    PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3),
                    PQgetvalue(r, i, 4)[0] == 't', atoi(PQgetvalue(r, i, 5)),
                    atoll(PQgetvalue(r, i, 6)));
        }
        PQclear(r);
        total += n;
        if (n < BATCH || total >= 100)
            return total;
    }
}
