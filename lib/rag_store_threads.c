/*
 * rag_store_threads — the threads table (see rag_store_threads.h).
 */
#include "rag_store_threads.h"

#include "rag_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
rag_store_threads_by_controller(PGconn *db, const char *controller_id,
                                rag_thread_ref *out)
{
    const char *p[] = {controller_id};
    PGresult *r;
    int rc;

    r = rag_db_query(db,
                     "SELECT thread_id, coalesce(author_id, ''), "
                     "coalesce(solved_by, '') FROM threads "
                     "WHERE thread_controller_id = $1",
                     1, p);
    if (r == NULL)
        return -1;
    rc = PQntuples(r) == 1;
    if (rc) {
        snprintf(out->thread_id, sizeof(out->thread_id), "%s",
                 PQgetvalue(r, 0, 0));
        snprintf(out->author_id, sizeof(out->author_id), "%s",
                 PQgetvalue(r, 0, 1));
        snprintf(out->solved_by, sizeof(out->solved_by), "%s",
                 PQgetvalue(r, 0, 2));
    }
    PQclear(r);
    return rc;
}

int
rag_store_threads_solve(PGconn *db, const char *thread_id, const char *user_id)
{
    const char *p[] = {thread_id, user_id};

    return rag_db_count(db,
                        "UPDATE threads SET solved = true, solved_by = $2, "
                        "solved_at = now() WHERE thread_id = $1 AND NOT solved "
                        "RETURNING 1",
                        2, p);
}

int
rag_store_threads_unsolve(PGconn *db, const char *thread_id)
{
    const char *p[] = {thread_id};

    return rag_db_count(
        db,
        "UPDATE threads SET solved = false WHERE thread_id = $1 "
        "AND solved RETURNING 1",
        1, p);
}

int
rag_store_threads_set_open(PGconn *db, const char *thread_id, int open)
{
    const char *p[] = {thread_id, open ? "true" : "false"};

    return rag_db_count(db,
                        "UPDATE threads SET open = $2::boolean WHERE "
                        "thread_id = $1 AND open <> $2::boolean RETURNING 1",
                        2, p);
}

int
rag_store_threads_track(PGconn *db, const rag_thread_new *t)
{
    const char *p[] = {t->thread_id, t->guild_id,   t->forum_id,
                       t->title,     t->collection, t->author_id};

    return rag_db_count(db,
                        "INSERT INTO threads (thread_id, guild_id, "
                        "forum_channel_id, title, collection, author_id) "
                        "VALUES ($1, $2, $3, $4, $5, $6) "
                        "ON CONFLICT (thread_id) DO NOTHING RETURNING 1",
                        6, p);
}

int
rag_store_threads_state(PGconn *db, const char *thread_id)
{
    const char *p[] = {thread_id};
    PGresult *r;
    int rc;

    r = rag_db_query(db,
                     "SELECT open AND NOT solved FROM threads "
                     "WHERE thread_id = $1",
                     1, p);
    if (r == NULL)
        return -1;
    if (PQntuples(r) == 0)
        rc = 0;
    else
        rc = PQgetvalue(r, 0, 0)[0] == 't' ? 1 : 2;
    PQclear(r);
    return rc;
}

int
rag_store_threads_set_title(PGconn *db, const char *thread_id,
                            const char *title)
{
    const char *p[] = {thread_id, title};

    return rag_db_count(db,
                        "UPDATE threads SET title = $2 WHERE thread_id = $1 "
                        "AND title IS DISTINCT FROM $2 RETURNING 1",
                        2, p);
}

int
rag_store_threads_controller(PGconn *db, const char *thread_id,
                             rag_thread_ctl *out)
{
    const char *p[] = {thread_id};
    PGresult *r;
    int rc;

    r = rag_db_query(
        db,
        "SELECT coalesce(thread_controller_id, ''), coalesce(author_id, ''),"
        "       open, solved, solved_by IS NOT NULL, "
        "       EXISTS (SELECT 1 FROM messages m WHERE m.thread_id = "
        "               t.thread_id AND m.from_bot AND "
        "               m.discord_message_id IS NOT NULL) "
        "FROM threads t WHERE thread_id = $1",
        1, p);
    if (r == NULL)
        return -1;
    rc = PQntuples(r) == 1;
    if (rc) {
        snprintf(out->controller_id, sizeof(out->controller_id), "%s",
                 PQgetvalue(r, 0, 0));
        snprintf(out->author_id, sizeof(out->author_id), "%s",
                 PQgetvalue(r, 0, 1));
        out->open = PQgetvalue(r, 0, 2)[0] == 't';
        out->solved = PQgetvalue(r, 0, 3)[0] == 't';
        out->was_solved = PQgetvalue(r, 0, 4)[0] == 't';
        out->answered = PQgetvalue(r, 0, 5)[0] == 't';
    }
    PQclear(r);
    return rc;
}

