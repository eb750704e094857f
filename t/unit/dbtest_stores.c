/*
 * dbtest_stores — runs every function of the stores in lib/ (collections,
 * documents, chunks, expansions, gaps, guild_config, messages, threads,
 * interactions, stats, the jobs functions dbtest_store_jobs does not cover, and
 * rag_db's own) against the real, migrated schema and checks what each did to
 * the rows. Needs a database: t/90-stores.t starts a throwaway cluster, passes
 * its conninfo as argv[1], logs every statement, and checks that each SQL text
 * of lib/rag_store_*.c ran in this program or in dbtest_store_jobs.
 * t/unit/run.sh does not run dbtest_* programs.
 */
#include "unit.h"
#include "dbtest.h"

#include "rag_chunk.h"
#include "rag_db.h"
#include "rag_log.h"
#include "rag_store_chunks.h"
#include "rag_store_collections.h"
#include "rag_store_documents.h"
#include "rag_store_expansions.h"
#include "rag_store_gaps.h"
#include "rag_store_guild_config.h"
#include "rag_store_interactions.h"
#include "rag_store_jobs.h"
#include "rag_store_messages.h"
#include "rag_store_stats.h"
#include "rag_store_threads.h"

#include <stdlib.h>
#include <string.h>

/* Set-up statements: must work. */
static void
sql(PGconn *db, const char *q)
{
    if (rag_db_exec(db, q, 0, NULL) != 0) {
        fprintf(stderr, "setup failed: %s\n", q);
        exit(2);
    }
}

/* Column c of row i of r ("" when absent). */
static const char *
cell(const PGresult *r, int i, int c)
{
    return r && i < PQntuples(r) && c < PQnfields(r) ? PQgetvalue(r, i, c) : "";
}

static char docs_id[32];

