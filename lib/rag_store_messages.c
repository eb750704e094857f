/*
 * rag_store_messages — the messages table (see rag_store_messages.h).
 */
#include "rag_store_messages.h"

#include "rag_buf.h"
#include "rag_db.h"

#include <stdlib.h>
#include <string.h>

#include <stdio.h>

int
rag_store_messages_insert_user(PGconn *db, const rag_user_message *m)
{
    const char *p[] = {m->thread_id,
                       m->message_id,
                       m->author_id,
                       m->content ? m->content : "",
                       m->first ? "true" : "false",
                       m->mentions_bot ? "true" : "false",
                       m->replies_to_bot ? "true" : "false"};

    return rag_db_count(
        db,
        "INSERT INTO messages (thread_id, message_id, author_id, content, "
        "first_message, mentions_bot, replies_to_bot, processed) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, true) "
        "ON CONFLICT (thread_id, message_id) DO NOTHING RETURNING 1",
        7, p);
}

int
rag_store_is_snowflake(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    return n > 0 && n <= 20 && strspn(s, "0123456789") == n;
}

int
rag_store_messages_erase(PGconn *db, const char *const *ids, size_t n)
{
    const char *p[1];
    rag_buf arr;
    size_t i;
    int rc = -1;

    /* a text[] literal of digits only: nothing to quote */
    rag_buf_init(&arr, 0);
    if (rag_buf_putc(&arr, '{') != 0)
        goto out;
    for (i = 0; i < n; i++) {
        if (!rag_store_is_snowflake(ids[i]))
            continue;
        if ((arr.len > 1 && rag_buf_putc(&arr, ',') != 0) ||
            rag_buf_puts(&arr, ids[i]) != 0)
            goto out;
    }
    if (rag_buf_putc(&arr, '}') != 0)
        goto out;
    p[0] = arr.data;
    rc = (int)rag_db_int(db, "SELECT rag_delete_messages($1::text[])", 1, p);
out:
    rag_buf_free(&arr);
    return rc;
}

int
rag_store_messages_forget_user(PGconn *db, const char *user_id,
                               rag_forget_counts *out)
{
    const char *p[] = {user_id};
    PGresult *r;

    if (!rag_store_is_snowflake(user_id))
        return -2;
    r = rag_db_query(db,
                     "SELECT messages, threads, votes, commands"
                     " FROM rag_forget_user($1)",
                     1, p);
    if (r == NULL)
        return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return -1;
    }
    out->messages = atol(PQgetvalue(r, 0, 0));
    out->threads = atol(PQgetvalue(r, 0, 1));
    out->votes = atol(PQgetvalue(r, 0, 2));
    out->commands = atol(PQgetvalue(r, 0, 3));
    PQclear(r);
    return 0;
}

rag_edit_outcome
rag_store_messages_edited(PGconn *db, const char *thread_id,
                          const char *message_id, const char *content,
                          int mentions, int *revision)
{
    static const char *const names[] = {
        "unknown", "same", "stored", "pending", "enqueued", "offer", "closed"};
    const char *p[] = {thread_id, message_id, content ? content : "",
                       mentions ? "true" : "false"};
    PGresult *r;
    rag_edit_outcome o = RAG_EDIT_ERROR;
    size_t i;

    *revision = 0;
    r = rag_db_query(db,
                     "SELECT outcome, coalesce(revision, 0)"
                     " FROM rag_message_edited($1, $2, $3, $4)",
                     4, p);
    if (r == NULL)
        return RAG_EDIT_ERROR;
    if (PQntuples(r) == 1)
        *revision = atoi(PQgetvalue(r, 0, 1));
    for (i = 0; PQntuples(r) == 1 && i < sizeof(names) / sizeof(*names); i++)
        if (strcmp(PQgetvalue(r, 0, 0), names[i]) == 0)
            o = (rag_edit_outcome)i;
    PQclear(r);
    return o;
}

