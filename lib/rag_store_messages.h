/*
 * rag_store_messages — the messages table: users' forum messages the bot
 * stores (the table's AFTER INSERT trigger enqueues the answer job when
 * one is warranted), and what the worker reads and writes — the question
 * an answer job is for, the thread's conversation, the chunks earlier
 * replies cited, the reply (a from_bot row, delivered through
 * rag_store_outbox), and transcripts for rag-admin export.
 *
 * Runs on the caller's connection (rag_db.h logs errors), inside the
 * caller's transaction if there is one. Returned PGresults belong to the
 * caller (PQclear); strings passed in are borrowed.
 */
#ifndef RAG_STORE_MESSAGES_H
#define RAG_STORE_MESSAGES_H

#include <libpq-fe.h>
#include <stddef.h>

typedef struct {
    const char *thread_id, *message_id, *author_id;
    const char *content; /* NULL: "" */
    int first;           /* the post's starter message */
    int mentions_bot, replies_to_bot;
} rag_user_message;

/* Stores a user message once (processed: nothing to deliver). 1 stored,
 * 0 already there (a replayed event), -1 error. */
int rag_store_messages_insert_user(PGconn *db, const rag_user_message *m);

/* What an edit calls for (sql/033_bot_edits.sql). */
typedef enum {
    RAG_EDIT_ERROR = -1,
    RAG_EDIT_UNKNOWN,  /* not a stored message */
    RAG_EDIT_SAME,     /* the text did not change */
    RAG_EDIT_STORED,   /* stored; nothing to answer */
    RAG_EDIT_PENDING,  /* its answer is still to come and reads the edit */
    RAG_EDIT_ENQUEUED, /* the edit asks the bot: answer enqueued */
    RAG_EDIT_OFFER,    /* answered already: offer a re-answer */
    RAG_EDIT_CLOSED    /* answered, and the thread is solved or closed */
} rag_edit_outcome;

/* Stores a user's edit of a message (MESSAGE_UPDATE with content).
 * mentions: the edited message mentions the bot. *revision: the edits
 * seen so far (this one included). */
rag_edit_outcome rag_store_messages_edited(PGconn *db, const char *thread_id,
                                           const char *message_id,
                                           const char *content, int mentions,
                                           int *revision);

/* The author's (or, with mod, anyone's) request to answer an edited,
 * answered message again: stores its text as a re-ask row, answered like
 * a mention, once per revision. 1 asked, 0 nothing to re-answer, -1. */
int rag_store_messages_reanswer(PGconn *db, const char *thread_id,
                                const char *message_id, const char *user_id,
                                int mod);

/* Erases messages deleted on Discord (MESSAGE_DELETE, _BULK) and all
 * derived from them (sql/034_bot_erasure.sql: answers' text, gaps, jobs,
 * queued reactions, community documents; a starter's thread title); their
 * ids are remembered so a replay stores nothing. The bot's Discord
 * messages answering them, and a deleted starter's controller, are
 * recorded for removal (unpost deliveries, sql/036_bot_unpost.sql). ids must be
 * snowflakes (others are skipped). Returns users' messages erased, or -1. */
int rag_store_messages_erase(PGconn *db, const char *const *ids, size_t n);

/* What rag_store_messages_forget_user erased. */
typedef struct {
    long messages, threads, votes, commands;
} rag_forget_counts;

/* Erases one person: their messages as above, their votes, the commands
 * they ran and their id on threads they opened or solved (one
 * transaction). 0 (counts in *out), -2 not a snowflake, -1 error. */
int rag_store_messages_forget_user(PGconn *db, const char *user_id,
                                   rag_forget_counts *out);

/* 1 when s is a Discord snowflake (1-20 digits). */
int rag_store_is_snowflake(const char *s);

/* Columns of rag_store_messages_question. */
enum {
    RAG_QUESTION_FROM_BOT,   /* "t"/"f" */
    RAG_QUESTION_CREATED_AT, /* timestamptz as text */
    RAG_QUESTION_TITLE,      /* thread title ("") */
    RAG_QUESTION_COLLECTION, /* the thread's, else its forum's ("") */
    RAG_QUESTION_OPEN,       /* "t"/"f" */
    RAG_QUESTION_SOLVED,     /* "t"/"f" */
    RAG_QUESTION_GUILD_ID,   /* "" when none */
    RAG_QUESTION_CONTENT,
    RAG_QUESTION_ANSWERED, /* "t": a reply to it exists */
    RAG_QUESTION_BANNED    /* "t": its author is banned in the guild */
};

/* The message message_id of thread_id with what deciding to answer it
 * needs (columns above); no row when unknown. */
PGresult *rag_store_messages_question(PGconn *db, const char *thread_id,
                                      const char *message_id);

/* The conversation up to and including message_id (sent at created_at):
 * at most limit of the latest messages, oldest first. Columns: from_bot
 * ("t"/"f"), content. */
PGresult *rag_store_messages_turns(PGconn *db, const char *thread_id,
                                   const char *created_at,
                                   const char *message_id, int limit);

/* Chunk ids the thread's replies cited (sources[].chunk_id), at most
 * limit. One column. */
PGresult *rag_store_messages_cited_chunks(PGconn *db, const char *thread_id,
                                          int limit);

/* The reply to message_id, under the deterministic id "reply:<id>" (a
 * second one is not written); sources_json NULL for none. The bot's
 * outbox delivers it. 0 or -1. */
int rag_store_messages_add_reply(PGconn *db, const char *thread_id,
                                 const char *message_id, const char *content,
                                 const char *sources_json, int abstained);

/* A thread's non-empty messages, oldest first, at most limit. Columns:
 * content, from_bot ("t"/"f"). */
PGresult *rag_store_messages_transcript(PGconn *db, const char *thread_id,
                                        int limit);

#endif