static void
test_collections(PGconn *db)
{
    PGconn *other = connect_db();
    char id[32], id2[32], out[256], xmin[32];
    PGresult *r;
    char *src;

    CHECK_INT(rag_store_collections_upsert(db, "docs", NULL, NULL, docs_id,
                                           sizeof(docs_id)),
              0);
    CHECK(atoi(docs_id) > 0);
    CHECK_STR(val(db, "SELECT description || '|' || source::text FROM"
                      " collections WHERE name = 'docs'"),
              "|{}");
    /* again, nothing given: the row is not touched (same version), same
     * id */
    snprintf(xmin, sizeof(xmin), "%s",
             val(db, "SELECT xmin FROM collections WHERE name = 'docs'"));
    CHECK_INT(
        rag_store_collections_upsert(db, "docs", NULL, NULL, id, sizeof(id)),
        0);
    CHECK_STR(id, docs_id);
    CHECK_STR(val(db, "SELECT xmin FROM collections WHERE name = 'docs'"),
              xmin);
    /* a description: set; then the same description: not touched */
    CHECK_INT(rag_store_collections_upsert(db, "docs", "The manual", NULL, id,
                                           sizeof(id)),
              0);
    CHECK_STR(id, docs_id);
    CHECK_STR(val(db, "SELECT description FROM collections WHERE"
                      " name = 'docs'"),
              "The manual");
    snprintf(xmin, sizeof(xmin), "%s",
             val(db, "SELECT xmin FROM collections WHERE name = 'docs'"));
    CHECK_INT(rag_store_collections_upsert(db, "docs", "The manual", NULL, id,
                                           sizeof(id)),
              0);
    CHECK_STR(val(db, "SELECT xmin FROM collections WHERE name = 'docs'"),
              xmin);
    CHECK_INT(rag_store_collections_upsert(db, "c2", "Two", "{\"type\":\"x\"}",
                                           id2, sizeof(id2)),
              0);
    CHECK(strcmp(id2, docs_id) != 0);
    CHECK_INT(rag_store_collections_upsert(db, "bad name", NULL, NULL, id,
                                           sizeof(id)),
              -1); /* the table's CHECK */

    CHECK_INT(rag_store_collections_id(db, "docs", id, sizeof(id)), 1);
    CHECK_STR(id, docs_id);
    CHECK_INT(rag_store_collections_id(db, "nope", id, sizeof(id)), 0);
    CHECK_INT(rag_store_collections_product(db, "docs", out, sizeof(out)), 1);
    CHECK_STR(out, "The manual");
    sql(db, "INSERT INTO collections (name) VALUES ('nodesc')");
    CHECK_INT(rag_store_collections_product(db, "nodesc", out, sizeof(out)), 1);
    CHECK_STR(out, "nodesc");
    CHECK_INT(rag_store_collections_product(db, "nope", out, sizeof(out)), 0);

    /* locks: session lock (ingest), transaction lock (community) */
    CHECK_INT(rag_store_collections_try_lock(db, "docs"), 1);
    CHECK_INT(rag_store_collections_try_lock(other, "docs"), 0);
    rag_store_collections_unlock(db, "docs");
    CHECK_INT(rag_store_collections_try_lock(other, "docs"), 1);
    rag_store_collections_unlock(other, "docs");
    CHECK_INT(rag_db_begin(db), 0);
    CHECK_INT(rag_store_collections_xact_lock(db, "docs"), 0);
    CHECK_STR(val(other, "SELECT pg_try_advisory_xact_lock(hashtext('docs'))"),
              "f");
    CHECK_INT(rag_db_commit(db), 0);
    CHECK_STR(val(other, "SELECT pg_try_advisory_xact_lock(hashtext('docs'))"),
              "t");

    CHECK_INT(
        rag_store_collections_set_source(db, docs_id, "{\"type\":\"site\"}"),
        0);
    src = rag_store_collections_source(db, "docs");
    CHECK_STR(src ? src : "", "{\"type\": \"site\"}");
    free(src);
    CHECK_INT(rag_store_collections_set_boilerplate_sig(db, docs_id, "sig1"),
              0);
    CHECK_INT(
        rag_store_collections_boilerplate_sig(db, docs_id, out, sizeof(out)),
        0);
    CHECK_STR(out, "sig1");

    CHECK_INT(rag_store_collections_generation(db, docs_id), 0);
    CHECK_INT(rag_store_collections_generation_named(db, "docs"), 0);
    CHECK_INT(rag_store_collections_generation_named(db, "nope"), 0);
    sql(db, "UPDATE collections SET index_generation = 3 WHERE name = 'c2'");
    CHECK_INT(rag_store_collections_generation_named(db, "c2"), 3);
    r = rag_store_collections_indexed(db);
    CHECK_INT(r ? PQntuples(r) : -1, 1);
    CHECK_STR(cell(r, 0, 0), "c2");
    CHECK_STR(cell(r, 0, 1), "3");
    PQclear(r);
    r = rag_store_collections_overview(db, 2);
    CHECK_INT(r ? PQntuples(r) : -1, 2); /* of 3, by name */
    CHECK_STR(cell(r, 0, 0), "c2");
    CHECK_STR(cell(r, 1, 0), "docs");
    CHECK_STR(cell(r, 1, 2), "3"); /* max over all */
    CHECK_STR(cell(r, 1, 3), "3"); /* count over all */
    PQclear(r);
    sql(db, "INSERT INTO documents (collection_id, url, title) SELECT id,"
            " 'https://d/x', 'X' FROM collections WHERE name = 'nodesc'");
    r = rag_store_collections_index_state(db);
    CHECK_INT(r ? PQntuples(r) : -1, 3);
    CHECK_STR(cell(r, 0, 0), "c2");
    CHECK_STR(cell(r, 0, 2), "f");
    CHECK_STR(cell(r, 2, 0), "nodesc");
    CHECK_STR(cell(r, 2, 2), "t");
    PQclear(r);

    CHECK_INT(rag_store_collections_listen(other), 0);
    sql(db, "UPDATE collections SET index_generation = 4 WHERE name = 'c2'");
    {
        PGnotify *n;
        int got = 0;

        rag_db_exec(other, "SELECT 1", 0, NULL);
        PQconsumeInput(other);
        while ((n = PQnotifies(other)) != NULL) {
            got |= strcmp(n->relname, "rag_index") == 0 &&
                   strcmp(n->extra, "c2") == 0;
            PQfreemem(n);
        }
        CHECK(got);
    }
    PQfinish(other);
}

/* The index writer's reads (worker/rag_reindex.c): docs holds one
 * document of nchunks chunks, one of them with a 3-dimension embedding. */
