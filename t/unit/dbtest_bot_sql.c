/*
 * dbtest_bot_sql — every SQL statement of the bot, run against the real,
 * migrated schema: each function of lib/rag_store_{threads,messages,
 * outbox,feedback,interactions}, the guild configuration, collection
 * list and full-text search the bot reads (rag_store_guild_config,
 * _collections, _chunks) and bot/bot.c's and bot/commands.c's use of
 * them, with the effects checked in the tables.
 *
 * Needs a database: its conninfo as argv[1], else RAG_DATABASE_URL
 * (t/90-stores.t starts one, logs every statement and checks that each
 * SQL text in the stores and in bot/ ran).
 * Not run by t/unit/run.sh (the db_ prefix), since it needs Postgres.
 */
#include "unit.h"

#include "../../bot/bot.c"
#include "../../bot/commands.c"
#include "../../bot/embed.c"
#include "../../bot/rest.c"

#include "rag_store_chunks.h"
#include "rag_store_collections.h"
#include "rag_store_feedback.h"
#include "rag_store_guild_config.h"
#include "rag_store_interactions.h"
#include "rag_store_messages.h"
#include "rag_store_outbox.h"
#include "rag_store_shards.h"
#include "rag_store_threads.h"

#include <stdlib.h>

#define G "100000000000000001"
#define F "200000000000000001"
#define T1 "300000000000000001"
#define T2 "300000000000000002"
#define U "400000000000000001"
#define V "400000000000000002"

static PGconn *db;

static void
sql(const char *q)
{
    PGresult *r = PQexec(db, q);

    if (PQresultStatus(r) != PGRES_COMMAND_OK &&
        PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "setup failed: %s: %s", q, PQerrorMessage(db));
        exit(2);
    }
    PQclear(r);
}

/* First value of a query, as text ("" for NULL or no row). */
static const char *
val(const char *q)
{
    static char out[512];
    PGresult *r = PQexec(db, q);

    out[0] = '\0';
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
        snprintf(out, sizeof(out), "%s", PQgetvalue(r, 0, 0));
    else if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "query failed: %s: %s", q, PQerrorMessage(db));
    PQclear(r);
    return out;
}

static void
seed(void)
{
    sql("INSERT INTO collections (name, description) VALUES "
        "('docs', 'The manual')");
    sql("INSERT INTO documents (collection_id, url, title, body) "
        "SELECT id, 'https://docs.example/install', 'Install', 'x' "
        "FROM collections WHERE name = 'docs'");
    sql("INSERT INTO chunks (document_id, ordinal, heading_path, anchor, "
        "body) SELECT id, 0, 'Install > Debian', 'debian', "
        "'Install the package with apt on Debian.' FROM documents");
    sql("INSERT INTO guild_config (guild_id, mod_role_id, banned_user_ids, "
        "logging_channel_id) VALUES ('" G "', '555', ARRAY['666'], '777')");
    sql("INSERT INTO guild_forums VALUES ('" G "', '" F "', 'docs')");
}

static void
test_threads(void)
{
    rag_thread_new t = {T1, G, F, "How?", "docs", U};
    rag_thread_ctl ctl;
    rag_thread_ref ref;
    rag_thread_status st;
    rag_thread_recent *rec = NULL;
    char coll[64];
    int n;

    CHECK_INT(rag_store_threads_state(db, T1), 0);
    CHECK_INT(rag_store_threads_track(db, &t), 1);
    CHECK_INT(rag_store_threads_track(db, &t), 0);
    CHECK_INT(rag_store_threads_state(db, T1), 1);
    CHECK_INT(rag_store_threads_set_title(db, T1, "How now?"), 1);
    CHECK_INT(rag_store_threads_set_title(db, T1, "How now?"), 0);
    CHECK_STR(val("SELECT title FROM threads WHERE thread_id = '" T1 "'"),
              "How now?");
    CHECK_INT(rag_store_threads_controller(db, T1, &ctl), 1);
    CHECK_STR(ctl.controller_id, "");
    CHECK_INT(ctl.open, 1);
    CHECK_INT(ctl.answered, 0);
    CHECK_INT(rag_store_threads_controller(db, "nope", &ctl), 0);
    CHECK_INT(rag_store_threads_set_controller(db, T1, "310000000000000001"),
              1);
    CHECK_INT(rag_store_threads_set_controller(db, T1, "310000000000000002"),
              0); /* the first one stays */
    CHECK_INT(rag_store_threads_by_controller(db, "310000000000000001", &ref),
              1);
    CHECK_STR(ref.thread_id, T1);
    CHECK_STR(ref.author_id, U);
    CHECK_INT(rag_store_threads_by_controller(db, "310000000000000002", &ref),
              0);
    CHECK_INT(rag_store_threads_solve(db, T1, U), 1);
    CHECK_INT(rag_store_threads_solve(db, T1, U), 0);
    CHECK_INT(rag_store_threads_state(db, T1), 2);
    CHECK_INT(rag_store_threads_unsolve(db, T1), 1);
    CHECK_INT(rag_store_threads_unsolve(db, T1), 0);
    CHECK_INT(rag_store_threads_controller(db, T1, &ctl), 1);
    CHECK_INT(ctl.was_solved, 1);
    CHECK_INT(rag_store_threads_set_open(db, T1, 0), 1);
    CHECK_INT(rag_store_threads_set_open(db, T1, 0), 0);
    CHECK_INT(rag_store_threads_set_open(db, T1, 1), 1);
    CHECK_INT(rag_store_threads_status(db, T1, &st), 1);
    CHECK_STR(st.title, "How now?");
    CHECK_STR(st.guild_id, G);
    CHECK_STR(st.controller_id, "310000000000000001");
    CHECK_INT(st.open, 1);
    CHECK_INT(rag_store_threads_status(db, "nope", &st), 0);
    CHECK_INT(rag_store_threads_collection(db, T1, NULL, coll, sizeof(coll)),
              1);
    CHECK_STR(coll, "docs");
    CHECK_INT(
        rag_store_threads_collection(db, "elsewhere", G, coll, sizeof(coll)),
        1); /* the guild's forum */
    CHECK_INT(
        rag_store_threads_collection(db, "elsewhere", "x", coll, sizeof(coll)),
        0);
    /* catch-up list: open, reachable, with the newest user message */
    sql("INSERT INTO messages (thread_id, message_id, author_id, content, "
        "processed) VALUES ('" T1 "', '320000000000000009', '" U "', 'hi', "
        "true), ('" T1 "', 'ask-1', '" U "', 'not a snowflake', true)");
    n = rag_store_threads_recent(db, 7, 10, &rec);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_STR(rec[0].thread_id, T1);
        CHECK_STR(rec[0].last_seen, "320000000000000009");
    }
    rag_store_threads_recent_free(rec);
    CHECK_INT(rag_store_threads_unreachable(db, T1, "unknown_channel"), 1);
    CHECK_INT(rag_store_threads_unreachable(db, T1, "missing_access"), 0);
    CHECK_STR(val("SELECT unreachable FROM threads"), "unknown_channel");
    CHECK_INT(rag_store_threads_recent(db, 7, 10, &rec), 0);
    rag_store_threads_recent_free(rec);
    CHECK_INT(rag_store_threads_reachable(db, T1), 1);
    CHECK_INT(rag_store_threads_reachable(db, T1), 0);
}

