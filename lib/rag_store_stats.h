/*
 * rag_store_stats — read-only reports over every table, for the
 * dashboard (/rag/dashboard/api/summary, api/threads) and /rag/metrics:
 * Postgres builds the JSON, so one round trip gives always-valid output.
 *
 * Runs on the caller's connection (rag_db.h logs errors). Returned
 * PGresults belong to the caller (PQclear); strings are borrowed.
 */
#ifndef RAG_STORE_STATS_H
#define RAG_STORE_STATS_H

#include <libpq-fe.h>

/* The dashboard's summary of the last days (threads created since; the
 * daily series over at most 90 of them) for guild_id (NULL: all): one
 * row, one JSON text column {window_days, threads, answered, abstained,
 * solved, open, answer_rate, solved_rate, median_first_answer_s,
 * reactions, feedback, queue, outbox_pending, collections, daily}. */
PGresult *rag_store_stats_summary(PGconn *db, int days, const char *guild_id);

/* The latest limit threads of guild_id (NULL: all) with their question,
 * votes and the bot's answers: one row, one JSON text column
 * {"threads":[...]}. */
PGresult *rag_store_stats_threads(PGconn *db, int limit, const char *guild_id);

/* Gauges for /rag/metrics: rows (kind, label, value): ("jobs", state,
 * count) for every state but done, ("outbox", "pending", count),
 * ("failed", reason, count) of deliveries that stopped, ("index",
 * collection, generation). */
PGresult *rag_store_stats_gauges(PGconn *db);

#endif