static void
test_index_reads(PGconn *db, int nchunks)
{
    long long cid = 0, docs = atoll(docs_id);
    unsigned long long g = 99;
    char lang[64];
    int rows = 0, embedded = 0;
    PGresult *r;

    CHECK_INT(rag_store_chunks_common_dims(db, docs, 8), 3);
    CHECK_INT(rag_store_chunks_common_dims(db, docs, 2), 0); /* too large */
    CHECK_INT(rag_store_chunks_common_dims(db, 999999, 8), 0);
    sql(db, "BEGIN");
    CHECK_INT(rag_store_chunks_index_open(db, docs, 3), 0);
    for (int n = 1; n <= 100; n *= 100) { /* one row, then the rest */
        r = rag_store_chunks_index_fetch(db, n);
        CHECK(r != NULL);
        for (int i = 0; r && i < PQntuples(r); i++, rows++) {
            CHECK(strncmp(cell(r, i, 1), "https://d/a", 11) == 0);
            if (!PQgetisnull(r, i, 5)) {
                embedded++;
                CHECK_STR(cell(r, i, 5), "{1,0,0}");
            }
        }
        PQclear(r);
    }
    sql(db, "COMMIT");
    CHECK_INT(rows, nchunks);
    CHECK_INT(embedded, 1);

    sql(db, "BEGIN");
    CHECK_INT(rag_store_collections_index_row(db, "docs", 1, &cid, &g, lang,
                                              sizeof(lang)),
              1);
    CHECK_STR(lang, "");
    CHECK(cid == docs && g == 0);
    CHECK_INT(rag_store_collections_set_indexed(db, cid, 4, "/ix/docs.idx"), 0);
    sql(db, "COMMIT");
    CHECK_INT(rag_store_collections_set_language(db, "docs", "german"), 0);
    CHECK_INT(rag_store_collections_set_language(db, "nope", "german"), -1);
    CHECK_INT(rag_store_collections_index_row(db, "docs", 0, &cid, &g, lang,
                                              sizeof(lang)),
              1);
    CHECK_STR(lang, "german");
    CHECK_INT(rag_store_collections_set_language(db, "docs", NULL), 0);
    CHECK(g == 4);
    CHECK_STR(val(db, "SELECT index_path || (indexed_at IS NOT NULL)"
                      " FROM collections WHERE name = 'docs'"),
              "/ix/docs.idxtrue");
    CHECK_INT(rag_store_collections_index_row(db, "nope", 0, &cid, &g, lang,
                                              sizeof(lang)),
              0);
    sql(db, "UPDATE collections SET index_generation = 0 WHERE name = 'docs'");
}

/* Index-page terms of a page with chunks "top" and "b": stored,
 * deduplicated, resolved to chunks, replaced or added to. */
static void
test_expansions(PGconn *db)
{
    long long coll = strtoll(docs_id, NULL, 10);
    const rag_store_expansion v[] = {
        {"https://d/x", "", "alpha"},
        {"https://d/x", "b", "beta \"quoted\" back\\slash, {brace}"},
        {"https://d/x", "nope", "gamma"}, /* unknown anchor: first chunk */
        {"https://d/gone", "", "lost"},   /* page not stored: left out */
        {"https://d/x", "", "alpha"},     /* twice: stored once */
    };
    const rag_store_expansion more[] = {{"https://d/x", "", "delta"}};
    PGresult *r;
    int found_b = 0, found_a = 0;
    char q[512];

    snprintf(q, sizeof(q),
             "WITH d AS (INSERT INTO documents (collection_id, url, title)"
             " VALUES (%s, 'https://d/x', 'X') RETURNING id)"
             " INSERT INTO chunks (document_id, ordinal, anchor, body)"
             " SELECT id, o, a, 'text' FROM d,"
             " (VALUES (0, 'top'), (1, 'b')) AS v(o, a)",
             docs_id);
    sql(db, q);
    CHECK_INT(rag_store_expansions_store(db, coll, v, 5, 1), 0);
    CHECK_INT((int)rag_store_expansions_count(db, coll), 4);
    r = rag_store_expansions_by_chunk(db, coll);
    CHECK(r != NULL);
    for (int i = 0; r && i < PQntuples(r); i++) {
        const char *t = cell(r, i, 1);
        if (strcmp(t, "alpha\ngamma") == 0)
            found_a = 1;
        if (strcmp(t, "beta \"quoted\" back\\slash, {brace}") == 0)
            found_b = 1;
    }
    CHECK_INT(r ? PQntuples(r) : -1, 2);
    CHECK(found_a && found_b);
    PQclear(r);
    /* a partial crawl adds; a complete one replaces */
    CHECK_INT(rag_store_expansions_store(db, coll, more, 1, 0), 0);
    CHECK_INT((int)rag_store_expansions_count(db, coll), 5);
    CHECK_INT(rag_store_expansions_store(db, coll, more, 1, 1), 0);
    CHECK_INT((int)rag_store_expansions_count(db, coll), 1);
    CHECK_INT(rag_store_expansions_store(db, coll, NULL, 0, 1), 0);
    CHECK_INT((int)rag_store_expansions_count(db, coll), 0);
    sql(db, "DELETE FROM documents WHERE url = 'https://d/x'");
}