static void
test_messages_feedback(void)
{
    rag_user_message m = {T1, T1, U, "How do I install?", 1, 0, 0};

    CHECK_INT(rag_store_messages_insert_user(db, &m), 1);
    CHECK_INT(rag_store_messages_insert_user(db, &m), 0);
    /* the trigger asked for an answer to the starter message */
    CHECK_STR(val("SELECT count(*) FROM jobs WHERE kind = 'answer' AND "
                  "payload->>'message_id' = '" T1 "'"),
              "1");
    CHECK_INT(rag_store_feedback_add(db, T1, V, "up"), 1);
    CHECK_INT(rag_store_feedback_add(db, T1, V, "up"), 0);
    CHECK_INT(rag_store_feedback_add(db, T1, V, "down"), 1);
    CHECK_INT(rag_store_feedback_add(db, T1, V, "sideways"), -1);
    CHECK_STR(val("SELECT solved_votes || '/' || failed_votes FROM threads "
                  "WHERE thread_id = '" T1 "'"),
              "1/1");
    CHECK_INT(rag_store_feedback_remove(db, T1, V, "up"), 1);
    CHECK_INT(rag_store_feedback_remove(db, T1, V, "up"), 0);
    CHECK_STR(val("SELECT solved_votes || '/' || failed_votes FROM threads "
                  "WHERE thread_id = '" T1 "'"),
              "0/1");
}

/* Edits (sql/033) and erasure (sql/034) through the message and thread
 * stores; t/71 and t/72 run them end to end. */
