/*
 * admin — rag-admin subcommands beyond the schema basics, one file each
 * (admin_eval.c, admin_export.c, admin_gaps.c, admin_community.c,
 * admin_forget.c).
 * Each takes the arguments after its name and returns the exit code.
 * db may be NULL for commands that need no database (eval).
 */
#ifndef ADMIN_H
#define ADMIN_H

#include "rag_buf.h"
#include "rag_conf.h"

#include <libpq-fe.h>

int admin_eval(rag_conf *conf, int argc, char **argv);
int admin_export(PGconn *db, rag_conf *conf, int argc, char **argv);
int admin_gaps(PGconn *db, rag_conf *conf, int argc, char **argv);
int admin_community_sync(PGconn *db, rag_conf *conf, int argc, char **argv);
/* Connects itself: a database it cannot reach is one of its findings. */
int admin_doctor(rag_conf *conf, int argc, char **argv);
/* Validates its argument before connecting (admin_forget.c). */
int admin_forget_user(rag_conf *conf, int argc, char **argv);

/* The index directory: index_dir in conf (RAG_INDEX_DIR), else the
 * default /var/lib/ngx_rag/index. */
const char *admin_index_dir(rag_conf *conf);

/* Transcript role of a thread message: "assistant" for the bot's own
 * messages, "user" for everyone else. */
const char *admin_transcript_role(int from_bot);

/* Appends one JSONL transcript line for a thread: a system turn, then
 * each message in order (contents[i], from_bot[i]); author ids are never
 * written. Returns 0, or -1 when it holds no bot turn (not exported) or
 * the buffer is full. */
int admin_transcript_json(rag_buf *out, const char *system_prompt,
                          const char *thread_id, const char *url,
                          const char *const *contents, const int *from_bot,
                          size_t n);

#endif
