/*
 * eval_fts — the obvious baseline for rag-admin eval: PostgreSQL full-text
 * search over the same chunks as a collection's index file.
 *
 * eval_fts_load copies every record of an opened rag_index (url, title,
 * heading path, body) into a session-local temporary table, with a stored
 * to_tsvector(config, title || heading path || body) column and a GIN
 * index, so the baseline ranks exactly the chunks BM25 ranks, whatever
 * the chunks table holds now. eval_fts_search then ranks them with
 * ts_rank_cd for a question turned into a tsquery by plainto_tsquery:
 *
 *   EVAL_FTS_AND  every term must match (plainto_tsquery as is);
 *   EVAL_FTS_OR   any term may match (its '&' turned into '|').
 *
 * plainto_tsquery, not websearch_to_tsquery: questions are plain text,
 * and websearch would read their quotes as phrases, "or" as OR and a
 * leading '-' as NOT.
 *
 * Ownership: an eval_fts borrows db (the caller closes it after
 * eval_fts_free); temporary tables die with the session. The PGresult
 * from eval_fts_search belongs to the caller (PQclear).
 */
#ifndef EVAL_FTS_H
#define EVAL_FTS_H

#include "rag_index.h"

#include <libpq-fe.h>
#include <stddef.h>

enum eval_fts_mode { EVAL_FTS_AND = 0, EVAL_FTS_OR };

typedef struct eval_fts eval_fts;

/* config: a text search configuration name ("english"). NULL + err when
 * the server does not know it. Silences the server's notices on db (an
 * all-stop-word question gives "doesn't contain lexemes"). */
eval_fts *eval_fts_new(PGconn *db, const char *config, char *err,
                       size_t errlen);
void eval_fts_free(eval_fts *f);

/* Loads ix's records into a new temporary table; returns its number for
 * eval_fts_search, or -1 with err. */
int eval_fts_load(eval_fts *f, const rag_index *ix, char *err, size_t errlen);

/* The urls (column 0, "#anchor" kept) of the best k chunks of table for
 * question q, best first (ties by index record order). NULL + err on
 * failure. */
PGresult *eval_fts_search(eval_fts *f, int table, enum eval_fts_mode mode,
                          const char *q, size_t k, char *err, size_t errlen);

#endif
