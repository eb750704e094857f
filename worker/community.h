/*
 * community — solved Discord threads become documents of a per-guild
 * collection "community-<guild_id>", searched beside the docs.
 *
 * Each solved thread is one document: title = thread title, body =
 * the question (first user message) + the last bot answer (the accepted
 * one; abstentions skipped) + the solver's own later messages, url =
 * https://discord.com/channels/<guild>/<thread> (the link back). Bodies
 * are chunked with rag_chunk (anchors dropped: the link is the thread).
 * Unchanged threads (same content hash) keep their chunks; threads no
 * longer solved are removed. The collection's index is then rebuilt
 * with rag_reindex().
 */
#ifndef COMMUNITY_H
#define COMMUNITY_H

#include "rag_embed.h"

#include "rag_reindex.h"

#include <libpq-fe.h>

#include <stddef.h>

#define COMMUNITY_MAX_THREADS 100000 /* per guild and run */

/* Syncs one guild, or every guild with solved threads when guild is
 * NULL. db must not be inside a transaction. Returns the number of
 * documents now in the synced collections, or -1 with err. */
int rag_community_sync(PGconn *db, const char *guild, const char *index_dir,
                       char *err, size_t errlen);

/* Same; when ec is non-NULL and enabled, chunks without an embedding are
 * embedded first (as rag-ingest does for docs) so the community index
 * has vectors like the docs index. An embedding failure is logged and
 * the index is built lexical-only for this run (retried next sync). ro:
 * the program's reindex options (semantic_leg, fasttext_* from its
 * config), or NULL for the defaults and environment. */
int rag_community_sync_embed(PGconn *db, const char *guild,
                             const char *index_dir, const rag_embed_conf *ec,
                             const rag_reindex_opts *ro, char *err,
                             size_t errlen);

/* Job entry for the worker: payload {"guild":"<id>"} (or {} / no guild:
 * every guild with solved threads). Enqueued by the threads trigger of
 * sql/007_community.sql on solve/unsolve. 0; -2 with err for a payload
 * that can never work (not retried); -1 with err otherwise. */
int rag_community_job(PGconn *db, const char *payload_json,
                      const char *index_dir, const rag_embed_conf *ec,
                      const rag_reindex_opts *ro, char *err, size_t errlen);

/* "community-<guild>" into out; -1 when guild is not a snowflake-like
 * id ([0-9A-Za-z_-], 1..50 bytes). */
int rag_community_collection(char *out, size_t outlen, const char *guild);

#endif