static void
test_edits_erasure(void)
{
#define T9 "300000000000000009"
#define M9 "500000000000000009"
#define W9 "400000000000000099"
    const char *ids[] = {M9, "x; DROP"};
    rag_user_message m;
    rag_forget_counts c;
    int rev = -1;

    sql("INSERT INTO threads (thread_id, guild_id, forum_channel_id, title, "
        "author_id) VALUES ('" T9 "', '" G "', '" F "', 'edit me', '" W9 "'), "
        "('300000000000000010', '100000000000000077', '" F "', 'gone', "
        "'" U "')");
    memset(&m, 0, sizeof(m));
    m.thread_id = T9;
    m.message_id = M9;
    m.author_id = W9;
    m.content = "before";
    m.mentions_bot = 1;
    CHECK_INT(rag_store_messages_insert_user(db, &m), 1);
    CHECK_INT(rag_store_messages_edited(db, T9, M9, "after", 0, &rev),
              RAG_EDIT_PENDING);
    CHECK_INT(rev, 1);
    CHECK_INT(rag_store_messages_edited(db, T9, M9, "after", 0, &rev),
              RAG_EDIT_SAME);
    CHECK_INT(rag_store_messages_edited(db, T9, "5", "x", 0, &rev),
              RAG_EDIT_UNKNOWN);
    sql("INSERT INTO messages (thread_id, message_id, content, from_bot, "
        "processed, reply_to, discord_message_id) VALUES ('" T9 "', "
        "'reply:" M9 "', 'the answer', true, true, '" M9 "', '77')");
    CHECK_INT(rag_store_messages_edited(db, T9, M9, "again", 1, &rev),
              RAG_EDIT_OFFER);
    CHECK_INT(rev, 2);
    CHECK_INT(rag_store_messages_reanswer(db, T9, M9, V, 0), 0);
    CHECK_INT(rag_store_messages_reanswer(db, T9, M9, W9, 0), 1);
    CHECK_INT(rag_store_messages_reanswer(db, T9, M9, V, 1), 0); /* once */
    CHECK_STR(val("SELECT content FROM messages WHERE edit_of = '" M9 "'"),
              "again");
    CHECK_INT(rag_store_messages_erase(db, ids, 2), 1);
    CHECK_STR(val("SELECT count(*) FROM messages WHERE message_id = '" M9
                  "' OR edit_of = '" M9
                  "' OR content <> '' AND thread_id = '" T9 "'"),
              "0");
    CHECK_INT(rag_store_messages_insert_user(db, &m), 0); /* a replay */
    CHECK_INT(rag_store_messages_forget_user(db, "x", &c), -2);
    CHECK_INT(rag_store_is_snowflake("123"), 1);
    CHECK_INT(rag_store_is_snowflake("123456789012345678901"), 0);
    CHECK_INT(rag_store_is_snowflake(""), 0);
    CHECK_INT(rag_store_messages_forget_user(db, W9, &c), 0);
    CHECK_STR(val("SELECT count(*) FROM threads WHERE author_id = '" W9 "'"),
              "0");
    CHECK_INT(rag_store_threads_erase(db, T9), 1);
    CHECK_INT(rag_store_threads_erase(db, T9), 0);
    CHECK_INT(rag_store_threads_erase_guild(db, "100000000000000077"), 1);
#undef T9
#undef M9
#undef W9
}

/* Shard leases: one owner per shard; a second process under another
 * count takes nothing while the first is alive; identify buckets. */
static void
test_shards(void)
{
    static const int zero[] = {0}, both[] = {0, 1};

    /* (81384788765712384 >> 22) % 4 == 2, as the C side computes */
    CHECK_INT(rag_bot_guild_shard("81384788765712384", 4), 2);
    CHECK_INT(rag_bot_guild_shard("x1", 4), 0);
    CHECK_STR(val("SELECT rag_guild_shard('4194304', 2) || ',' || "
                  "rag_guild_shard('8388608', 2) || ',' || "
                  "rag_guild_shard('81384788765712384', 4) || ',' || "
                  "rag_guild_shard(NULL, 2) || ',' || "
                  "rag_guild_shard('g1', 2)"),
              "1,0,2,0,0");
    CHECK_INT(rag_store_shards_claim(db, "w1", 1, zero, 1, 60, NULL), 1);
    CHECK_INT(rag_store_shards_claim(db, "w1", 1, zero, 1, 60, NULL),
              1); /* renew */
    CHECK_INT(rag_store_shards_claim(db, "w2", 1, zero, 1, 60, NULL), 0);
    CHECK_INT(rag_store_shards_claim(db, "w2", 2, both, 2, 60, NULL), 0);
    CHECK_STR(val("SELECT rag_shard_owned('w1', '4194304')::text || "
                  "rag_shard_owned('w2', '4194304')::text"),
              "truefalse");
    /* a dead owner's shard is taken once its lease ran out */
    sql("UPDATE bot_shards SET owner = 'dead', lease_until = now() - "
        "interval '1 s'");
    CHECK_INT(rag_store_shards_claim(db, "w1", 1, zero, 1, 60, NULL), 1);
    CHECK_INT(rag_store_shards_identify_slot(db, "1:0"), 1);
    CHECK_INT(rag_store_shards_identify_slot(db, "1:0"), 0);
    CHECK_INT(rag_store_shards_identify_slot(db, "1:1"), 1);
    CHECK_INT(rag_store_shards_release(db, "w2"), 0);
    /* a dead process's shards, taken over by a live one with room */
    {
        static const int four[] = {0, 1, 2, 3};
        int got[4] = {-1, -1, -1, -1};

        /* w1's count-1 lease ends first: no two counts live at once */
        CHECK_INT(rag_store_shards_release(db, "w1"), 1);
        CHECK_INT(rag_store_shards_claim(db, "wa", 4, four, 2, 60, NULL), 2);
        CHECK_INT(rag_store_shards_claim(db, "wb", 4, four + 2, 2, 60, NULL),
                  2);
        {
            int held[2] = {-1, -1};

            /* a renewal says which shards it still holds */
            CHECK_INT(
                rag_store_shards_claim(db, "wb", 4, four + 1, 2, 60, held), 1);
            CHECK_INT(held[0], 2);
        }
        CHECK_INT(rag_store_shards_takeover(db, "wa", 4, 2, 60, got), 0);
        sql("UPDATE bot_shards SET lease_until = now() - interval '1 s' "
            "WHERE owner = 'wb'"); /* wb was kill -9'd */
        CHECK_INT(rag_store_shards_takeover(db, "wa", 4, 1, 60, got), 1);
        CHECK_INT(got[0], 2);
        CHECK_INT(rag_store_shards_takeover(db, "wc", 4, 4, 60, got), 1);
        CHECK_INT(got[0], 3);
        CHECK_STR(val("SELECT string_agg(owner, ',' ORDER BY shard_id) "
                      "FROM bot_shards WHERE shard_count = 4"),
                  "wa,wa,wa,wc");
        CHECK_STR(val("SELECT rag_shard_owned('wa', '8388608')::text || "
                      "rag_shard_owned('wb', '8388608')::text"),
                  "truefalse"); /* shard 2: wa delivers, wb never */
        /* wb is back and wants its shard 2: wa hands it back, nobody
         * else takes it meanwhile, wb claims it */
        {
            static const int two[] = {2};
            int back[4] = {-1, -1, -1, -1};

            CHECK_INT(rag_store_shards_handback(db, "wa", 4, four, 2, back, 4),
                      0); /* nobody wants it yet */
            CHECK_INT(rag_store_shards_claim(db, "wb", 4, two, 1, 60, NULL), 0);
            CHECK_INT(rag_store_shards_want(db, "wb", 4, two, 1, 60), 1);
            CHECK_INT(rag_store_shards_handback(db, "wa", 4, four, 2, back, 4),
                      1);
            CHECK_INT(back[0], 2);
            CHECK_INT(rag_store_shards_takeover(db, "wc", 4, 4, 60, back),
                      0); /* wanted by wb */
            CHECK_INT(rag_store_shards_claim(db, "wb", 4, two, 1, 60, NULL), 1);
            CHECK_STR(val("SELECT owner || coalesce(wanted_by, '-') FROM "
                          "bot_shards WHERE shard_count = 4 AND "
                          "shard_id = 2"),
                      "wb-");
            CHECK_INT(rag_store_shards_release(db, "wb"), 1);
            CHECK_INT(rag_store_shards_takeover(db, "wa", 4, 1, 60, back), 1);
        }
        CHECK_INT(rag_store_shards_release(db, "wc"), 1);
        CHECK_INT(rag_store_shards_takeover(db, "wa", 4, 4, 60, got), 1);
        CHECK_INT(got[0], 3); /* released: taken at once */
        CHECK_INT(rag_store_shards_release(db, "wa"), 4);
        sql("DELETE FROM bot_shards WHERE shard_count = 4");
        CHECK_INT(rag_store_shards_claim(db, "w1", 1, zero, 1, 60, NULL), 1);
    }
}

