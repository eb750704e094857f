#include "rag_store_stats.h"

#include "rag_db.h"

#include <stdio.h>

PGresult *
rag_store_stats_summary(PGconn *db, int days, const char *guild_id)
{
    char d[16];
    const char *p[2] = {d, guild_id};

    snprintf(d, sizeof(d), "%d", days);
    return rag_db_query(
        db,
        "WITH th AS ("
        "  SELECT t.thread_id, t.created_at, t.open, t.solved,"
        "         t.solved_votes, t.failed_votes,"
        "         (SELECT min(m.created_at) FROM messages m"
        "          WHERE m.thread_id = t.thread_id AND m.from_bot"
        "            AND NOT m.abstained) AS first_answer,"
        "         EXISTS (SELECT 1 FROM messages m"
        "                 WHERE m.thread_id = t.thread_id AND m.from_bot"
        "                   AND m.abstained) AS abstained"
        "  FROM threads t"
        "  WHERE t.created_at >= now() - make_interval(days => $1::int)"
        "    AND ($2::text IS NULL OR t.guild_id = $2)),"
        " days AS ("
        "  SELECT d::date AS day FROM generate_series("
        "    date_trunc('day', now() AT TIME ZONE 'UTC')"
        "      - make_interval(days => least($1::int, 90) - 1),"
        "    date_trunc('day', now() AT TIME ZONE 'UTC'), '1 day') d)"
        " SELECT json_build_object("
        "  'window_days', $1::int,"
        "  'threads', (SELECT count(*) FROM th),"
        "  'answered', (SELECT count(first_answer) FROM th),"
        "  'abstained', (SELECT count(*) FROM th"
        "                WHERE abstained AND first_answer IS NULL),"
        "  'solved', (SELECT count(*) FILTER (WHERE solved) FROM th),"
        "  'open', (SELECT count(*) FILTER (WHERE open AND NOT solved) FROM "
        "th),"
        "  'answer_rate', (SELECT round(count(first_answer)::numeric"
        "                   / nullif(count(*), 0), 4) FROM th),"
        "  'solved_rate', (SELECT round(count(*) FILTER (WHERE solved)::numeric"
        "                   / nullif(count(*), 0), 4) FROM th),"
        "  'median_first_answer_s', (SELECT round(percentile_cont(0.5)"
        "     WITHIN GROUP (ORDER BY extract(epoch FROM first_answer"
        "                                     - created_at))::numeric, 1)"
        "     FROM th WHERE first_answer IS NOT NULL),"
        "  'reactions', json_build_object("
        "     'solved', (SELECT coalesce(sum(solved_votes), 0) FROM th),"
        "     'failed', (SELECT coalesce(sum(failed_votes), 0) FROM th)),"
        "  'feedback', (SELECT json_build_object("
        "     'up', count(*) FILTER (WHERE f.vote = 'up'),"
        "     'down', count(*) FILTER (WHERE f.vote = 'down'))"
        "     FROM feedback f JOIN th ON th.thread_id = f.thread_id),"
        "  'queue', (SELECT json_object_agg(s.state, (SELECT count(*)"
        "             FROM jobs j WHERE j.state = s.state))"
        "     FROM unnest(ARRAY['queued','running','retry','dead','done'])"
        "          AS s(state)),"
        "  'outbox_pending', (SELECT count(*) FROM messages"
        "     WHERE from_bot AND NOT processed),"
        "  'delivery_failures', (SELECT coalesce(json_object_agg(f.failure, "
        "f.n),"
        "     '{}') FROM (SELECT failure, count(*) AS n FROM delivery_failures"
        "     WHERE ($2::text IS NULL OR guild_id = $2) GROUP BY failure) f),"
        "  'collections', (SELECT coalesce(json_agg(json_build_object("
        "     'name', c.name, 'generation', c.index_generation,"
        "     'indexed_at', c.indexed_at,"
        "     'documents', (SELECT count(*) FROM documents d"
        "                   WHERE d.collection_id = c.id),"
        "     'chunks', (SELECT count(*) FROM chunks ch JOIN documents d"
        "                ON d.id = ch.document_id WHERE d.collection_id = "
        "c.id),"
        "     'embedded', (SELECT count(ch.embedding) FROM chunks ch"
        "                  JOIN documents d ON d.id = ch.document_id"
        "                  WHERE d.collection_id = c.id))"
        "     ORDER BY c.name), '[]') FROM collections c),"
        "  'daily', (SELECT json_agg(json_build_object("
        "     'day', days.day,"
        "     'questions', (SELECT count(*) FROM threads t"
        "        WHERE (t.created_at AT TIME ZONE 'UTC')::date = days.day"
        "          AND ($2::text IS NULL OR t.guild_id = $2)),"
        "     'answers', (SELECT count(*) FROM messages m JOIN threads t"
        "        ON t.thread_id = m.thread_id"
        "        WHERE m.from_bot AND NOT m.abstained"
        "          AND (m.created_at AT TIME ZONE 'UTC')::date = days.day"
        "          AND ($2::text IS NULL OR t.guild_id = $2)),"
        "     'solved', (SELECT count(*) FROM threads t"
        "        WHERE (t.solved_at AT TIME ZONE 'UTC')::date = days.day"
        "          AND ($2::text IS NULL OR t.guild_id = $2)))"
        "     ORDER BY days.day) FROM days)"
        " )::text",
        2, p);
}

