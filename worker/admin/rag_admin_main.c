/*
 * rag-admin — operator commands against the ngx_rag database.
 *
 *   rag-admin [-c conf] migrate [--dir DIR]
 *   rag-admin [-c conf] collection-add NAME [DESCRIPTION] [--language L]
 *   rag-admin [-c conf] forum-add GUILD FORUM_CHANNEL COLLECTION
 *   rag-admin [-c conf] eval [--base COLL=URL]... FILE [--collection X]
 *                            [--min-recall5 X] [FILE ...] ...
 *   rag-admin [-c conf] export [--guild G] [--since DATE] [--out FILE]
 *   rag-admin [-c conf] community-sync [--guild G] [--index-dir DIR]
 *   rag-admin [-c conf] gaps [--json] [--days N] [--guild G]
 *   rag-admin [-c conf] doctor [--bot-conf FILE] [--health-url URL] ...
 *   rag-admin -h | --help
 */
#include "conf_tables.h"
#include "admin.h"
#include "rag_conf.h"
#include "rag_db.h"
#include "rag_log.h"
#include "rag_paths.h"
#include "rag_store_collections.h"
#include "rag_store_guild_config.h"
#include "rag_terms.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
usage(FILE *f)
{
    fprintf(
        f,
        "usage: rag-admin [-c FILE] COMMAND ...\n"
        "       rag-admin -h | --help\n"
        "  migrate [--dir DIR]           apply sql/ migrations\n"
        "  collection-add NAME [DESC] [--language L]\n"
        "                                create a docs collection (L: its\n"
        "                                Snowball stemmer, e.g. german;\n"
        "                                default: built-in English)\n"
        "  forum-add GUILD FORUM COLL    answer a forum from a collection\n"
        "  eval [--index-dir DIR] [--k 10] [--json FILE|-] [--verbose]\n"
        "       [--no-fts] [--fts-config CFG] [--base COLL=URL]...\n"
        "       FILE [--collection X] [--base URL] [--name N]\n"
        "       [--min-recall5 X] [--holdout] [FILE ...]\n"
        "                                retrieval recall@k / MRR per set,\n"
        "                                beside Postgres full-text search\n"
        "  export [--guild G] [--since DATE] [--out FILE]\n"
        "                                solved threads as JSONL chats\n"
        "  community-sync [--guild G] [--index-dir DIR] [--job JSON]\n"
        "                                solved threads -> community-<guild>\n"
        "  gaps [--json] [--days N] [--guild G] [--threshold T]\n"
        "       [--index-dir DIR]\n"
        "                                unanswered questions, clustered\n"
        "  forget-user USER_ID           erase one person's messages,\n"
        "                                votes and commands (on request)\n"
        "  doctor [--bot-conf FILE] [--health-url URL] [--worker-user U]\n"
        "       [--nginx-user U] [--index-dir DIR]\n"
        "                                check a deployment, say how to"
        " fix it\n"
        "  config [--check] [PROGRAM]    the keys PROGRAM (rag-worker, ...)\n"
        "                                reads; --check: FILE's values\n"
        "Database from database_url in FILE or RAG_DATABASE_URL,\n"
        "else libpq's PG* environment.\n");
}

/* rag-admin [-c FILE] config [--check] [PROGRAM]: the config tables, or
 * (--check) whether FILE suits PROGRAM. Needs no database. */
static int
cmd_config(const char *conf_path, int argc, char **argv)
{
    const rag_conf_program *prog = NULL;
    int check = argc > 0 && strcmp(argv[0], "--check") == 0;
    char err[512];
    rag_conf *c;

    if (argc > check + 1) {
        usage(stderr);
        return 2;
    }
    if (argc > check && (prog = rag_conf_program_find(argv[check])) == NULL) {
        fprintf(stderr, "rag-admin: config: no program %s\n", argv[check]);
        return 2;
    }
    if (!check) {
        rag_conf_print_programs(stdout, prog);
        return 0;
    }
    if (prog == NULL) {
        usage(stderr);
        return 2;
    }
    c = rag_conf_load_program(conf_path, prog, err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "rag-admin: config: %s\n", err);
        return 1;
    }
    rag_conf_free(c);
    printf("config: %s suits %s\n", conf_path ? conf_path : "environment",
           prog->name);
    return 0;
}

static int
cmd_migrate(PGconn *db, int argc, char **argv)
{
    char dirbuf[PATH_MAX], err[512];
    const char *dir = rag_sql_dir(dirbuf, sizeof(dirbuf));
    int n;

    if (argc >= 2 && strcmp(argv[0], "--dir") == 0)
        dir = argv[1];
    n = rag_db_migrate(db, dir, err, sizeof(err));
    if (n < 0) {
        fprintf(stderr, "rag-admin: migrate: %s\n", err);
        return 1;
    }
    printf("migrate: %d applied (%s)\n", n, dir);
    return 0;
}

/* collection-add NAME [DESC] [--language L]: creates the collection, or
 * updates its description; --language sets the Snowball stemmer its index
 * is built with ("default": the built-in English stemmer, what a new
 * collection gets); the next reindex uses it. */