static void
test_documents_chunks(PGconn *db)
{
    char id[32], id2[32], hash[80], h2[80];
    rag_chunks cs = {0};
    rag_chunk_opts co;
    PGresult *r;

    r = rag_store_documents_upsert(db, docs_id, "https://d/a", "A", "# A\n\nx",
                                   "h1", "e1", "lm1", "site",
                                   "https://d/b\nhttps://d/c");
    CHECK_INT(r ? PQntuples(r) : -1, 1);
    snprintf(id, sizeof(id), "%s", cell(r, 0, 0));
    PQclear(r);
    r = rag_store_documents_list(db, docs_id);
    CHECK_INT(r ? PQntuples(r) : -1, 1);
    CHECK_STR(cell(r, 0, 0), "https://d/a");
    CHECK_STR(cell(r, 0, 2), "h1");
    CHECK_STR(cell(r, 0, 5), "e1");
    PQclear(r);
    r = rag_store_documents_out_links(db, id);
    CHECK_INT(r ? PQntuples(r) : -1, 2);
    PQclear(r);
    CHECK_INT(rag_store_documents_touch(db, id, "e2", "lm2", NULL), 0);
    CHECK_STR(val(db, "SELECT etag || array_length(out_links, 1)"
                      " FROM documents WHERE url = 'https://d/a'"),
              "e22");
    sql(db, "UPDATE documents SET fetched_at = '2001-01-01'");
    CHECK_INT(rag_store_documents_touch_fetched(db, id), 0);
    CHECK_STR(val(db, "SELECT fetched_at > '2002-01-01' FROM documents"
                      " WHERE url = 'https://d/a'"),
              "t");

    /* stale until chunked; chunks replaced keep unchanged embeddings */
    r = rag_store_documents_stale(db, docs_id, "0", 10);
    CHECK_INT(r ? PQntuples(r) : -1, 1);
    PQclear(r);
    rag_chunk_opts_default(&co);
    CHECK_INT(
        rag_chunk_markdown("# A\n\nOne.\n\n## B\n\nTwo.\n", 22, "A", &co, &cs),
        0);
    CHECK_INT(rag_store_chunks_replace(db, id, &cs), 0);
    CHECK_INT(rag_store_documents_set_chunked(db, id, "h1"), 0);
    r = rag_store_documents_stale(db, docs_id, "0", 10);
    CHECK_INT(r ? PQntuples(r) : -1, 0);
    PQclear(r);
    r = rag_store_chunks_unembedded(db, docs_id, 10);
    CHECK_INT(r ? PQntuples(r) : -1, (int)cs.n);
    CHECK_INT(
        rag_store_chunks_set_embedding(db, cell(r, 0, 0), "{1,0,0}", "m1"), 0);
    PQclear(r);
    CHECK_INT(rag_store_chunks_replace(db, id, &cs), 0);
    CHECK_STR(val(db, "SELECT count(embedding) FROM chunks c JOIN documents d"
                      " ON d.id = c.document_id WHERE d.url = 'https://d/a'"),
              "1");
    test_index_reads(db, (int)cs.n);
    test_expansions(db);
    rag_chunks_free(&cs);
    r = rag_store_documents_bodies(db, docs_id, "site", "0", 10);
    CHECK_INT(r ? PQntuples(r) : -1, 1);
    PQclear(r);
    CHECK_INT(rag_store_documents_mark_stale(db, docs_id, "site"), 0);
    r = rag_store_documents_stale(db, docs_id, "0", 10);
    CHECK_INT(r ? PQntuples(r) : -1, 1);
    PQclear(r);

    /* put_changed: new, unchanged, changed; prune what is not kept */
    CHECK_INT(rag_store_documents_put_changed(db, docs_id, "https://d/p", "P",
                                              "body", "community", id2,
                                              sizeof(id2), hash, sizeof(hash)),
              1);
    CHECK_INT((int)strlen(hash), 64);
    CHECK_INT(rag_store_documents_set_chunked(db, id2, hash), 0);
    CHECK_INT(rag_store_documents_put_changed(db, docs_id, "https://d/p", "P",
                                              "body", "community", id2,
                                              sizeof(id2), h2, sizeof(h2)),
              0);
    CHECK_INT(rag_store_documents_put_changed(db, docs_id, "https://d/p", "P2",
                                              "body", "community", id2,
                                              sizeof(id2), h2, sizeof(h2)),
              1); /* the title changed */
    CHECK_STR(h2, hash);
    CHECK_INT(rag_store_documents_put_changed(db, docs_id, "https://d/q", "Q",
                                              "b", "community", id2,
                                              sizeof(id2), h2, sizeof(h2)),
              1);
    CHECK_INT(rag_store_documents_prune(db, docs_id, "community",
                                        "{\"https://d/q\"}"),
              0);
    CHECK_STR(val(db, "SELECT string_agg(url, ',' ORDER BY url)"
                      " FROM documents WHERE collection_id = (SELECT id FROM"
                      " collections WHERE name = 'docs')"),
              "https://d/a,https://d/q");

    /* an upload batch: a URL twice (the last wins), a second run changes
     * nothing */
    r = rag_store_documents_upload(
        db, docs_id,
        "{\"documents\":[{\"url\":\"https://d/u\",\"body\":\"1\"},"
        "{\"url\":\"https://d/u\",\"body\":\"2\",\"tags\":[\"t\"]},"
        "{\"url\":\"https://d/v\",\"title\":\"V\",\"body\":\"v\","
        "\"source\":\"faq\"}]}",
        20);
    CHECK_INT(r ? PQntuples(r) : -1, 1);
    CHECK_STR(cell(r, 0, 0), "3");
    CHECK_STR(cell(r, 0, 1), "2");
    CHECK_STR(cell(r, 0, 2), "1");
    CHECK_STR(cell(r, 0, 3), "[\"https://d/u\"]");
    CHECK_INT((int)strlen(cell(r, 0, 4)), 32);
    PQclear(r);
    CHECK_STR(val(db, "SELECT body || array_to_string(tags, ',') FROM"
                      " documents WHERE url = 'https://d/u'"),
              "2t");
    CHECK_STR(val(db, "SELECT array_to_string(tags, ',') FROM"
                      " documents WHERE url = 'https://d/v'"),
              "faq");
    r = rag_store_documents_upload(
        db, docs_id,
        "{\"document\":{\"url\":\"https://d/v\",\"title\":\"V\","
        "\"body\":\"v\",\"source\":\"faq\"}}",
        20);
    CHECK_STR(cell(r, 0, 0), "1");
    CHECK_STR(cell(r, 0, 1), "0");
    PQclear(r);

    CHECK_INT(rag_store_documents_delete_url(db, docs_id, "https://d/v"), 0);
    CHECK_INT(rag_store_documents_delete(db, id), 0);
    CHECK_STR(val(db, "SELECT string_agg(url, ',' ORDER BY url)"
                      " FROM documents WHERE collection_id = (SELECT id FROM"
                      " collections WHERE name = 'docs')"),
              "https://d/q,https://d/u");
}

