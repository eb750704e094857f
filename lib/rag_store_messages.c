/*
 * rag_store_messages — users' messages (see rag_store_messages.h).
 */
#include "rag_store_messages.h"

#include "rag_db.h"

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