static void
test_replies(void)
{
    rag_outbox_reply *v = NULL;
    int n;

    sql("INSERT INTO messages (thread_id, message_id, content, from_bot, "
        "created_at) VALUES ('" T1 "', 'r1', 'first answer', true, now() - "
        "interval '2 s'), ('" T1 "', 'r2', 'second answer', true, now())");
    /* one reply per thread at a time, oldest first */
    n = rag_store_outbox_claim_replies(db, "w1", 60, 10, &v);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_STR(v[0].message_id, "r1");
        CHECK_STR(v[0].content, "first answer");
        CHECK_INT(v[0].attempts, 1);
        CHECK(v[0].sources == NULL);
    }
    rag_store_outbox_replies_free(v, n);
    CHECK_INT(rag_store_outbox_claim_replies(db, "w2", 60, 10, &v), 0);
    rag_store_outbox_replies_free(v, 0);
    CHECK_INT(rag_store_outbox_renew(db, "w1", 120), 1);
    CHECK_INT(rag_store_outbox_renew(db, "w2", 120), 0);
    /* a transient failure backs off; the lease holder only */
    CHECK_INT(rag_store_outbox_reply_failed(db, T1, "r1", "w2", "x",
                                            "server_error", 0, 1000, 3),
              0);
    CHECK_STR(val("SELECT locked_by FROM messages WHERE message_id = 'r1'"),
              "w1");
    CHECK_INT(rag_store_outbox_reply_failed(db, T1, "r1", "w1", "HTTP 502",
                                            "server_error", 0, 1000, 3),
              0);
    CHECK_STR(val("SELECT processed::text || coalesce(delivery_failure, '-') "
                  "|| (lease_until > now())::text FROM messages "
                  "WHERE message_id = 'r1'"),
              "false-true");
    /* in backoff, it still holds the thread's order */
    CHECK_INT(rag_store_outbox_claim_replies(db, "w1", 60, 10, &v), 0);
    rag_store_outbox_replies_free(v, 0);
    sql("UPDATE messages SET lease_until = now() - interval '1 s' "
        "WHERE message_id = 'r1'");
    n = rag_store_outbox_claim_replies(db, "w1", 60, 10, &v);
    CHECK_INT(n, 1);
    rag_store_outbox_replies_free(v, n);
    CHECK_INT(rag_store_outbox_reply_delivered(db, T1, "r1", "900", NULL, "w2"),
              0);
    CHECK_INT(rag_store_outbox_reply_delivered(db, T1, "r1", "900", "{900,901}",
                                               "w1"),
              1);
    CHECK_STR(val("SELECT discord_message_id || ' ' || "
                  "array_to_string(discord_part_ids, ',') FROM messages "
                  "WHERE message_id = 'r1'"),
              "900 900,901");
    /* now r2; given up for good */
    n = rag_store_outbox_claim_replies(db, "w1", 60, 10, &v);
    CHECK_INT(n, 1);
    if (n == 1)
        CHECK_STR(v[0].message_id, "r2");
    rag_store_outbox_replies_free(v, n);
    CHECK_INT(rag_store_outbox_reply_failed(db, T1, "r2", "w1",
                                            "Missing Permissions (50013)",
                                            "missing_permissions", 1, 1000, 3),
              0);
    CHECK_STR(val("SELECT failure || '|' || error FROM delivery_failures "
                  "WHERE ref = 'r2'"),
              "missing_permissions|Missing Permissions (50013)");
    CHECK_STR(val("SELECT message_id FROM outbox_failed"), "r2");
}

