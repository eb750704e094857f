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
        snprintf(o->thread_id, sizeof(o->thread_id), "%s",
                 PQgetvalue(r, i, 0));
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
                                 const char *message_id,
                                 const char *discord_id, const char *worker)
{
    const char *p[] = {thread_id, message_id, discord_id, worker};
    PGresult *r;
    int rc;

    r = rag_db_query(
        db,
        "UPDATE messages SET processed = true, discord_message_id = $3, "
        "delivered_at = now(), lease_until = NULL, locked_by = NULL, "
        "last_error = NULL WHERE thread_id = $1 AND message_id = $2 AND "
        "locked_by = $4 RETURNING 1",
        4, p);
    if (r == NULL)
        return -1;
    rc = PQntuples(r) == 1;
    PQclear(r);
    return rc;
}

int
rag_store_outbox_reply_failed(PGconn *db, const char *thread_id,
                              const char *message_id, const char *worker,
                              const char *why, int permanent, long backoff_ms,
                              int max_attempts)
{
    char base[32], max[16];
    const char *p[] = {thread_id, message_id, why, worker, base, max};

    snprintf(base, sizeof(base), "%ld", backoff_ms > 0 ? backoff_ms : 1000);
    snprintf(max, sizeof(max), "%d", max_attempts > 0 ? max_attempts : 10);
    /* given up: processed with no discord_message_id; otherwise the
     * lease is pushed out with backoff */
    if (permanent)
        return rag_db_exec(
            db,
            "UPDATE messages SET processed = true, last_error = $3, "
            "lease_until = NULL, locked_by = NULL WHERE thread_id = $1 AND "
            "message_id = $2 AND locked_by = $4",
            4, p);
    return rag_db_exec(
        db,
        "UPDATE messages SET locked_by = NULL, "
        "  last_error = CASE WHEN delivery_attempts >= $6::int "
        "    THEN $3 || ' (gave up after ' || delivery_attempts || "
        "         ' attempts)' ELSE $3 END, "
        "  lease_until = now() + make_interval(secs => least(300, "
        "    $5::bigint / 1000.0 * delivery_attempts * delivery_attempts)), "
        "  processed = delivery_attempts >= $6::int "
        "WHERE thread_id = $1 AND message_id = $2 AND locked_by = $4",
        6, p);
}

int
rag_store_outbox_renew(PGconn *db, const char *worker, long lease_s)
{
    char lease[32];
    const char *p[] = {worker, lease};
    PGresult *r;
    int n;

    snprintf(lease, sizeof(lease), "%ld", lease_s > 0 ? lease_s : 60);
    r = rag_db_query(db,
                     "UPDATE messages SET lease_until = now() + "
                     "make_interval(secs => $2::int) WHERE locked_by = $1 "
                     "AND from_bot AND NOT processed RETURNING 1",
                     2, p);
    if (r == NULL)
        return -1;
    n = PQntuples(r);
    PQclear(r);
    return n;
}
