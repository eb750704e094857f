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

typedef struct {
    const char *thread_id, *message_id, *author_id;
    const char *content; /* NULL: "" */
    int first;           /* the post's starter message */
    int mentions_bot, replies_to_bot;
} rag_user_message;

/* Stores a user message once (processed: nothing to deliver). 1 stored,
 * 0 already there (a replayed event), -1 error. */
int rag_store_messages_insert_user(PGconn *db, const rag_user_message *m);

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
    RAG_QUESTION_ANSWERED,   /* "t": a reply to it exists */
    RAG_QUESTION_BANNED      /* "t": its author is banned in the guild */
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
