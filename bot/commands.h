/*
 * commands — slash commands: registration on start, answers to
 * INTERACTION_CREATE from the gateway, and completion of the commands
 * the nginx module deferred into the `interactions` table.
 *
 * Commands: /commands /search /collections /solve /unsolve /open /close
 * /status /info /ask. Thread commands work only inside a tracked forum
 * thread; solve/unsolve/open/close need the thread's author or the
 * guild's mod role. There is deliberately no /update: commands are
 * registered by the bot itself on start.
 */
#ifndef RAG_BOT_COMMANDS_H
#define RAG_BOT_COMMANDS_H

#include "bot.h"

/* PUT the command set for every configured guild (global if none);
 * needs b->app_id. 0 or -1. */
int rag_commands_register(rag_bot *b);

/* GUILD_CREATE: registers the commands for a guild configured since
 * the start (each guild once per process). */
void rag_commands_guild_joined(rag_bot *b, const char *guild_id);

/* Handles an INTERACTION_CREATE payload's "d". */
void rag_commands_gateway(rag_bot *b, yajl_val d);

/* Claims queued rows of the interactions table and finishes them;
 * returns how many were handled. */
int rag_commands_run_queue(rag_bot *b);

/* The command set as JSON (for registration and tests). */
const char *rag_commands_json(void);

#endif