static void
test_guilds_threads_messages(PGconn *db)
{
    char role[64], coll[64];
    double thr = -1;
    PGresult *r;

    CHECK_INT(
        rag_store_guild_config_answering(db, "g1", role, sizeof(role), &thr),
        0);
    CHECK_INT(rag_store_guild_config_map_forum(db, "g1", "f1", "docs"), 0);
    CHECK_INT(rag_store_guild_config_map_forum(db, "g1", "f1", "c2"), 0);
    r = rag_store_guild_config_forums(db);
    CHECK_INT(r ? PQntuples(r) : -1, 1);
    CHECK_STR(cell(r, 0, 2), "c2");
    PQclear(r);
    CHECK_INT(rag_store_guild_config_map_forum(db, "g1", "f2", "nope"), -1);
    CHECK_STR(val(db, "SELECT count(*) FROM guild_forums"), "1");
    CHECK_INT(
        rag_store_guild_config_answering(db, "g1", role, sizeof(role), &thr),
        1);
    CHECK_STR(role, "");
    CHECK(thr == -1);
    sql(db, "UPDATE guild_config SET mod_role_id = 'm', helper_role_id = 'h',"
            " answer_threshold = 2.5, banned_user_ids = '{bad}'");
    CHECK_INT(
        rag_store_guild_config_answering(db, "g1", role, sizeof(role), &thr),
        1);
    CHECK_STR(role, "h");
    CHECK(thr == 2.5);

    /* a thread in forum f1 (no collection of its own), a question */
    sql(db, "INSERT INTO threads (thread_id, guild_id, forum_channel_id,"
            " title, author_id) VALUES ('t1', 'g1', 'f1', 'How?', 'u1')");
    sql(db, "INSERT INTO messages (thread_id, message_id, author_id, content,"
            " first_message, created_at) VALUES ('t1', 'm1', 'u1',"
            " 'How do I?', true, now() - interval '2 min'),"
            " ('t1', 'm2', 'bad', 'spam', false, now() - interval '1 min')");
    r = rag_store_messages_question(db, "t1", "m1");
    CHECK_INT(r ? PQntuples(r) : -1, 1);
    CHECK_STR(cell(r, 0, RAG_QUESTION_FROM_BOT), "f");
    CHECK_STR(cell(r, 0, RAG_QUESTION_TITLE), "How?");
    CHECK_STR(cell(r, 0, RAG_QUESTION_COLLECTION), "c2");
    CHECK_STR(cell(r, 0, RAG_QUESTION_OPEN), "t");
    CHECK_STR(cell(r, 0, RAG_QUESTION_SOLVED), "f");
    CHECK_STR(cell(r, 0, RAG_QUESTION_GUILD_ID), "g1");
    CHECK_STR(cell(r, 0, RAG_QUESTION_CONTENT), "How do I?");
    CHECK_STR(cell(r, 0, RAG_QUESTION_ANSWERED), "f");
    CHECK_STR(cell(r, 0, RAG_QUESTION_BANNED), "f");
    PQclear(r);
    r = rag_store_messages_question(db, "t1", "m2");
    CHECK_STR(cell(r, 0, RAG_QUESTION_BANNED), "t");
    PQclear(r);
    r = rag_store_messages_question(db, "t1", "nope");
    CHECK_INT(r ? PQntuples(r) : -1, 0);
    PQclear(r);

    /* the reply, once; its sources are cited chunks */
    CHECK_INT(rag_store_messages_add_reply(
                  db, "t1", "m1", "Like this [1].",
                  "[{\"n\":1,\"chunk_id\":42},{\"n\":2,\"chunk_id\":\"x\"}]",
                  0),
              0);
    CHECK_INT(rag_store_messages_add_reply(db, "t1", "m1", "Again", NULL, 1),
              0);
    CHECK_STR(val(db, "SELECT content || '|' || reply_to || '|' || abstained"
                      " || '|' || processed FROM messages WHERE message_id ="
                      " 'reply:m1'"),
              "Like this [1].|m1|false|false");
    r = rag_store_messages_question(db, "t1", "m1");
    CHECK_STR(cell(r, 0, RAG_QUESTION_ANSWERED), "t");
    PQclear(r);
    r = rag_store_messages_cited_chunks(db, "t1", 10);
    CHECK_INT(r ? PQntuples(r) : -1, 1);
    CHECK_STR(cell(r, 0, 0), "42");
    PQclear(r);
    sql(db, "UPDATE messages SET created_at = now() WHERE message_id ="
            " 'reply:m1'");
    sql(db, "INSERT INTO messages (thread_id, message_id, author_id, content,"
            " mentions_bot, created_at) VALUES ('t1', 'm3', 'u1', 'And then?',"
            " true, now() + interval '1 min')");
    r = rag_store_messages_turns(db, "t1",
                                 val(db, "SELECT created_at::text"
                                         " FROM messages WHERE"
                                         " message_id = 'm3'"),
                                 "m3", 3);
    CHECK_INT(r ? PQntuples(r) : -1, 3); /* the latest three, oldest first */
    CHECK_STR(cell(r, 0, 1), "spam");
    CHECK_STR(cell(r, 1, 0), "t");
    CHECK_STR(cell(r, 2, 1), "And then?");
    PQclear(r);
    r = rag_store_messages_transcript(db, "t1", 2);
    CHECK_INT(r ? PQntuples(r) : -1, 2);
    CHECK_STR(cell(r, 0, 0), "How do I?");
    PQclear(r);

    /* solved: community rows and the export */
    CHECK_STR(val(db, "SELECT count(*) FROM threads WHERE solved"), "0");
    r = rag_store_threads_guilds_with_solved(db);
    CHECK_INT(r ? PQntuples(r) : -1, 0);
    PQclear(r);
    sql(db, "UPDATE threads SET solved = true, solved_by = 'u1',"
            " solved_at = now() WHERE thread_id = 't1'");
    r = rag_store_threads_guilds_with_solved(db);
    CHECK_INT(r ? PQntuples(r) : -1, 1);
    CHECK_STR(cell(r, 0, 0), "g1");
    PQclear(r);
    r = rag_store_threads_solved_in_guild(db, "g1");
    CHECK_INT(r ? PQntuples(r) : -1, 1);
    CHECK_STR(cell(r, 0, 1), "How?");
    CHECK_STR(cell(r, 0, 2), "How do I?");
    CHECK_STR(cell(r, 0, 3), "Like this [1].");
    CHECK_STR(cell(r, 0, 4), "And then?");
    PQclear(r);
    r = rag_store_threads_to_export(db, NULL, NULL);
    CHECK_INT(r ? PQntuples(r) : -1, 1);
    CHECK_STR(cell(r, 0, 0), "t1");
    PQclear(r);
    r = rag_store_threads_to_export(db, "g2", NULL);
    CHECK_INT(r ? PQntuples(r) : -1, 0);
    PQclear(r);
    r = rag_store_threads_to_export(db, NULL, "2999-01-01");
    CHECK_INT(r ? PQntuples(r) : -1, 0);
    PQclear(r);

    /* gaps: an abstention recorded once; the report's questions */
    sql(db, "INSERT INTO threads (thread_id, guild_id, title, collection,"
            " created_at) VALUES ('t2', 'g1', 'Old one', 'docs',"
            " now() - interval '10 days')");
    sql(db, "INSERT INTO messages (thread_id, message_id, author_id, content,"
            " first_message) VALUES ('t2', 'q', 'u2', 'Where?', true)");
    CHECK_INT(rag_store_gaps_add_abstain(db, "t2", "q", "docs", "Where?",
                                         "0.5000", ""),
              0);
    CHECK_INT(rag_store_gaps_add_abstain(db, "t2", "q", "docs", "Where?",
                                         "0.5000", "https://d/x"),
              0);
    CHECK_STR(val(db, "SELECT count(*) || ' ' || coalesce(top_url, 'null')"
                      " || ' ' || top_score FROM gaps GROUP BY top_url,"
                      " top_score"),
              "1 null 0.5");
    sql(db, "INSERT INTO feedback (thread_id, user_id, vote) VALUES"
            " ('t1', 'v', 'down')");
    r = rag_store_gaps_questions(db, NULL, 7, 100);
    CHECK_INT(r ? PQntuples(r) : -1, 2);
    /* newest first: the gap row (now), then t1 (created just before) */
    CHECK_STR(cell(r, 0, 2), "abstain"); /* t2: abstain beats unsolved */
    CHECK_STR(cell(r, 0, 1), "t2");
    CHECK_STR(cell(r, 0, 4), "docs");
    CHECK_STR(cell(r, 1, 2), "downvote");
    CHECK_STR(cell(r, 1, 0), "How?\nHow do I?");
    PQclear(r);
    r = rag_store_gaps_questions(db, "g2", 7, 100);
    CHECK_INT(r ? PQntuples(r) : -1, 0);
    PQclear(r);
    r = rag_store_gaps_questions(db, NULL, 7, 1);
    CHECK_INT(r ? PQntuples(r) : -1, 1);
    PQclear(r);
    (void)coll;
}

