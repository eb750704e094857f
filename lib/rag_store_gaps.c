#include "rag_store_gaps.h"

#include "rag_db.h"

#include <stdio.h>

int
rag_store_gaps_add_abstain(PGconn *db, const char *thread_id,
                           const char *message_id, const char *collection,
                           const char *question, const char *top_score,
                           const char *top_url)
{
    const char *p[6] = {thread_id, message_id, collection,
                        question,  top_score,  top_url};

    return rag_db_exec(
        db,
        "INSERT INTO gaps (thread_id, message_id, collection, question,"
        " reason, top_score, top_url) VALUES ($1, $2, $3, $4, 'abstain',"
        " $5::real, nullif($6, ''))"
        " ON CONFLICT (thread_id, message_id, reason) DO NOTHING",
        6, p);
}

PGresult *
rag_store_gaps_questions(PGconn *db, const char *guild, int days, int limit)
{
    char d[16], lim[16];
    const char *p[3] = {guild, d, lim};

    snprintf(d, sizeof(d), "%d", days);
    snprintf(lim, sizeof(lim), "%d", limit);
    return rag_db_query(
        db,
        "SELECT q.question, coalesce(q.thread_id, ''), q.reason,"
        "       to_char(q.created_at AT TIME ZONE 'UTC',"
        "               'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        "       coalesce(q.collection, ''), coalesce(c.index_path, '')"
        " FROM (SELECT DISTINCT ON (k) * FROM ("
        "   SELECT coalesce(g.thread_id, 'gap:' || g.id) AS k, g.thread_id,"
        "          coalesce(g.collection, t.collection) AS collection,"
        "          g.question, g.reason, g.created_at, 1 AS pri"
        "   FROM gaps g LEFT JOIN threads t ON t.thread_id = g.thread_id"
        "   WHERE ($1::text IS NULL OR t.guild_id = $1)"
        "   UNION ALL"
        "   SELECT t.thread_id, t.thread_id, t.collection,"
        "          concat_ws(E'\\n', t.title, fm.content), 'downvote',"
        "          t.created_at, 2"
        "   FROM threads t LEFT JOIN LATERAL (SELECT content FROM messages m"
        "        WHERE m.thread_id = t.thread_id AND NOT m.from_bot"
        "        ORDER BY m.first_message DESC, m.created_at LIMIT 1) fm"
        "        ON true"
        "   WHERE ($1::text IS NULL OR t.guild_id = $1)"
        "     AND (t.failed_votes > t.solved_votes"
        "          OR (SELECT count(*) FILTER (WHERE vote = 'down')"
        "                   - count(*) FILTER (WHERE vote = 'up')"
        "              FROM feedback f WHERE f.thread_id = t.thread_id) > 0)"
        "   UNION ALL"
        "   SELECT t.thread_id, t.thread_id, t.collection,"
        "          concat_ws(E'\\n', t.title, fm.content), 'unsolved',"
        "          t.created_at, 3"
        "   FROM threads t LEFT JOIN LATERAL (SELECT content FROM messages m"
        "        WHERE m.thread_id = t.thread_id AND NOT m.from_bot"
        "        ORDER BY m.first_message DESC, m.created_at LIMIT 1) fm"
        "        ON true"
        "   WHERE ($1::text IS NULL OR t.guild_id = $1)"
        "     AND t.open AND NOT t.solved"
        "     AND t.created_at < now() - make_interval(days => $2::int)"
        "  ) u ORDER BY k, pri) q"
        " LEFT JOIN collections c ON c.name = q.collection"
        " ORDER BY q.created_at DESC, q.k LIMIT $3::int",
        3, p);
}
