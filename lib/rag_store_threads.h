/*
 * rag_store_threads — the threads table as the worker and rag-admin see
 * it: solved threads that become community answers (worker/community.c)
 * and the threads worth exporting as chats (rag-admin export). (The
 * bot's own functions for this table — tracking posts, their state and
 * controller — live beside these on its branch.)
 *
 * Runs on the caller's connection (rag_db.h logs errors). Returned
 * PGresults belong to the caller (PQclear); strings are borrowed.
 */
#ifndef RAG_STORE_THREADS_H
#define RAG_STORE_THREADS_H

#include <libpq-fe.h>

/* Guilds that have solved threads, in order. One column. */
PGresult *rag_store_threads_guilds_with_solved(PGconn *db);

/* One row per solved thread of guild_id, in the order they were solved:
 * thread_id, title (else "Thread <id>"), the question (first message,
 * else the author's first), the last answer of the bot that did not
 * abstain (""), and the solver's own later messages ("", joined by blank
 * lines). */
PGresult *rag_store_threads_solved_in_guild(PGconn *db, const char *guild_id);

/* Threads worth learning from — solved, or voted up on balance (reaction
 * counters and feedback rows) — that have a real bot answer, oldest
 * first; guild_id and since (a timestamp) NULL: no filter. Columns:
 * thread_id, guild_id (""), title (""). */
PGresult *rag_store_threads_to_export(PGconn *db, const char *guild_id,
                                      const char *since);

#endif
