/*
 * commands — slash commands: registration on start, answers to
 * INTERACTION_CREATE from the gateway, and completion of the commands
 * the nginx module deferred into the `interactions` table.
 *
 * Commands: /commands /search /collections /solve /unsolve /open /close
 * /status /info /ask. The set is registered once per gateway session,
 * and only where Discord does not have it yet (its hash is stored per
 * guild); a refused registration is logged with Discord's reasons and
 * retried with backoff (5 s doubling to an hour), not on every poll.
 * Thread commands work only inside a tracked forum thread;
 * solve/unsolve/open/close need the thread's author or the guild's mod
 * role. There is deliberately no /update: the bot registers its own
 * commands.
 */
#ifndef RAG_BOT_COMMANDS_H
#define RAG_BOT_COMMANDS_H

#include "bot.h"

/* After READY: the command set is due to be compared with what Discord
 * has (command_registrations) and PUT where it differs. */
void rag_commands_ready(rag_bot *b);

/* Runs a due registration pass unless one is in flight or the backoff
 * after a failure has not passed (call from the poll loop; needs
 * b->app_id). Returns how many PUTs were queued, -1 on error. */
int rag_commands_register(rag_bot *b);

/* GUILD_CREATE: registers the set for a configured guild that does not
 * have it yet (a guild configured since the start). */
void rag_commands_guild_joined(rag_bot *b, const char *guild_id);

/* Handles an INTERACTION_CREATE payload's "d". */
void rag_commands_gateway(rag_bot *b, yajl_val d);

/* Claims queued rows of the interactions table and finishes them;
 * returns how many were handled. */
int rag_commands_run_queue(rag_bot *b);

#endif