int
rag_store_messages_reanswer(PGconn *db, const char *thread_id,
                            const char *message_id, const char *user_id,
                            int mod)
{
    const char *p[] = {thread_id, message_id, user_id, mod ? "true" : "false"};

    return rag_db_count(
        db, "SELECT 1 WHERE rag_message_reanswer($1, $2, $3, $4)", 4, p);
}

PGresult *
rag_store_messages_question(PGconn *db, const char *thread_id,
                            const char *message_id)
{
    const char *p[2] = {thread_id, message_id};

    return rag_db_query(
        db,
        "SELECT m.from_bot, m.created_at::text, coalesce(t.title, ''),"
        " coalesce(t.collection, (SELECT f.collection FROM guild_forums f"
        "   WHERE f.guild_id = t.guild_id"
        "   AND f.forum_channel_id = t.forum_channel_id), ''),"
        " t.open, t.solved, coalesce(t.guild_id, ''), m.content,"
        " EXISTS (SELECT 1 FROM messages r WHERE r.thread_id = m.thread_id"
        "   AND r.message_id = 'reply:' || m.message_id),"
        " EXISTS (SELECT 1 FROM guild_config g WHERE g.guild_id = t.guild_id"
        "   AND m.author_id = ANY (g.banned_user_ids))"
        " FROM messages m JOIN threads t USING (thread_id)"
        " WHERE m.thread_id = $1 AND m.message_id = $2",
        2, p);
}

PGresult *
rag_store_messages_turns(PGconn *db, const char *thread_id,
                         const char *created_at, const char *message_id,
                         int limit)
{
    char lim[16];
    const char *p[4] = {thread_id, created_at, message_id, lim};

    snprintf(lim, sizeof(lim), "%d", limit);
    return rag_db_query(
        db,
        "SELECT from_bot, content FROM (SELECT from_bot, content, created_at,"
        " message_id FROM messages WHERE thread_id = $1"
        " AND (created_at < $2::timestamptz OR message_id = $3)"
        " ORDER BY created_at DESC, message_id DESC LIMIT $4::int) x"
        " ORDER BY created_at, message_id",
        4, p);
}

PGresult *
rag_store_messages_cited_chunks(PGconn *db, const char *thread_id, int limit)
{
    char lim[16];
    const char *p[2] = {thread_id, lim};

    snprintf(lim, sizeof(lim), "%d", limit);
    return rag_db_query(
        db,
        "SELECT DISTINCT (s->>'chunk_id')::bigint FROM messages m,"
        " jsonb_array_elements(CASE WHEN jsonb_typeof(m.sources) = 'array'"
        "   THEN m.sources ELSE '[]'::jsonb END) s"
        " WHERE m.thread_id = $1 AND m.from_bot AND s ? 'chunk_id'"
        " AND (s->>'chunk_id') ~ '^[0-9]{1,18}$' LIMIT $2::int",
        2, p);
}

int
rag_store_messages_add_reply(PGconn *db, const char *thread_id,
                             const char *message_id, const char *content,
                             const char *sources_json, int abstained)
{
    const char *p[5] = {thread_id, message_id, content, sources_json,
                        abstained ? "true" : "false"};

    return rag_db_exec(
        db,
        "INSERT INTO messages (thread_id, message_id, content, from_bot,"
        " processed, reply_to, sources, abstained)"
        " VALUES ($1, 'reply:' || $2, $3, true, false, $2, $4::jsonb, $5)"
        " ON CONFLICT (thread_id, message_id) DO NOTHING",
        5, p);
}

PGresult *
rag_store_messages_transcript(PGconn *db, const char *thread_id, int limit)
{
    char lim[16];
    const char *p[2] = {thread_id, lim};

    snprintf(lim, sizeof(lim), "%d", limit);
    return rag_db_query(db,
                        "SELECT content, from_bot FROM messages"
                        " WHERE thread_id = $1 AND content <> ''"
                        " ORDER BY created_at, message_id LIMIT $2::int",
                        2, p);
}
