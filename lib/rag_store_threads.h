/*
 * rag_store_threads — the threads table: forum posts the bot tracks,
 * their open / solved state and their controller message; the solved
 * threads that become community answers (worker/community.c) and the
 * threads worth exporting as chats (rag-admin export).
 *
 * Every function runs on the caller's connection (see rag_db.h; errors
 * are logged there) and may run inside the caller's transaction. Ids are
 * Discord snowflakes as text. Out-structs are filled with copies, owned
 * by the caller; returned PGresults belong to the caller (PQclear);
 * strings passed in are borrowed.
 */
#ifndef RAG_STORE_THREADS_H
#define RAG_STORE_THREADS_H

#include <libpq-fe.h>
#include <stddef.h>

#define RAG_STORE_ID_MAX 64 /* room for any id we store, with the NUL */

typedef struct {
    char thread_id[RAG_STORE_ID_MAX];
    char author_id[RAG_STORE_ID_MAX]; /* "" when unknown */
    char solved_by[RAG_STORE_ID_MAX]; /* "" when never solved */
} rag_thread_ref;

/* A forum post to track. */
typedef struct {
    const char *thread_id, *guild_id, *forum_id, *title, *collection,
        *author_id; /* title, author_id may be NULL */
} rag_thread_new;

/* Inserts the thread unless it is known. 1 inserted, 0 already tracked,
 * -1 error. */
int rag_store_threads_track(PGconn *db, const rag_thread_new *t);

/* -1 error, 0 not tracked, 1 tracked and answerable (open, not solved),
 * 2 tracked but closed or solved. */
int rag_store_threads_state(PGconn *db, const char *thread_id);

/* Renames the thread. 1 changed, 0 same title (or unknown), -1 error. */
int rag_store_threads_set_title(PGconn *db, const char *thread_id,
                                const char *title);

/* What the controller message shows, from the thread's row. */
typedef struct {
    char controller_id[RAG_STORE_ID_MAX]; /* "" until posted */
    char author_id[RAG_STORE_ID_MAX];
    int open, solved, was_solved;
    int answered; /* a reply was delivered */
} rag_thread_ctl;

/* 1 found (out filled), 0 unknown thread, -1 error. */
int rag_store_threads_controller(PGconn *db, const char *thread_id,
                                 rag_thread_ctl *out);

/* Records the controller message id (only if none was recorded: the
 * first one posted stays). 1 recorded, 0 one was there, -1 error. */
int rag_store_threads_set_controller(PGconn *db, const char *thread_id,
                                     const char *controller_id);

/* What /status shows of a thread. */
typedef struct {
    char thread_id[RAG_STORE_ID_MAX];
    char title[256];
    char controller_id[RAG_STORE_ID_MAX]; /* "" until posted */
    char author_id[RAG_STORE_ID_MAX];     /* "" when unknown */
    char guild_id[RAG_STORE_ID_MAX];      /* "" when unknown */
    int open, solved;
    long solved_votes, failed_votes;
} rag_thread_status;

/* 1 found (out filled), 0 unknown thread, -1 error. */
int rag_store_threads_status(PGconn *db, const char *thread_id,
                             rag_thread_status *out);

/* The collection a command in channel (a thread, or NULL) of guild (or
 * NULL) searches: the thread's, else the guild's first forum's. 1 found
 * (copied into out), 0 none, -1 error. */
int rag_store_threads_collection(PGconn *db, const char *channel,
                                 const char *guild, char *out, size_t outlen);

/* Marks the thread unreachable (its channel is gone or out of the bot's
 * reach) with a short reason ("unknown_channel", "missing_access"); the
 * first reason stays. 1 marked now, 0 already so or unknown, -1 error. */
int rag_store_threads_unreachable(PGconn *db, const char *thread_id,
                                  const char *reason);

/* Clears the mark (the thread showed itself alive). 1 cleared, 0 it
 * was not marked, -1 error. */
int rag_store_threads_reachable(PGconn *db, const char *thread_id);

/* Threads to look at after a fresh gateway session: open, reachable,
 * active within `days`, newest first, at most max; with the newest user
 * message id stored (snowflakes only; "" when none). Returns the count (rows in
 * *out, free with rag_store_threads_recent_free) or -1. */
typedef struct {
    char thread_id[RAG_STORE_ID_MAX];
    char guild_id[RAG_STORE_ID_MAX];  /* "" when unknown */
    char last_seen[RAG_STORE_ID_MAX]; /* "" when none */
} rag_thread_recent;

int rag_store_threads_recent(PGconn *db, int days, int max,
                             rag_thread_recent **out);
void rag_store_threads_recent_free(rag_thread_recent *v);

/* The thread whose controller message is controller_id: 1 found (out
 * filled), 0 none, -1 error. */
int rag_store_threads_by_controller(PGconn *db, const char *controller_id,
                                    rag_thread_ref *out);

/* Marks the thread solved by user. 1 when it changed, 0 when it was
 * already solved (or is unknown), -1 on error. */
int rag_store_threads_solve(PGconn *db, const char *thread_id,
                            const char *user_id);

/* Marks the thread unsolved (solved_by is kept: the controller then says
 * it once was). 1 changed, 0 not solved, -1 error. */
int rag_store_threads_unsolve(PGconn *db, const char *thread_id);

/* Sets open (1) or closed (0). 1 changed, 0 already so, -1 error. */
int rag_store_threads_set_open(PGconn *db, const char *thread_id, int open);

/* A thread deleted on Discord: erases it and everything derived from it
 * (sql/034_bot_erasure.sql). 1 erased, 0 not tracked, -1 error. */
int rag_store_threads_erase(PGconn *db, const char *thread_id);

/* The bot removed from a guild: erases its threads, commands and ban
 * notices; its configuration stays. Threads erased, or -1. */
int rag_store_threads_erase_guild(PGconn *db, const char *guild_id);

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
