/*
 * rag_conf_bot — rag-bot's config table: every key the Discord daemon
 * reads, with its default, validator and doc line (rag_conf.h). It
 * lives in lib/ so that `rag-admin config` prints it, and `rag-admin
 * config --check rag-bot` checks a file, with the worker programs'
 * tables (worker/conf_tables.c): one mechanism for every program.
 * README.md's table is that output (t/91-conf-tables.t).
 */
#ifndef RAG_CONF_BOT_H
#define RAG_CONF_BOT_H

#include "rag_conf.h"

#define RAG_BOT_SHARDS_MAX_COUNT 65536 /* the largest shard_count */
#define RAG_BOT_MAX_SHARDS 64          /* shards one process runs */

/* rag-bot's own keys (Discord, outbox, gateway, shards, log_level). */
extern const rag_conf_section rag_conf_bot;

/* rag-bot: its own keys and the common ones (database_url, index_dir). */
extern const rag_conf_program rag_conf_prog_bot;

#endif
