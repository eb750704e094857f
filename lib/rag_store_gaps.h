/*
 * rag_store_gaps — the gaps table (sql/006): questions the answerer
 * abstained on, and the gap report's question list, which also takes
 * threads voted down or left unsolved (lib/rag_gaps.c clusters them).
 *
 * Runs on the caller's connection (rag_db.h logs errors), inside the
 * caller's transaction if there is one. Returned PGresults belong to the
 * caller (PQclear); strings passed in are borrowed.
 */
#ifndef RAG_STORE_GAPS_H
#define RAG_STORE_GAPS_H

#include <libpq-fe.h>

/* Records an abstention on message_id of thread_id (once per message and
 * reason). top_score: the best BM25 score as text; top_url "" when no
 * passage was found. 0 or -1. */
int rag_store_gaps_add_abstain(PGconn *db, const char *thread_id,
                               const char *message_id, const char *collection,
                               const char *question, const char *top_score,
                               const char *top_url);

/* The report's questions, newest first, at most limit, one per thread (or per
 * gap without a thread) with its strongest reason: 'abstain' (gaps rows),
 * 'downvote' (voted down on balance), 'unsolved' (open and unsolved after
 * days). guild NULL: every guild. Columns: question, thread_id ("" when none),
 * reason, created_at (ISO 8601 UTC), collection (""), index_path (""). */
PGresult *rag_store_gaps_questions(PGconn *db, const char *guild, int days,
                                   int limit);

#endif
