/*
 * rag_store_feedback — votes on a thread's controller message: one
 * feedback row per user and kind ("up" for ✅, "down" for ❌), with the
 * thread's solved_votes / failed_votes counters kept in step by the same
 * statement, so a replayed or lost reaction event can never make them
 * drift from the rows.
 *
 * Runs on the caller's connection (rag_db.h logs errors), inside the
 * caller's transaction if there is one.
 */
#ifndef RAG_STORE_FEEDBACK_H
#define RAG_STORE_FEEDBACK_H

#include <libpq-fe.h>

/* vote is "up" or "down" (anything else is refused with -1).
 * add: 1 when the vote is new, 0 when the user had already voted so.
 * remove: 1 when a vote was taken back, 0 when there was none.
 * -1 on error. */
int rag_store_feedback_add(PGconn *db, const char *thread_id,
                           const char *user_id, const char *vote);
int rag_store_feedback_remove(PGconn *db, const char *thread_id,
                              const char *user_id, const char *vote);

#endif