static void
test_jobs_interactions(PGconn *db)
{
    PGconn *other = connect_db();
    char id[32], id2[32];
    int got = 0;
    PGnotify *n;

    sql(db, "DELETE FROM jobs");
    CHECK_INT(rag_store_jobs_listen(other), 0);
    CHECK_INT(rag_store_jobs_enqueue(db, "reindex", "{\"collection\":\"docs\"}",
                                     "k1", 90, id, sizeof(id)),
              0);
    CHECK_INT(rag_store_jobs_enqueue(db, "reindex", "{\"collection\":\"docs\"}",
                                     "k1", 90, id2, sizeof(id2)),
              0);
    CHECK_STR(id2, id); /* a replay */
    CHECK_INT(
        rag_store_jobs_enqueue(db, "bogus", "{}", "k2", 90, id2, sizeof(id2)),
        -1);
    rag_db_exec(other, "SELECT 1", 0, NULL);
    PQconsumeInput(other);
    while ((n = PQnotifies(other)) != NULL) {
        got |= strcmp(n->relname, "rag_jobs") == 0;
        PQfreemem(n);
    }
    CHECK(got);
    PQfinish(other);

    /* the answer job for a message that wants one, once */
    sql(db, "INSERT INTO threads (thread_id, guild_id, title) VALUES"
            " ('t9', 'g1', 'Open')");
    sql(db, "INSERT INTO messages (thread_id, message_id, author_id, content,"
            " first_message) VALUES ('t9', 'm', 'u', 'Q?', true)");
    CHECK_INT(
        rag_store_jobs_enqueue_answer(db, "t9", "m", "ev1", id, sizeof(id)), 1);
    CHECK_STR(val(db, "SELECT id FROM jobs WHERE dedupe_key ="
                      " 'answer:t9:m'"),
              id); /* the trigger's job: same key */
    CHECK_INT(
        rag_store_jobs_enqueue_answer(db, "t9", "nope", "ev1", id, sizeof(id)),
        0);
    CHECK_INT(
        rag_store_jobs_enqueue_answer(db, "t1", "m1", "ev1", id, sizeof(id)),
        0); /* solved thread */

    CHECK_INT(rag_store_interactions_queue(
                  db, "{\"id\":\"i1\",\"application_id\":\"a\",\"token\":"
                      "\"tk\",\"guild_id\":\"g1\",\"channel_id\":\"c\","
                      "\"member\":{\"user\":{\"id\":\"u\"},\"roles\":"
                      "[\"r1\",\"r2\"]},\"data\":{\"name\":\"ask\","
                      "\"options\":[]}}"),
              1);
    CHECK_INT(rag_store_interactions_queue(
                  db, "{\"id\":\"i1\",\"application_id\":\"a\",\"token\":"
                      "\"tk\",\"data\":{\"name\":\"ask\"}}"),
              0); /* replayed */
    CHECK_INT(rag_store_interactions_queue(db, "{\"id\":\"i2\"}"), 0);
    CHECK_STR(val(db, "SELECT user_id || ' ' || array_to_string(member_roles,"
                      " ',') || ' ' || command || ' ' || state FROM"
                      " interactions"),
              "u r1,r2 ask queued");
}