static void
test_deliveries(void)
{
    rag_delivery *v = NULL;
    rag_delivery_failure f[4];
    int i, n;

    sql("INSERT INTO threads (thread_id, guild_id, collection, author_id) "
        "VALUES ('" T2 "', '" G "', 'docs', '" U "')");
    CHECK_INT(rag_store_outbox_controller(db, T2), 1);
    CHECK_INT(rag_store_outbox_controller(db, T2), 0);
    CHECK_INT(rag_store_outbox_react(db, T2, T2, "\xF0\x9F\x91\x80", "eyes"),
              1);
    CHECK_INT(rag_store_outbox_react(db, T2, T2, "\xF0\x9F\x91\x80", "eyes"),
              0);
    CHECK_INT(rag_store_outbox_edit(db, T2), 1);
    CHECK_INT(rag_store_outbox_edit(db, T2), 1); /* re-armed */
    CHECK_INT(rag_store_outbox_archive(db, T2, 1), 1);
    /* a thread reopened to delete in it is archived again (t/77); not
     * when it could not be reopened */
    CHECK_INT(rag_store_outbox_rearchive(db, T2), 1);
    CHECK_INT(rag_store_outbox_rearchive(db, T2), 1); /* re-armed */
    CHECK_STR(val("SELECT kind || ' ' || body::text FROM deliveries "
                  "WHERE dedupe_key = 'rearchive:" T2 "'"),
              "archive {\"archived\": true}");
    CHECK_INT(rag_store_outbox_rearchive_cancel(db, T2), 1);
    CHECK_INT(rag_store_outbox_rearchive_cancel(db, T2), 0);
    CHECK_INT(rag_store_outbox_notice(db, T2, "hello", "{\"content\":\"hi\"}"),
              1);
    CHECK_INT(rag_store_outbox_notice(db, T2, "hello", "{\"content\":\"hi\"}"),
              0);
    /* the edit and archive wait for the controller */
    n = rag_store_outbox_claim(db, "w1", 60, 10, &v);
    CHECK_INT(n, 3);
    for (i = 0; i < n; i++)
        CHECK(strcmp(v[i].kind, "edit") != 0 &&
              strcmp(v[i].kind, "archive") != 0);
    for (i = 0; i < n; i++) {
        if (strcmp(v[i].kind, "controller") == 0) {
            CHECK_STR(v[i].key, "controller:" T2);
            /* re-arming an edit while the controller is in flight */
            CHECK_INT(rag_store_outbox_done(db, v[i].id, "w2", "1"), 0);
            CHECK_INT(
                rag_store_outbox_done(db, v[i].id, "w1", "320000000000000001"),
                1);
        } else if (strcmp(v[i].kind, "react") == 0) {
            CHECK_STR(v[i].emoji, "\xF0\x9F\x91\x80");
            CHECK_STR(v[i].target_id, T2);
            CHECK_INT(rag_store_outbox_failed(db, v[i].id, "w1",
                                              "Unknown Message (10008)",
                                              "unknown_message", 1, 1000, 3),
                      1);
        } else {
            CHECK_STR(v[i].body, "{\"content\": \"hi\"}");
            CHECK_INT(rag_store_outbox_failed(db, v[i].id, "w1", "HTTP 503",
                                              "server_error", 0, 1000, 1),
                      1);
        }
    }
    rag_store_outbox_deliveries_free(v, n);
    CHECK_INT(rag_store_outbox_renew(db, "w1", 60), 0);
    /* now the edit, then the archive */
    n = rag_store_outbox_claim(db, "w1", 60, 10, &v);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_STR(v[0].kind, "edit");
        CHECK_INT(rag_store_outbox_renew(db, "w1", 60), 1);
        CHECK_INT(rag_store_outbox_edit(db, T2), 1); /* dirty: once more */
        CHECK_INT(rag_store_outbox_done(db, v[0].id, "w1", NULL), 1);
        CHECK_STR(val("SELECT state FROM deliveries WHERE kind = 'edit'"),
                  "queued");
    }
    rag_store_outbox_deliveries_free(v, n);
    sql("UPDATE deliveries SET state = 'done' WHERE kind = 'edit'");
    n = rag_store_outbox_claim(db, "w1", 60, 10, &v);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_STR(v[0].kind, "archive");
        CHECK_STR(v[0].body, "{\"archived\": true}");
        CHECK_INT(rag_store_outbox_failed(db, v[0].id, "w1", "HTTP 502",
                                          "server_error", 0, 1000, 3),
                  1);
    }
    rag_store_outbox_deliveries_free(v, n);
    CHECK_STR(val("SELECT state FROM deliveries WHERE kind = 'archive'"),
              "queued");
    /* the controller and a delivered reply bring the voting reactions */
    sql("UPDATE threads SET thread_controller_id = '320000000000000001' "
        "WHERE thread_id = '" T2 "'");
    CHECK_INT(rag_store_outbox_controller_followups(db, T2), 0);
    CHECK_STR(val("SELECT count(*) FROM deliveries WHERE kind = 'react' AND "
                  "thread_id = '" T2 "'"),
              "1");
    sql("INSERT INTO messages (thread_id, message_id, content, from_bot, "
        "processed, discord_message_id) VALUES ('" T2 "', 'r3', 'a', true, "
        "true, '901')");
    CHECK_INT(rag_store_outbox_controller_followups(db, T2), 0);
    CHECK_STR(val("SELECT string_agg(emoji, ',' ORDER BY id) FROM deliveries "
                  "WHERE kind = 'react' AND target_id = "
                  "'320000000000000001'"),
              "\xE2\x9C\x85,\xE2\x9D\x8C");
    CHECK_STR(val("SELECT state FROM deliveries WHERE kind = 'edit'"),
              "queued");
    /* a ban notice: once per user and guild */
    CHECK_INT(
        rag_store_outbox_ban_notice(db, G, "666", T2, "{\"content\":\"no\"}"),
        1);
    CHECK_INT(
        rag_store_outbox_ban_notice(db, G, "666", T2, "{\"content\":\"no\"}"),
        0);
    /* an unreachable thread: what is pending fails without a request */
    sql("INSERT INTO messages (thread_id, message_id, content, from_bot) "
        "VALUES ('" T2 "', 'r4', 'lost', true)");
    CHECK_INT(rag_store_threads_unreachable(db, T2, "unknown_channel"), 1);
    CHECK_INT(rag_store_outbox_claim(db, "w1", 60, 10, &v), 0);
    rag_store_outbox_deliveries_free(v, 0);
    CHECK(rag_store_outbox_fail_unreachable(db) >= 5);
    CHECK_STR(val("SELECT count(*) FROM deliveries WHERE state = 'queued'"),
              "0");
    CHECK_STR(val("SELECT delivery_failure FROM messages "
                  "WHERE message_id = 'r4'"),
              "unknown_channel");
    n = rag_store_outbox_failures(db, T2, f, 4);
    CHECK_INT(n, 4);
    for (i = 0; i < n; i++)
        CHECK(f[i].kind[0] && f[i].failure[0] && f[i].error[0]);
    CHECK_INT(rag_store_outbox_listen(db), 0);
}

