/*
 * main_loop — rag-bot's main thread after start-up: one poll over the
 * REST client's transfers, the bridge's wake pipe and the database
 * socket; then, in turn, reconnecting or collecting notifications,
 * handing dispatches to events.c, the database's work (catch-up,
 * replies, deliveries, deferred commands, command registration) and
 * every third of outbox_lease_s the leases. Dispatches and the
 * database's work wait while the shard leases may have run out (after a
 * stall): the leases are renewed first, and a shard found to be
 * another process's has its session closed. Runs until *d->stop or a
 * gateway session ends for good. Nothing in it waits for Discord.
 */
#ifndef RAG_BOT_MAIN_LOOP_H
#define RAG_BOT_MAIN_LOOP_H

#include "daemon.h"

void rag_main_loop(rag_daemon *d);

#endif