PGresult *
rag_store_stats_threads(PGconn *db, int limit, const char *guild_id)
{
    char lim[16];
    const char *p[2] = {lim, guild_id};

    snprintf(lim, sizeof(lim), "%d", limit);
    return rag_db_query(
        db,
        "SELECT json_build_object('threads', coalesce(json_agg(x"
        "   ORDER BY x.created_at DESC, x.thread_id), '[]'))::text FROM ("
        " SELECT t.thread_id, t.guild_id, t.title, t.collection, t.created_at,"
        "   t.open, t.solved, t.solved_at, t.solved_votes, t.failed_votes,"
        "   (SELECT count(*) FROM feedback f WHERE f.thread_id = t.thread_id"
        "      AND f.vote = 'up') AS up,"
        "   (SELECT count(*) FROM feedback f WHERE f.thread_id = t.thread_id"
        "      AND f.vote = 'down') AS down,"
        "   (SELECT left(m.content, 500) FROM messages m"
        "      WHERE m.thread_id = t.thread_id AND NOT m.from_bot"
        "      ORDER BY m.first_message DESC, m.created_at LIMIT 1) AS "
        "question,"
        "   (SELECT coalesce(json_agg(json_build_object("
        "      'message_id', m.message_id, 'created_at', m.created_at,"
        "      'abstained', m.abstained, 'delivered', m.processed,"
        "      'content', left(m.content, 1500),"
        "      'sources', coalesce(m.sources, '[]'::jsonb))"
        "      ORDER BY m.created_at, m.message_id), '[]')"
        "    FROM messages m WHERE m.thread_id = t.thread_id AND m.from_bot)"
        "    AS answers, t.unreachable,"
        "   (SELECT coalesce(json_agg(json_build_object('kind', f.kind,"
        "      'failure', f.failure, 'error', f.error, 'failed_at', "
        "f.failed_at)"
        "      ORDER BY f.failed_at DESC, f.ref), '[]')"
        "    FROM delivery_failures f WHERE f.thread_id = t.thread_id)"
        "    AS delivery_failures"
        " FROM threads t WHERE ($2::text IS NULL OR t.guild_id = $2)"
        " ORDER BY t.created_at DESC, t.thread_id LIMIT $1::int) x",
        2, p);
}

PGresult *
rag_store_stats_gauges(PGconn *db)
{
    return rag_db_query(db,
                        "SELECT 'jobs', state, count(*) FROM jobs"
                        " WHERE state <> 'done' GROUP BY state"
                        " UNION ALL SELECT 'outbox', 'pending', count(*)"
                        " FROM messages WHERE from_bot AND NOT processed"
                        " UNION ALL SELECT 'failed', failure, count(*)"
                        " FROM delivery_failures GROUP BY failure"
                        " UNION ALL SELECT 'index', name, index_generation"
                        " FROM collections",
                        0, NULL);
}
