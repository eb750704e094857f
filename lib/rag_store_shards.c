/*
 * rag_store_shards — shard leases and identify buckets (see
 * rag_store_shards.h).
 */
#include "rag_store_shards.h"

#include "rag_buf.h"
#include "rag_db.h"

#include <stdio.h>
#include <stdlib.h>

/* ids[0..n) as an int[] literal into arr (initialised here). 0 or -1. */
static int
int_array(rag_buf *arr, const int *ids, int n)
{
    int i;

    rag_buf_init(arr, 0);
    if (rag_buf_putc(arr, '{') != 0)
        return -1;
    for (i = 0; i < n; i++)
        if (rag_buf_printf(arr, "%s%d", i ? "," : "", ids[i]) != 0)
            return -1;
    return rag_buf_putc(arr, '}');
}

int
rag_store_shards_claim(PGconn *db, const char *owner, int count, const int *ids,
                       int n, long lease_s, int *held)
{
    char cnt[16], lease[32];
    const char *p[4];
    rag_buf arr;
    PGresult *r;
    int i, rc = -1;

    if (count < 1 || n < 0)
        return -1;
    if (int_array(&arr, ids, n) != 0)
        goto out;
    snprintf(cnt, sizeof(cnt), "%d", count);
    snprintf(lease, sizeof(lease), "%ld", lease_s > 0 ? lease_s : 60);
    p[0] = owner;
    p[1] = cnt;
    p[2] = arr.data;
    p[3] = lease;
    r = rag_db_query(
        db,
        "INSERT INTO bot_shards (shard_count, shard_id, owner, lease_until) "
        "SELECT $2::int, s, $1, now() + make_interval(secs => $4::int) "
        "  FROM unnest($3::int[]) s "
        " WHERE NOT EXISTS (SELECT 1 FROM bot_shards o "
        "   WHERE o.shard_count <> $2::int AND o.owner <> $1 "
        "     AND o.lease_until > now()) "
        "ON CONFLICT (shard_count, shard_id) DO UPDATE "
        "  SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until, "
        "      wanted_by = CASE WHEN bot_shards.wanted_by = EXCLUDED.owner "
        "        THEN NULL ELSE bot_shards.wanted_by END "
        "  WHERE bot_shards.owner = EXCLUDED.owner "
        "     OR bot_shards.lease_until < now() "
        "RETURNING shard_id",
        4, p);
    if (r == NULL)
        goto out;
    rc = PQntuples(r) < n ? PQntuples(r) : n;
    for (i = 0; held && i < rc; i++)
        held[i] = atoi(PQgetvalue(r, i, 0));
    PQclear(r);
out:
    rag_buf_free(&arr);
    return rc;
}

int
rag_store_shards_release(PGconn *db, const char *owner)
{
    const char *p[] = {owner};

    return rag_db_count(db,
                        "UPDATE bot_shards SET lease_until = now() "
                        "WHERE owner = $1 AND lease_until > now() RETURNING 1",
                        1, p);
}

int
rag_store_shards_takeover(PGconn *db, const char *owner, int count, int max,
                          long lease_s, int *ids)
{
    char cnt[16], lim[16], lease[32];
    const char *p[] = {owner, cnt, lim, lease};
    PGresult *r;
    int i, n;

    if (count < 1 || max < 1)
        return 0;
    snprintf(cnt, sizeof(cnt), "%d", count);
    snprintf(lim, sizeof(lim), "%d", max);
    snprintf(lease, sizeof(lease), "%ld", lease_s > 0 ? lease_s : 60);
    r = rag_db_query(
        db,
        "WITH c AS (SELECT shard_count, shard_id FROM bot_shards "
        "  WHERE shard_count = $2::int AND lease_until < now() AND "
        "    (wanted_by IS NULL OR wanted_by = $1 OR wanted_until < now()) "
        "  ORDER BY shard_id LIMIT $3::int FOR UPDATE SKIP LOCKED) "
        "UPDATE bot_shards s SET owner = $1, "
        "  lease_until = now() + make_interval(secs => $4::int) "
        "FROM c WHERE s.shard_count = c.shard_count AND "
        "  s.shard_id = c.shard_id AND s.lease_until < now() "
        "RETURNING s.shard_id",
        4, p);
    if (r == NULL)
        return -1;
    n = PQntuples(r);
    for (i = 0; i < n && i < max; i++)
        ids[i] = atoi(PQgetvalue(r, i, 0));
    PQclear(r);
    return n < max ? n : max;
}

int
rag_store_shards_want(PGconn *db, const char *owner, int count, const int *ids,
                      int n, long lease_s)
{
    char cnt[16], lease[32];
    const char *p[4];
    rag_buf arr;
    int rc = -1;

    if (int_array(&arr, ids, n) != 0)
        goto out;
    snprintf(cnt, sizeof(cnt), "%d", count);
    snprintf(lease, sizeof(lease), "%ld", lease_s > 0 ? lease_s : 60);
    p[0] = owner;
    p[1] = cnt;
    p[2] = arr.data;
    p[3] = lease;
    rc = rag_db_count(db,
                      "UPDATE bot_shards SET wanted_by = $1, wanted_until = "
                      "now() + make_interval(secs => $4::int) "
                      "WHERE shard_count = $2::int AND "
                      "shard_id = ANY ($3::int[]) AND owner <> $1 AND "
                      "lease_until > now() RETURNING 1",
                      4, p);
out:
    rag_buf_free(&arr);
    return rc;
}

int
rag_store_shards_handback(PGconn *db, const char *owner, int count,
                          const int *keep, int nkeep, int *ids, int max)
{
    char cnt[16];
    const char *p[3];
    rag_buf arr;
    PGresult *r = NULL;
    int i, n = -1;

    if (int_array(&arr, keep, nkeep) != 0)
        goto out;
    snprintf(cnt, sizeof(cnt), "%d", count);
    p[0] = owner;
    p[1] = cnt;
    p[2] = arr.data;
    r = rag_db_query(db,
                     "UPDATE bot_shards SET lease_until = now() "
                     "WHERE owner = $1 AND shard_count = $2::int AND "
                     "lease_until > now() AND wanted_by <> $1 AND "
                     "wanted_until > now() AND "
                     "NOT (shard_id = ANY ($3::int[])) RETURNING shard_id",
                     3, p);
    if (r == NULL)
        goto out;
    n = PQntuples(r);
    for (i = 0; i < n && i < max; i++)
        ids[i] = atoi(PQgetvalue(r, i, 0));
    n = n < max ? n : max;
out:
    PQclear(r);
    rag_buf_free(&arr);
    return n;
}

int
rag_store_shards_identify_slot(PGconn *db, const char *bucket)
{
    const char *p[] = {bucket};

    if (rag_db_exec(db,
                    "INSERT INTO bot_identify (bucket) VALUES ($1) "
                    "ON CONFLICT DO NOTHING",
                    1, p) != 0)
        return -1;
    return rag_db_count(db,
                        "UPDATE bot_identify "
                        "SET next_at = now() + interval '5.5 seconds' "
                        "WHERE bucket = $1 AND next_at <= now() RETURNING 1",
                        1, p);
}