static void
test_interactions(void)
{
    rag_interaction *v = NULL;
    char hash[] = "ab12";
    int n;

    sql("INSERT INTO interactions (interaction_id, application_id, token, "
        "guild_id, channel_id, user_id, member_roles, command, options, "
        "created_at) VALUES ('i1', '8', 'tok1', '" G "', '" T1 "', '" U
        "', ARRAY['555'], 'status', '{}', now()), "
        "('i2', '8', 'tok2', NULL, NULL, NULL, '{}', 'info', '{}', "
        "now() - interval '20 min')");
    CHECK_INT(rag_store_interactions_expire(db), 1);
    CHECK_STR(val("SELECT state || ':' || last_error FROM interactions "
                  "WHERE interaction_id = 'i2'"),
              "failed:token expired");
    n = rag_store_interactions_claim(db, "w1", 60, 10, &v);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_STR(v[0].token, "tok1");
        CHECK_STR(v[0].roles_json, "[\"555\"]");
        CHECK_STR(v[0].guild_id, G);
        CHECK_STR(v[0].command, "status");
        CHECK_INT(rag_store_interactions_done(db, v[0].id), 0);
        CHECK_INT(rag_store_interactions_failed(db, v[0].id, "webhook edit"),
                  0);
    }
    rag_store_interactions_free(v, n);
    CHECK_STR(val("SELECT state FROM interactions WHERE interaction_id = "
                  "'i1'"),
              "failed");
    CHECK_INT(rag_store_interactions_commands_current(db, G, "8", hash), 0);
    CHECK_INT(rag_store_interactions_commands_registered(db, G, "8", hash), 0);
    CHECK_INT(rag_store_interactions_commands_current(db, G, "8", hash), 1);
    CHECK_INT(rag_store_interactions_commands_current(db, G, "9", hash), 0);
    CHECK_INT(rag_store_interactions_commands_registered(db, G, "8", "cd"), 0);
    CHECK_INT(rag_store_interactions_commands_current(db, G, "8", hash), 0);
}

/* The stores bot/bot.c and bot/commands.c read through: guild
 * configuration, the collection list, full-text search. */
