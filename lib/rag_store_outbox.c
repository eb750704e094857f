/*
 * rag_store_outbox — delivery bookkeeping (see rag_store_outbox.h).
 */
#include "rag_store_outbox.h"

#include "rag_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
rag_store_outbox_claim_replies(PGconn *db, const char *worker, long lease_s,
                               int max, rag_outbox_reply **out)
{
    char lease[32], lim[16];
    const char *p[] = {worker, lease, lim};
    PGresult *r;
    int i, n;

    *out = NULL;
    snprintf(lease, sizeof(lease), "%ld", lease_s > 0 ? lease_s : 60);
    snprintf(lim, sizeof(lim), "%d", max > 0 ? max : 1);
    /* the lease, not "processed", marks a reply in flight, so a crash
     * leaves it to be retried (with the same nonces); one reply per
     * thread at a time, oldest first */
    r = rag_db_query(
        db,
        "WITH c AS (SELECT m.thread_id, m.message_id FROM messages m "
        "  WHERE m.from_bot AND NOT m.processed AND "
        "        (m.lease_until IS NULL OR m.lease_until < now()) AND "
        "        NOT EXISTS (SELECT 1 FROM threads t WHERE "
        "          t.thread_id = m.thread_id AND t.unreachable IS NOT NULL) "
        "        AND EXISTS (SELECT 1 FROM threads t WHERE "
        "          t.thread_id = m.thread_id AND "
        "          rag_shard_owned($1, t.guild_id)) "
        "        AND "
        "        NOT EXISTS (SELECT 1 FROM messages o "
        "          WHERE o.thread_id = m.thread_id AND o.from_bot AND "
        "                NOT o.processed AND o.message_id <> m.message_id "
        "            AND ((o.created_at, o.message_id) < "
        "                 (m.created_at, m.message_id) OR "
        "                 o.lease_until > now())) "
        "  ORDER BY m.created_at LIMIT $3::int FOR UPDATE SKIP LOCKED) "
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
        return -1;
    n = PQntuples(r);
    if (n > 0 && (*out = calloc((size_t)n, sizeof(**out))) == NULL)
        goto oom;
    for (i = 0; i < n; i++) {
        rag_outbox_reply *o = &(*out)[i];
        snprintf(o->thread_id, sizeof(o->thread_id), "%s", PQgetvalue(r, i, 0));
        snprintf(o->message_id, sizeof(o->message_id), "%s",
                 PQgetvalue(r, i, 1));
        o->content = strdup(PQgetvalue(r, i, 2));
        o->sources = PQgetisnull(r, i, 3) ? NULL : strdup(PQgetvalue(r, i, 3));
        if (o->content == NULL || (!PQgetisnull(r, i, 3) && !o->sources)) {
            rag_store_outbox_replies_free(*out, i + 1);
            *out = NULL;
            goto oom;
        }
        o->abstained = PQgetvalue(r, i, 4)[0] == 't';
        o->attempts = atoi(PQgetvalue(r, i, 5));
        o->created_ms = atoll(PQgetvalue(r, i, 6));
    }
    PQclear(r);
    return n;
oom:
    /* the claimed rows come back when their lease ends */
    PQclear(r);
    return -1;
}

void
rag_store_outbox_replies_free(rag_outbox_reply *v, int n)
{
    int i;

    for (i = 0; v && i < n; i++) {
        free(v[i].content);
        free(v[i].sources);
    }
    free(v);
}

int
rag_store_outbox_reply_delivered(PGconn *db, const char *thread_id,
                                 const char *message_id, const char *discord_id,
                                 const char *part_ids, const char *worker)
{
    const char *p[] = {thread_id, message_id, discord_id, worker, part_ids};

    /* a reply whose question was deleted while it was in flight: the
     * trigger of sql/036 records its removal */
    return rag_db_count(
        db,
        "UPDATE messages SET processed = true, discord_message_id = $3, "
        "discord_part_ids = $5::text[], "
        "delivered_at = now(), lease_until = NULL, locked_by = NULL, "
        "last_error = NULL WHERE thread_id = $1 AND message_id = $2 AND "
        "locked_by = $4 RETURNING 1",
        5, p);
}

int
rag_store_outbox_reply_failed(PGconn *db, const char *thread_id,
                              const char *message_id, const char *worker,
                              const char *why, const char *failure,
                              int permanent, long backoff_ms, int max_attempts)
{
    char base[32], max[16];
    const char *p[] = {thread_id, message_id, why, worker, failure, base, max};

    snprintf(base, sizeof(base), "%ld", backoff_ms > 0 ? backoff_ms : 1000);
    snprintf(max, sizeof(max), "%d", max_attempts > 0 ? max_attempts : 10);
    /* given up: processed with no discord_message_id; otherwise the
     * lease is pushed out with backoff */
    if (permanent)
        return rag_db_exec(
            db,
            "UPDATE messages SET processed = true, last_error = $3, "
            "delivery_failure = $5, lease_until = NULL, locked_by = NULL "
            "WHERE thread_id = $1 AND message_id = $2 AND locked_by = $4",
            5, p);
    return rag_db_exec(
        db,
        "UPDATE messages SET locked_by = NULL, "
        "  last_error = CASE WHEN delivery_attempts >= $7::int "
        "    THEN $3 || ' (gave up after ' || delivery_attempts || "
        "         ' attempts)' ELSE $3 END, "
        "  delivery_failure = CASE WHEN delivery_attempts >= $7::int "
        "    THEN $5 END, "
        "  lease_until = now() + make_interval(secs => least(300, "
        "    $6::bigint / 1000.0 * delivery_attempts * delivery_attempts)), "
        "  processed = delivery_attempts >= $7::int "
        "WHERE thread_id = $1 AND message_id = $2 AND locked_by = $4",
        7, p);
}

int
rag_store_outbox_renew(PGconn *db, const char *worker, long lease_s)
{
    char lease[32];
    const char *p[] = {worker, lease};
    int a, b;

    snprintf(lease, sizeof(lease), "%ld", lease_s > 0 ? lease_s : 60);
    a = rag_db_count(db,
                     "UPDATE messages m SET lease_until = now() + "
                     "make_interval(secs => $2::int) WHERE locked_by = $1 "
                     "AND from_bot AND NOT processed AND EXISTS (SELECT 1 "
                     "FROM threads t WHERE t.thread_id = m.thread_id AND "
                     "rag_shard_owned($1, t.guild_id)) RETURNING 1",
                     2, p);
    b = rag_db_count(db,
                     "UPDATE deliveries d SET lease_until = now() + "
                     "make_interval(secs => $2::int) WHERE locked_by = $1 "
                     "AND state = 'queued' AND EXISTS (SELECT 1 FROM "
                     "threads t WHERE t.thread_id = d.thread_id AND "
                     "rag_shard_owned($1, t.guild_id)) RETURNING 1",
                     2, p);
    return a < 0 || b < 0 ? -1 : a + b;
}

/* --- deliveries --------------------------------------------------------- */

/* Records one intent; edits and archive changes re-arm (see the
 * migration). */
static int
enqueue(PGconn *db, const char *thread, const char *kind, const char *target,
        const char *emoji, const char *body, const char *key)
{
    const char *p[] = {thread, kind, target, emoji, body, key};

    return rag_db_count(
        db,
        "INSERT INTO deliveries (thread_id, kind, target_id, emoji, body, "
        "  dedupe_key) VALUES ($1, $2, $3, $4, $5::jsonb, $6) "
        "ON CONFLICT (dedupe_key) DO UPDATE SET state = 'queued', "
        "  seq = nextval('deliveries_seq'), body = EXCLUDED.body, "
        "  dirty = deliveries.state = 'queued' AND "
        "          deliveries.locked_by IS NOT NULL, "
        "  attempts = CASE WHEN deliveries.state = 'queued' AND "
        "    deliveries.locked_by IS NOT NULL THEN deliveries.attempts "
        "    ELSE 0 END, "
        "  lease_until = CASE WHEN deliveries.state = 'queued' AND "
        "    deliveries.locked_by IS NOT NULL THEN deliveries.lease_until "
        "    END, "
        "  last_error = NULL, done_at = NULL "
        "WHERE deliveries.kind IN ('edit', 'archive') RETURNING 1",
        6, p);
}

int
rag_store_outbox_controller(PGconn *db, const char *thread_id)
{
    char key[128];

    snprintf(key, sizeof(key), "controller:%s", thread_id);
    return enqueue(db, thread_id, "controller", NULL, NULL, NULL, key);
}

int
rag_store_outbox_edit(PGconn *db, const char *thread_id)
{
    char key[128];

    snprintf(key, sizeof(key), "edit:%s", thread_id);
    return enqueue(db, thread_id, "edit", NULL, NULL, NULL, key);
}

int
rag_store_outbox_react(PGconn *db, const char *thread_id,
                       const char *message_id, const char *emoji,
                       const char *name)
{
    char key[192];

    snprintf(key, sizeof(key), "react:%s:%s:%s", thread_id, message_id, name);
    return enqueue(db, thread_id, "react", message_id, emoji, NULL, key);
}

int
rag_store_outbox_archive(PGconn *db, const char *thread_id, int archived)
{
    char key[128];

    snprintf(key, sizeof(key), "archive:%s", thread_id);
    return enqueue(db, thread_id, "archive", NULL, NULL,
                   archived ? "{\"archived\":true}" : "{\"archived\":false}",
                   key);
}

int
rag_store_outbox_rearchive(PGconn *db, const char *thread_id)
{
    char key[128];

    snprintf(key, sizeof(key), "rearchive:%s", thread_id);
    return enqueue(db, thread_id, "archive", NULL, NULL, "{\"archived\":true}",
                   key);
}

int
rag_store_outbox_rearchive_cancel(PGconn *db, const char *thread_id)
{
    char key[128];
    const char *p[] = {key};

    snprintf(key, sizeof(key), "rearchive:%s", thread_id);
    return rag_db_count(db,
                        "DELETE FROM deliveries WHERE dedupe_key = $1 AND "
                        "state = 'queued' AND locked_by IS NULL RETURNING 1",
                        1, p);
}

int
rag_store_outbox_notice(PGconn *db, const char *thread_id, const char *key,
                        const char *body)
{
    char k[192];

    snprintf(k, sizeof(k), "notice:%s", key);
    return enqueue(db, thread_id, "notice", NULL, NULL, body, k);
}

int
rag_store_outbox_controller_followups(PGconn *db, const char *thread_id)
{
    const char *p[] = {thread_id};
    PGresult *r;
    char ctl[64];
    int ready, rc = 0;

    r = rag_db_query(
        db,
        "SELECT coalesce(thread_controller_id, ''), EXISTS (SELECT 1 FROM "
        "  messages m WHERE m.thread_id = t.thread_id AND m.from_bot AND "
        "  m.discord_message_id IS NOT NULL) AND NOT EXISTS (SELECT 1 FROM "
        "  erased_messages e WHERE e.message_id = t.thread_id) "
        "FROM threads t WHERE thread_id = $1 FOR UPDATE",
        1, p);
    if (r == NULL)
        return -1;
    ready = PQntuples(r) == 1 && *PQgetvalue(r, 0, 0) &&
            PQgetvalue(r, 0, 1)[0] == 't';
    if (ready)
        snprintf(ctl, sizeof(ctl), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (ready &&
        (rag_store_outbox_edit(db, thread_id) < 0 ||
         rag_store_outbox_react(db, thread_id, ctl, "\xE2\x9C\x85", "yes") <
             0 ||
         rag_store_outbox_react(db, thread_id, ctl, "\xE2\x9D\x8C", "no") < 0))
        rc = -1;
    return rc;
}

int
rag_store_outbox_claim(PGconn *db, const char *worker, long lease_s, int max,
                       rag_delivery **out)
{
    char lease[32], lim[16];
    const char *p[] = {worker, lease, lim};
    PGresult *r;
    int i, n;

    *out = NULL;
    snprintf(lease, sizeof(lease), "%ld", lease_s > 0 ? lease_s : 60);
    snprintf(lim, sizeof(lim), "%d", max > 0 ? max : 1);
    r = rag_db_query(
        db,
        "WITH c AS (SELECT d.id FROM deliveries d "
        "  WHERE d.state = 'queued' AND "
        "        (d.lease_until IS NULL OR d.lease_until < now()) AND "
        "        NOT EXISTS (SELECT 1 FROM threads t WHERE "
        "          t.thread_id = d.thread_id AND t.unreachable IS NOT NULL) "
        "        AND EXISTS (SELECT 1 FROM threads t WHERE "
        "          t.thread_id = d.thread_id AND "
        "          rag_shard_owned($1, t.guild_id)) "
        "        AND "
        "        (d.kind NOT IN ('edit', 'archive', 'unpost') OR NOT EXISTS ("
        "          SELECT 1 FROM deliveries o WHERE o.thread_id = d.thread_id"
        "            AND o.state = 'queued' AND o.id <> d.id AND "
        "            (o.kind IN ('controller', 'edit', 'archive') OR "
        "             (d.kind = 'archive' AND o.kind = 'unpost')) AND "
        "            (o.seq < d.seq OR o.lease_until > now()))) "
        "  ORDER BY d.seq LIMIT $3::int FOR UPDATE SKIP LOCKED) "
        "UPDATE deliveries d SET locked_by = $1, dirty = false, "
        "  lease_until = now() + make_interval(secs => $2::int), "
        "  attempts = d.attempts + 1 "
        "FROM c WHERE d.id = c.id "
        "RETURNING d.id, d.thread_id, d.kind, coalesce(d.target_id, ''), "
        "  coalesce(d.emoji, ''), d.dedupe_key, d.body::text, d.attempts, "
        "  (extract(epoch FROM d.created_at) * 1000)::bigint",
        3, p);
    if (r == NULL)
        return -1;
    n = PQntuples(r);
    if (n > 0 && (*out = calloc((size_t)n, sizeof(**out))) == NULL) {
        PQclear(r);
        return -1;
    }
    for (i = 0; i < n; i++) {
        rag_delivery *d = &(*out)[i];
        d->id = atoll(PQgetvalue(r, i, 0));
        snprintf(d->thread_id, sizeof(d->thread_id), "%s", PQgetvalue(r, i, 1));
        snprintf(d->kind, sizeof(d->kind), "%s", PQgetvalue(r, i, 2));
        snprintf(d->target_id, sizeof(d->target_id), "%s", PQgetvalue(r, i, 3));
        snprintf(d->emoji, sizeof(d->emoji), "%s", PQgetvalue(r, i, 4));
        snprintf(d->key, sizeof(d->key), "%s", PQgetvalue(r, i, 5));
        if (!PQgetisnull(r, i, 6) &&
            (d->body = strdup(PQgetvalue(r, i, 6))) == NULL) {
            rag_store_outbox_deliveries_free(*out, i);
            *out = NULL;
            PQclear(r);
            return -1; /* the leases run out */
        }
        d->attempts = atoi(PQgetvalue(r, i, 7));
        d->created_ms = atoll(PQgetvalue(r, i, 8));
    }
    PQclear(r);
    return n;
}

void
rag_store_outbox_deliveries_free(rag_delivery *v, int n)
{
    int i;

    for (i = 0; v && i < n; i++)
        free(v[i].body);
    free(v);
}

int
rag_store_outbox_done(PGconn *db, long long id, const char *worker,
                      const char *discord_id)
{
    char ids[32];
    const char *p[] = {ids, worker, discord_id};

    snprintf(ids, sizeof(ids), "%lld", id);
    return rag_db_count(
        db,
        "UPDATE deliveries SET "
        "  state = CASE WHEN dirty THEN 'queued' ELSE 'done' END, "
        "  attempts = CASE WHEN dirty THEN 0 ELSE attempts END, "
        "  done_at = CASE WHEN dirty THEN NULL ELSE now() END, "
        "  dirty = false, discord_id = coalesce($3, discord_id), "
        "  lease_until = NULL, locked_by = NULL, last_error = NULL "
        "WHERE id = $1::bigint AND locked_by = $2 RETURNING 1",
        3, p);
}

int
rag_store_outbox_failed(PGconn *db, long long id, const char *worker,
                        const char *why, const char *failure, int permanent,
                        long backoff_ms, int max_attempts)
{
    char ids[32], base[32], max[16];
    const char *p[] = {ids, worker, why, failure, base, max};

    snprintf(ids, sizeof(ids), "%lld", id);
    snprintf(base, sizeof(base), "%ld", backoff_ms > 0 ? backoff_ms : 1000);
    snprintf(max, sizeof(max), "%d", max_attempts > 0 ? max_attempts : 10);
    if (permanent)
        return rag_db_count(db,
                            "UPDATE deliveries SET state = 'failed', "
                            "last_error = $3, failure = $4, dirty = false, "
                            "lease_until = NULL, locked_by = NULL "
                            "WHERE id = $1::bigint AND locked_by = $2 "
                            "RETURNING 1",
                            4, p);
    return rag_db_count(
        db,
        "UPDATE deliveries SET locked_by = NULL, dirty = false, "
        "  state = CASE WHEN attempts >= $6::int THEN 'failed' "
        "    ELSE 'queued' END, "
        "  failure = CASE WHEN attempts >= $6::int THEN $4 END, "
        "  last_error = CASE WHEN attempts >= $6::int "
        "    THEN $3 || ' (gave up after ' || attempts || ' attempts)' "
        "    ELSE $3 END, "
        "  lease_until = now() + make_interval(secs => least(300, "
        "    $5::bigint / 1000.0 * attempts * attempts)) "
        "WHERE id = $1::bigint AND locked_by = $2 RETURNING 1",
        6, p);
}

int
rag_store_outbox_fail_unreachable(PGconn *db)
{
    int a, b;

    /* not while a worker holds the row: its own answer settles it */
    a = rag_db_count(
        db,
        "UPDATE messages m SET processed = true, lease_until = NULL, "
        "  locked_by = NULL, delivery_failure = t.unreachable, "
        "  last_error = 'thread unreachable (' || t.unreachable || ')' "
        "FROM threads t WHERE t.thread_id = m.thread_id AND "
        "  t.unreachable IS NOT NULL AND m.from_bot AND NOT m.processed "
        "  AND (m.locked_by IS NULL OR m.lease_until < now()) RETURNING 1",
        0, NULL);
    b = rag_db_count(
        db,
        "UPDATE deliveries d SET state = 'failed', lease_until = NULL, "
        "  locked_by = NULL, dirty = false, failure = t.unreachable, "
        "  last_error = 'thread unreachable (' || t.unreachable || ')' "
        "FROM threads t WHERE t.thread_id = d.thread_id AND "
        "  t.unreachable IS NOT NULL AND d.state = 'queued' "
        "  AND (d.locked_by IS NULL OR d.lease_until < now()) RETURNING 1",
        0, NULL);
    return a < 0 || b < 0 ? -1 : a + b;
}

int
rag_store_outbox_failures(PGconn *db, const char *thread_id,
                          rag_delivery_failure *out, int max)
{
    char lim[16];
    const char *p[] = {thread_id, lim};
    PGresult *r;
    int i, n;

    snprintf(lim, sizeof(lim), "%d", max > 0 ? max : 1);
    r = rag_db_query(db,
                     "SELECT kind, failure, coalesce(error, '') FROM "
                     "delivery_failures WHERE thread_id = $1 "
                     "ORDER BY failed_at DESC, ref LIMIT $2::int",
                     2, p);
    if (r == NULL)
        return -1;
    n = PQntuples(r);
    for (i = 0; i < n; i++) {
        snprintf(out[i].kind, sizeof(out[i].kind), "%s", PQgetvalue(r, i, 0));
        snprintf(out[i].failure, sizeof(out[i].failure), "%s",
                 PQgetvalue(r, i, 1));
        snprintf(out[i].error, sizeof(out[i].error), "%s", PQgetvalue(r, i, 2));
    }
    PQclear(r);
    return n;
}

int
rag_store_outbox_ban_notice(PGconn *db, const char *guild_id,
                            const char *user_id, const char *thread_id,
                            const char *body)
{
    const char *p[] = {guild_id ? guild_id : "", user_id};
    char key[160];
    int told;

    told = rag_db_count(db,
                        "INSERT INTO ban_notices (guild_id, user_id) "
                        "VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
                        2, p);
    if (told <= 0)
        return told;
    snprintf(key, sizeof(key), "ban:%s:%s", p[0], user_id);
    return rag_store_outbox_notice(db, thread_id, key, body) < 0 ? -1 : 1;
}

int
rag_store_outbox_listen(PGconn *db)
{
    return rag_db_exec(db, "LISTEN rag_outbox", 0, NULL) == 0 &&
                   rag_db_exec(db, "LISTEN rag_interactions", 0, NULL) == 0
               ? 0
               : -1;
}
