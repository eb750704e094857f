/*
 * rag_store_feedback — votes (see rag_store_feedback.h).
 */
#include "rag_store_feedback.h"

#include "rag_db.h"

#include <string.h>

static int
vote_ok(const char *vote)
{
    return vote && (strcmp(vote, "up") == 0 || strcmp(vote, "down") == 0);
}

static int
one_row(PGconn *db, const char *sql, const char *thread_id, const char *user_id,
        const char *vote)
{
    const char *p[] = {thread_id, user_id, vote};

    if (!vote_ok(vote) || !thread_id || !user_id)
        return -1;
    return rag_db_count(db, sql, 3, p);
}

int
rag_store_feedback_add(PGconn *db, const char *thread_id, const char *user_id,
                       const char *vote)
{
    return one_row(
        db,
        "WITH f AS (INSERT INTO feedback (thread_id, user_id, vote) "
        "  VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING vote) "
        "UPDATE threads SET "
        "  solved_votes = solved_votes + "
        "    (SELECT count(*) FROM f WHERE vote = 'up'), "
        "  failed_votes = failed_votes + "
        "    (SELECT count(*) FROM f WHERE vote = 'down') "
        "WHERE thread_id = $1 AND EXISTS (SELECT 1 FROM f) RETURNING 1",
        thread_id, user_id, vote);
}

int
rag_store_feedback_remove(PGconn *db, const char *thread_id,
                          const char *user_id, const char *vote)
{
    return one_row(
        db,
        "WITH f AS (DELETE FROM feedback WHERE thread_id = $1 AND "
        "  user_id = $2 AND vote = $3 RETURNING vote) "
        "UPDATE threads SET "
        "  solved_votes = greatest(0, solved_votes - "
        "    (SELECT count(*) FROM f WHERE vote = 'up')), "
        "  failed_votes = greatest(0, failed_votes - "
        "    (SELECT count(*) FROM f WHERE vote = 'down')) "
        "WHERE thread_id = $1 AND EXISTS (SELECT 1 FROM f) RETURNING 1",
        thread_id, user_id, vote);
}