static void
test_guild_reads(void)
{
    char out[64];
    PGresult *r;

    CHECK_INT(
        rag_store_guild_config_forum_collection(db, G, F, out, sizeof(out)), 1);
    CHECK_STR(out, "docs");
    CHECK_INT(
        rag_store_guild_config_forum_collection(db, G, "9", out, sizeof(out)),
        0);
    CHECK_INT(rag_store_guild_config_forum_collection(db, G, F, out, 4), 0);
    CHECK_INT(rag_store_guild_config_is_banned(db, G, "666"), 1);
    CHECK_INT(rag_store_guild_config_is_banned(db, G, U), 0);
    CHECK_INT(rag_store_guild_config_is_banned(db, "x", "666"), 0);
    CHECK_INT(rag_store_guild_config_exists(db, G), 1);
    CHECK_INT(rag_store_guild_config_exists(db, "x"), 0);
    CHECK_INT(rag_store_guild_config_mod_role(db, G, out, sizeof(out)), 1);
    CHECK_STR(out, "555");
    sql("INSERT INTO guild_config (guild_id) VALUES ('100000000000000009')");
    CHECK_INT(rag_store_guild_config_mod_role(db, "100000000000000009", out,
                                              sizeof(out)),
              0);
    r = rag_store_guild_config_guilds(db);
    CHECK(r && PQntuples(r) == 2 && strcmp(PQgetvalue(r, 0, 0), G) == 0);
    PQclear(r);
    sql("DELETE FROM guild_config WHERE guild_id = '100000000000000009'");
    r = rag_store_guild_config_forum_guilds(db);
    CHECK(r && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), G) == 0);
    PQclear(r);
    r = rag_store_guild_config_logging_channels(db, "w1");
    CHECK(r && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "777") == 0);
    PQclear(r);
    r = rag_store_guild_config_logging_channels(db, "w2");
    CHECK(r && PQntuples(r) == 0);
    PQclear(r);
    r = rag_store_collections_list(db, 100);
    CHECK(r && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "docs") == 0 &&
          strcmp(PQgetvalue(r, 0, 1), "The manual") == 0);
    PQclear(r);
    r = rag_store_collections_list(db, 0);
    CHECK(r && PQntuples(r) == 0);
    PQclear(r);
    r = rag_store_chunks_search_fts(db, "docs", "debian packages", 5);
    CHECK(r && PQntuples(r) == 1 &&
          strcmp(PQgetvalue(r, 0, 0), "https://docs.example/install") == 0 &&
          strcmp(PQgetvalue(r, 0, 1), "debian") == 0 &&
          strcmp(PQgetvalue(r, 0, 2), "Install") == 0 &&
          atof(PQgetvalue(r, 0, 4)) > 0);
    PQclear(r);
    r = rag_store_chunks_search_fts(db, "docs", "kubernetes", 5);
    CHECK(r && PQntuples(r) == 0);
    PQclear(r);
    r = rag_store_chunks_search_fts(db, "nope", "debian", 5);
    CHECK(r && PQntuples(r) == 0);
    PQclear(r);
}

/* bot/bot.c's guild reads and bot/commands.c's commands over them. */
static void
test_bot(rag_bot *b)
{
    static const char roles_json[] = "[\"1\",\"555\"]";
    yajl_val roles = rag_json_parse(roles_json, strlen(roles_json)), opts;
    char **list, *c;
    cmd_ctx cx;
    cmd_out o;
    static const char search_opts[] =
        "[{\"name\":\"query\",\"value\":\"install debian\"}]";

    c = rag_bot_forum_collection(b, G, F);
    CHECK_STR(c, "docs");
    free(c);
    CHECK(rag_bot_forum_collection(b, G, "9") == NULL);
    CHECK_INT(rag_bot_is_banned(b, G, "666"), 1);
    CHECK_INT(rag_bot_is_banned(b, G, U), 0);
    CHECK_INT(rag_bot_is_mod(b, G, roles), 1);
    CHECK_INT(rag_bot_guild_configured(b, G), 1);
    CHECK_INT(rag_bot_guild_configured(b, "x"), 0);
    list = rag_bot_configured_guilds(b);
    CHECK(list && list[0] && strcmp(list[0], G) == 0 && !list[1]);
    rag_bot_list_free(list);
    list = rag_bot_forum_guilds(b);
    CHECK(list && list[0] && strcmp(list[0], G) == 0 && !list[1]);
    rag_bot_list_free(list);
    list = rag_bot_logging_channels(b);
    CHECK(list && list[0] && strcmp(list[0], "777") == 0 && !list[1]);
    rag_bot_list_free(list);
    /* another process's guilds: their owner announces there */
    snprintf(b->worker_id, sizeof(b->worker_id), "w2");
    list = rag_bot_logging_channels(b);
    CHECK(list && !list[0]);
    rag_bot_list_free(list);
    snprintf(b->worker_id, sizeof(b->worker_id), "w1");
    yajl_tree_free(roles);

    memset(&cx, 0, sizeof(cx));
    cx.guild = G;
    cx.channel = T1;
    cx.user = U;
    memset(&o, 0, sizeof(o));
    rag_buf_init(&o.data, 64 * 1024);
    cx.name = "collections";
    run(b, &cx, &o, "1");
    CHECK(o.data.data && strstr(o.data.data, "**docs** The manual"));
    cx.name = "search";
    opts = rag_json_parse(search_opts, strlen(search_opts));
    cx.options = opts;
    rag_buf_reset(&o.data);
    run(b, &cx, &o, "2");
    CHECK(o.data.data &&
          strstr(o.data.data, "docs.example/install#debian") != NULL);
    yajl_tree_free(opts);
    cx.options = NULL;
    cx.name = "status";
    rag_buf_reset(&o.data);
    run(b, &cx, &o, "3");
    CHECK(o.data.data && strstr(o.data.data, "**Thread:** How now?"));
    rag_buf_free(&o.data);
}