int
rag_store_threads_set_controller(PGconn *db, const char *thread_id,
                                 const char *controller_id)
{
    const char *p[] = {thread_id, controller_id};

    return rag_db_count(db,
                        "UPDATE threads SET thread_controller_id = $2 "
                        "WHERE thread_id = $1 AND thread_controller_id IS NULL "
                        "RETURNING 1",
                        2, p);
}

int
rag_store_threads_recent(PGconn *db, int days, int max, rag_thread_recent **out)
{
    char d[16], m[16];
    const char *p[] = {d, m};
    PGresult *r;
    int i, n;

    *out = NULL;
    snprintf(d, sizeof(d), "%d", days);
    snprintf(m, sizeof(m), "%d", max);
    r = rag_db_query(
        db,
        "SELECT t.thread_id, coalesce(t.guild_id, ''), "
        "       coalesce((SELECT m.message_id FROM messages m "
        "         WHERE m.thread_id = t.thread_id AND NOT m.from_bot "
        "           AND m.message_id ~ '^[0-9]{1,20}$' "
        "         ORDER BY length(m.message_id) DESC, m.message_id DESC "
        "         LIMIT 1), '') "
        "FROM threads t WHERE t.open AND t.unreachable IS NULL "
        "  AND t.updated_at > now() - make_interval(days => $1::int) "
        "ORDER BY t.updated_at DESC LIMIT $2::int",
        2, p);
    if (r == NULL)
        return -1;
    n = PQntuples(r);
    if (n > 0 && (*out = calloc((size_t)n, sizeof(**out))) == NULL) {
        PQclear(r);
        return -1;
    }
    for (i = 0; i < n; i++) {
        snprintf((*out)[i].thread_id, RAG_STORE_ID_MAX, "%s",
                 PQgetvalue(r, i, 0));
        snprintf((*out)[i].guild_id, RAG_STORE_ID_MAX, "%s",
                 PQgetvalue(r, i, 1));
        snprintf((*out)[i].last_seen, RAG_STORE_ID_MAX, "%s",
                 PQgetvalue(r, i, 2));
    }
    PQclear(r);
    return n;
}

void
rag_store_threads_recent_free(rag_thread_recent *v)
{
    free(v);
}

int
rag_store_threads_unreachable(PGconn *db, const char *thread_id,
                              const char *reason)
{
    const char *p[] = {thread_id, reason};

    return rag_db_count(db,
                        "UPDATE threads SET unreachable = $2, unreachable_at = "
                        "now() WHERE thread_id = $1 AND unreachable IS NULL "
                        "RETURNING 1",
                        2, p);
}

int
rag_store_threads_reachable(PGconn *db, const char *thread_id)
{
    const char *p[] = {thread_id};

    return rag_db_count(
        db,
        "UPDATE threads SET unreachable = NULL, unreachable_at = "
        "NULL WHERE thread_id = $1 AND unreachable IS NOT NULL "
        "RETURNING 1",
        1, p);
}

int
rag_store_threads_status(PGconn *db, const char *thread_id,
                         rag_thread_status *out)
{
    const char *p[] = {thread_id};
    PGresult *r;
    int rc;

    r = rag_db_query(
        db,
        "SELECT thread_id, coalesce(title, ''), open, solved, solved_votes, "
        " failed_votes, coalesce(thread_controller_id, ''), "
        " coalesce(author_id, ''), coalesce(guild_id, '') "
        "FROM threads WHERE thread_id = $1",
        1, p);
    if (r == NULL)
        return -1;
    rc = PQntuples(r) == 1;
    if (rc) {
        snprintf(out->thread_id, sizeof(out->thread_id), "%s",
                 PQgetvalue(r, 0, 0));
        snprintf(out->title, sizeof(out->title), "%s", PQgetvalue(r, 0, 1));
        out->open = PQgetvalue(r, 0, 2)[0] == 't';
        out->solved = PQgetvalue(r, 0, 3)[0] == 't';
        out->solved_votes = atol(PQgetvalue(r, 0, 4));
        out->failed_votes = atol(PQgetvalue(r, 0, 5));
        snprintf(out->controller_id, sizeof(out->controller_id), "%s",
                 PQgetvalue(r, 0, 6));
        snprintf(out->author_id, sizeof(out->author_id), "%s",
                 PQgetvalue(r, 0, 7));
        snprintf(out->guild_id, sizeof(out->guild_id), "%s",
                 PQgetvalue(r, 0, 8));
    }
    PQclear(r);
    return rc;
}

