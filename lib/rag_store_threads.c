#include "rag_store_threads.h"

#include "rag_db.h"

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
rag_store_threads_to_export(PGconn *db, const char *guild_id,
                            const char *since)
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