/* A deleted question takes the bot's messages about it (sql/036): every
 * part of its answer, the controller when it is the starter; the title
 * goes; a reply in flight is removed once its id is recorded. */
#define T8 "300000000000000008"
#define Q8 "510000000000000008"
static void
test_unpost(void)
{
    rag_thread_new t = {T8, G, F, "zqxtitle Why?", "docs", U};
    rag_user_message m = {T8, T8, U, "zqxbody why", 1, 0, 0};
    rag_user_message q = {T8, Q8, U, "and how?", 0, 1, 0};
    const char *ids[] = {T8}, *qids[] = {Q8};
    rag_outbox_reply *v = NULL;
    rag_delivery *d = NULL;
    int n, i, seen = 0;

    CHECK_INT(rag_store_threads_track(db, &t), 1);
    CHECK_INT(rag_store_messages_insert_user(db, &m), 1);
    CHECK_INT(rag_store_messages_insert_user(db, &q), 1);
    CHECK_INT(rag_store_threads_set_controller(db, T8, "810"), 1);
    sql("INSERT INTO messages (thread_id, message_id, content, from_bot, "
        "reply_to, processed, discord_message_id, discord_part_ids) VALUES "
        "('" T8 "', 'reply:" T8 "', 'a', true, '" T8 "', true, '801', "
        "'{801,802}')");
    sql("INSERT INTO deliveries (thread_id, kind, dedupe_key) VALUES "
        "('" T8 "', 'edit', 'edit:" T8 "')");
    /* the follow-up's answer is being posted */
    sql("INSERT INTO messages (thread_id, message_id, content, from_bot, "
        "reply_to) VALUES ('" T8 "', 'reply:" Q8 "', 'b', true, '" Q8 "')");
    n = rag_store_outbox_claim_replies(db, "w1", 60, 10, &v);
    CHECK_INT(n, 1);
    rag_store_outbox_replies_free(v, n);
    CHECK_INT(rag_store_messages_erase(db, qids, 1), 1);
    CHECK_STR(val("SELECT count(*) FROM deliveries WHERE thread_id = '" T8
                  "' AND kind = 'unpost'"),
              "0"); /* nothing posted yet */
    CHECK_INT(rag_store_outbox_reply_delivered(db, T8, "reply:" Q8, "803",
                                               "{803}", "w1"),
              1);
    CHECK_STR(val("SELECT string_agg(target_id, ',' ORDER BY target_id) "
                  "FROM deliveries WHERE kind = 'unpost'"),
              "803");
    CHECK_INT(rag_store_messages_erase(db, ids, 1), 1);
    CHECK_STR(val("SELECT string_agg(target_id, ',' ORDER BY target_id) "
                  "FROM deliveries WHERE kind = 'unpost'"),
              "801,802,803,810");
    CHECK_STR(val("SELECT count(*) FROM deliveries WHERE thread_id = '" T8
                  "' AND kind = 'edit'"),
              "0"); /* the controller is not edited any more */
    CHECK_STR(val("SELECT title FROM threads WHERE thread_id = '" T8 "'"), "");
    CHECK(rag_store_threads_set_title(db, T8, "zqxtitle again") >= 0);
    CHECK_STR(val("SELECT count(*) FROM messages WHERE content ILIKE "
                  "'%zqx%'"),
              "0");
    /* removals run side by side (after the controller's edits) */
    n = rag_store_outbox_claim(db, "w1", 60, 10, &d);
    CHECK_INT(n, 4);
    for (i = 0; i < n; i++) {
        CHECK_STR(d[i].kind, "unpost");
        seen += strcmp(d[i].target_id, "803") == 0;
        CHECK_INT(rag_store_outbox_done(db, d[i].id, "w1", NULL), 1);
    }
    rag_store_outbox_deliveries_free(d, n);
    CHECK_INT(seen, 1);
    /* rag_unpost ignores a thread that is gone */
    CHECK_STR(val("SELECT count(*) FROM (SELECT rag_unpost('nope', '1')) x"),
              "1");
    CHECK_STR(val("SELECT count(*) FROM deliveries WHERE thread_id = 'nope'"),
              "0");
}

int
main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : getenv("RAG_DATABASE_URL");
    char err[256];
    rag_bot b;

    if (url == NULL) {
        fprintf(stderr, "dbtest_bot_sql: RAG_DATABASE_URL is not set\n");
        return 2;
    }
    db = rag_db_connect(url, "dbtest_bot_sql", err, sizeof(err));
    if (db == NULL) {
        fprintf(stderr, "dbtest_bot_sql: %s\n", err);
        return 2;
    }
    seed();
    RUN(test_threads);
    RUN(test_messages_feedback);
    RUN(test_shards);
    RUN(test_replies);
    RUN(test_deliveries);
    RUN(test_interactions);
    RUN(test_edits_erasure);
    RUN(test_guild_reads);
    RUN(test_unpost);
    memset(&b, 0, sizeof(b));
    b.db = db;
    snprintf(b.web_base, sizeof(b.web_base), "https://discord.com");
    snprintf(b.worker_id, sizeof(b.worker_id), "w1"); /* holds shard 0/1 */
    test_bot(&b);
    PQfinish(db);
    UNIT_DONE();
}