static int
cmd_collection_add(PGconn *db, int argc, char **argv)
{
    const char *lang = NULL, *pos[2] = {NULL, NULL};
    char langs[512], id[32];
    int npos = 0;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--language") == 0 && i + 1 < argc)
            lang = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1] == '-')
            npos = 3; /* unknown option, or --language without a value */
        else if (npos < 2)
            pos[npos++] = argv[i];
        else
            npos = 3;
    }
    if (npos < 1 || npos > 2) {
        usage(stderr);
        return 2;
    }
    if (lang != NULL && strcmp(lang, "default") != 0 &&
        !rag_stem_language_ok(lang)) {
        rag_stem_languages(langs, sizeof(langs));
        fprintf(stderr,
                "rag-admin: collection-add: unknown language \"%s\""
                " (default, or one of: %s)\n",
                lang, langs);
        return 2;
    }
    if (rag_db_begin(db) != 0)
        return 1;
    if (rag_store_collections_upsert(db, pos[0], pos[1] ? pos[1] : "", NULL, id,
                                     sizeof(id)) != 0 ||
        (lang != NULL &&
         rag_store_collections_set_language(
             db, pos[0], strcmp(lang, "default") == 0 ? NULL : lang) != 0) ||
        rag_db_commit(db) != 0) {
        rag_db_rollback(db);
        return 1;
    }
    if (lang != NULL)
        printf("collection %s ready (language %s; takes effect at the next"
               " reindex)\n",
               pos[0], lang);
    else
        printf("collection %s ready\n", pos[0]);
    return 0;
}

static int
cmd_forum_add(PGconn *db, int argc, char **argv)
{
    if (argc < 3) {
        usage(stderr);
        return 2;
    }
    if (rag_store_guild_config_map_forum(db, argv[0], argv[1], argv[2]) != 0)
        return 1;
    printf("forum %s in guild %s answers from %s\n", argv[1], argv[0], argv[2]);
    return 0;
}

static int
known_command(const char *name)
{
    static const char *const cmds[] = {
        "migrate",     "collection-add", "forum-add", "eval",
        "export",      "community-sync", "gaps",      "doctor",
        "forget-user", "config"};

    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (strcmp(name, cmds[i]) == 0)
            return 1;
    return 0;
}

int
main(int argc, char **argv)
{
    const char *conf_path = NULL;
    char err[512];
    rag_conf *conf;
    PGconn *db;
    int rc, i = 1;

    if (argc > 2 && strcmp(argv[1], "-c") == 0) {
        conf_path = argv[2];
        i = 3;
    }
    if (i < argc &&
        (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    /* an unknown command is bad usage, whether or not a database answers */
    if (i >= argc || !known_command(argv[i])) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[i], "config") == 0) /* checks FILE for another program */
        return cmd_config(conf_path, argc - i - 1, argv + i + 1);
    conf = rag_conf_load_program(conf_path, &rag_conf_prog_admin, err,
                                 sizeof(err));
    if (conf == NULL) {
        fprintf(stderr, "rag-admin: %s\n", err);
        return 1;
    }
    if (strcmp(argv[i], "eval") == 0) { /* connects only for full-text */
        rc = admin_eval(conf, argc - i - 1, argv + i + 1);
        rag_conf_free(conf);
        return rc;
    }
    if (strcmp(argv[i], "forget-user") == 0) { /* checks the id first */
        rc = admin_forget_user(conf, argc - i - 1, argv + i + 1);
        rag_conf_free(conf);
        return rc;
    }
    if (strcmp(argv[i], "doctor") == 0) { /* reports an unreachable db */
        rc = admin_doctor(conf, argc - i - 1, argv + i + 1);
        rag_conf_free(conf);
        return rc;
    }
    db = rag_db_connect(rag_conf_database(conf), "rag-admin", err, sizeof(err));
    if (db == NULL) {
        fprintf(stderr, "rag-admin: database: %s\n", err);
        rag_conf_free(conf);
        return 1;
    }
    if (strcmp(argv[i], "migrate") == 0)
        rc = cmd_migrate(db, argc - i - 1, argv + i + 1);
    else if (strcmp(argv[i], "collection-add") == 0)
        rc = cmd_collection_add(db, argc - i - 1, argv + i + 1);
    else if (strcmp(argv[i], "forum-add") == 0)
        rc = cmd_forum_add(db, argc - i - 1, argv + i + 1);
    else if (strcmp(argv[i], "export") == 0)
        rc = admin_export(db, conf, argc - i - 1, argv + i + 1);
    else if (strcmp(argv[i], "gaps") == 0)
        rc = admin_gaps(db, conf, argc - i - 1, argv + i + 1);
    else if (strcmp(argv[i], "community-sync") == 0)
        rc = admin_community_sync(db, conf, argc - i - 1, argv + i + 1);
    else {
        usage(stderr); /* unreachable: known_command() */
        rc = 2;
    }
    PQfinish(db);
    rag_conf_free(conf);
    return rc;
}
