/*
 * rag_store_threads — the threads table: forum posts the bot tracks,
 * their open / solved state and their controller message.
 *
 * Every function runs on the caller's connection (see rag_db.h; errors
 * are logged there) and may run inside the caller's transaction. Ids are
 * Discord snowflakes as text. Nothing returned points into a PGresult:
 * out-structs are filled with copies, owned by the caller.
 */
#ifndef RAG_STORE_THREADS_H
#define RAG_STORE_THREADS_H

#include <libpq-fe.h>

#define RAG_STORE_ID_MAX 64 /* room for any id we store, with the NUL */

typedef struct {
    char thread_id[RAG_STORE_ID_MAX];
    char author_id[RAG_STORE_ID_MAX]; /* "" when unknown */
    char solved_by[RAG_STORE_ID_MAX]; /* "" when never solved */
} rag_thread_ref;

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

#endif