static void
test_stats(PGconn *db)
{
    PGresult *r;

    r = rag_store_stats_summary(db, 30, NULL);
    CHECK_INT(r ? PQntuples(r) : -1, 1);
    CHECK(strstr(cell(r, 0, 0), "\"threads\" : 3") != NULL);
    CHECK(strstr(cell(r, 0, 0), "\"queue\" :") != NULL);
    PQclear(r);
    r = rag_store_stats_summary(db, 30, "g2");
    CHECK(strstr(cell(r, 0, 0), "\"threads\" : 0") != NULL);
    PQclear(r);
    r = rag_store_stats_threads(db, 2, "g1");
    CHECK_INT(r ? PQntuples(r) : -1, 1);
    CHECK(strstr(cell(r, 0, 0), "\"thread_id\":\"t9\"") != NULL);
    CHECK(strstr(cell(r, 0, 0), "\"thread_id\":\"t2\"") == NULL);
    PQclear(r);
    r = rag_store_stats_gauges(db);
    CHECK(r != NULL && PQntuples(r) >= 4);
    for (int i = 0; r && i < PQntuples(r); i++)
        if (strcmp(cell(r, i, 0), "index") == 0 &&
            strcmp(cell(r, i, 1), "c2") == 0)
            CHECK_STR(cell(r, i, 2), "4");
    PQclear(r);
}