int
rag_store_threads_collection(PGconn *db, const char *channel, const char *guild,
                             char *out, size_t outlen)
{
    const char *p[] = {channel ? channel : "", guild ? guild : ""};
    PGresult *r;
    int rc;

    r = rag_db_query(db,
                     "SELECT collection FROM threads WHERE thread_id = $1 AND "
                     "collection IS NOT NULL UNION ALL "
                     "(SELECT collection FROM guild_forums WHERE guild_id = $2 "
                     " ORDER BY forum_channel_id LIMIT 1) LIMIT 1",
                     2, p);
    if (r == NULL)
        return -1;
    rc = PQntuples(r) == 1 &&
         snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0)) < (int)outlen;
    PQclear(r);
    return rc;
}

int
rag_store_threads_erase(PGconn *db, const char *thread_id)
{
    const char *p[] = {thread_id};

    return (int)rag_db_int(db, "SELECT rag_erase_thread($1)", 1, p);
}

int
rag_store_threads_erase_guild(PGconn *db, const char *guild_id)
{
    const char *p[] = {guild_id};

    return (int)rag_db_int(db, "SELECT rag_erase_guild($1)", 1, p);
}

PGresult *
rag_store_threads_guilds_with_solved(PGconn *db)
{
    return rag_db_query(db,
                        "SELECT DISTINCT guild_id FROM threads"
                        " WHERE solved AND guild_id IS NOT NULL"
                        " ORDER BY 1",
                        0, NULL);
}

PGresult *
rag_store_threads_solved_in_guild(PGconn *db, const char *guild_id)
{
    const char *p[1] = {guild_id};

    return rag_db_query(
        db,
        "SELECT t.thread_id, coalesce(nullif(t.title, ''), 'Thread ' ||"
        "       t.thread_id),"
        "       coalesce((SELECT content FROM messages m"
        "                 WHERE m.thread_id = t.thread_id AND NOT m.from_bot"
        "                 ORDER BY m.first_message DESC, m.created_at"
        "                 LIMIT 1), ''),"
        "       coalesce((SELECT content FROM messages m"
        "                 WHERE m.thread_id = t.thread_id AND m.from_bot"
        "                   AND NOT m.abstained AND m.content <> ''"
        "                 ORDER BY m.created_at DESC, m.message_id DESC"
        "                 LIMIT 1), ''),"
        "       coalesce((SELECT string_agg(content, E'\\n\\n'"
        "                                   ORDER BY created_at)"
        "                 FROM messages m"
        "                 WHERE m.thread_id = t.thread_id AND NOT m.from_bot"
        "                   AND NOT m.first_message AND t.solved_by IS NOT NULL"
        "                   AND m.author_id = t.solved_by"
        "                   AND m.content <> ''), '')"
        " FROM threads t"
        " WHERE t.guild_id = $1 AND t.solved"
        " ORDER BY t.solved_at NULLS LAST, t.thread_id LIMIT 100000",
        1, p);
}

PGresult *
rag_store_threads_to_export(PGconn *db, const char *guild_id, const char *since)
{
    const char *p[2] = {guild_id, since};

    return rag_db_query(
        db,
        "SELECT t.thread_id, coalesce(t.guild_id, ''), coalesce(t.title, '')"
        " FROM threads t"
        " WHERE (t.solved OR t.solved_votes > t.failed_votes"
        "        OR (SELECT count(*) FILTER (WHERE vote = 'up')"
        "                 - count(*) FILTER (WHERE vote = 'down')"
        "            FROM feedback f WHERE f.thread_id = t.thread_id) > 0)"
        "   AND ($1::text IS NULL OR t.guild_id = $1)"
        "   AND ($2::timestamptz IS NULL OR t.created_at >= $2)"
        "   AND EXISTS (SELECT 1 FROM messages m WHERE"
        "               m.thread_id = t.thread_id"
        "               AND m.from_bot AND NOT m.abstained"
        "               AND m.content <> '')"
        " ORDER BY t.created_at, t.thread_id",
        2, p);
}