static void
test_db(PGconn *db)
{
    PGresult *r = rag_db_migrations_applied(db);

    CHECK(r != NULL && PQntuples(r) >= 5);
    CHECK_STR(cell(r, 0, 0), "001_init.sql");
    PQclear(r);
    CHECK_INT(rag_db_count(db,
                           "UPDATE threads SET title = title"
                           " RETURNING 1",
                           0, NULL),
              3);
    /* a failure is recorded with its SQLSTATE; logging can be off */
    rag_db_log_errors(0);
    CHECK(rag_db_query(db, "SELECT nope FROM threads", 0, NULL) == NULL);
    CHECK_STR(rag_db_last_error()->sqlstate, "42703");
    CHECK(strstr(rag_db_last_error()->message, "nope") != NULL);
    CHECK_INT(rag_db_last_error()->conn_lost, 0);
    CHECK_INT(rag_db_exec(db, "SELECT 1", 0, NULL), 0);
    CHECK_STR(rag_db_last_error()->message, "");
    rag_db_log_errors(1);
}

int
main(int argc, char **argv)
{
    PGconn *db = dbtest_start(argc, argv, "dbtest_stores");

    test_collections(db);
    test_documents_chunks(db);
    test_guilds_threads_messages(db);
    test_jobs_interactions(db);
    test_stats(db);
    test_db(db);
    PQfinish(db);
    UNIT_DONE();
}
