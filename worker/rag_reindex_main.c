/*
 * rag-reindex — rebuild collection index files from Postgres.
 *
 *   rag-reindex [-c conf] [--dir INDEX_DIR] [--retrain] COLLECTION...
 *   rag-reindex [-c conf] --follow INDEX_DIR
 *   rag-reindex -h | --help
 *
 * The first form writes a new generation of each collection and records
 * it. The index directory comes from --dir, else index_dir in the config
 * (RAG_INDEX_DIR), else /var/lib/ngx_rag/index. --retrain trains the
 * semantic leg's model anew (semantic_leg, fasttext_* in the config)
 * even when the collection has not changed enough to need it.
 *
 * --follow runs until SIGTERM/SIGINT on an nginx machine: it keeps
 * INDEX_DIR at the generations Postgres records, rebuilding a file
 * locally whenever a new one is recorded (worker/rag_follow.h). Conf:
 * follow_poll_ms (30000), follow_retry_ms (1000), log_level.
 */
#include "conf_tables.h"
#include "rag_conf.h"
#include "rag_db.h"
#include "rag_follow.h"
#include "rag_log.h"
#include "rag_reindex.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t stop_flag;

static void
on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void
usage(FILE *f)
{
    fprintf(f, "usage: rag-reindex [-c FILE] [--dir INDEX_DIR]"
               " [--retrain] COLLECTION...\n"
               "       rag-reindex [-c FILE] --follow INDEX_DIR\n"
               "       rag-reindex -h | --help\n");
}

static int
follow(rag_conf *conf, const char *dir)
{
    struct sigaction sa;
    rag_follow_conf fc;
    rag_reindex_opts ro;

    rag_conf_apply_log_level(conf, &rag_conf_reindex_own);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop; /* no SA_RESTART: poll() returns at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    memset(&fc, 0, sizeof(fc));
    fc.conninfo = rag_conf_database(conf);
    fc.index_dir = dir;
    fc.poll_ms = rag_conf_long(conf, &rag_conf_reindex_own, "follow_poll_ms");
    fc.retry_ms = rag_conf_long(conf, &rag_conf_reindex_own, "follow_retry_ms");
    rag_reindex_opts_load(&ro, conf);
    fc.reindex = &ro;
    fc.stop = &stop_flag;
    return rag_follow_run(&fc);
}

int
main(int argc, char **argv)
{
    const char *conf_path = NULL, *dir = NULL, *follow_dir = NULL;
    char err[512];
    rag_conf *conf;
    rag_reindex_opts opts;
    PGconn *db;
    int i = 1, rc = 0, retrain = 0;

    if (argc == 2 &&
        (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    while (i + 1 < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--retrain") == 0) {
            retrain = 1;
            i++;
            continue;
        }
        if (strcmp(argv[i], "-c") == 0)
            conf_path = argv[i + 1];
        else if (strcmp(argv[i], "--dir") == 0)
            dir = argv[i + 1];
        else if (strcmp(argv[i], "--follow") == 0)
            follow_dir = argv[i + 1];
        else
            break;
        i += 2;
    }
    if (follow_dir != NULL ? i != argc || dir != NULL || retrain
                           : i >= argc || argv[i][0] == '-') {
        usage(stderr);
        return 2;
    }
    conf = rag_conf_load_program(conf_path, &rag_conf_prog_reindex, err,
                                 sizeof(err));
    if (conf == NULL) {
        fprintf(stderr, "rag-reindex: %s\n", err);
        return 1;
    }
    if (follow_dir != NULL) {
        rc = follow(conf, follow_dir);
        rag_conf_free(conf);
        return rc;
    }
    if (dir == NULL)
        dir = rag_conf_str(conf, &rag_conf_common, "index_dir");
    db = rag_db_connect(rag_conf_database(conf), "rag-reindex", err,
                        sizeof(err));
    if (db == NULL) {
        fprintf(stderr, "rag-reindex: database: %s\n", err);
        rag_conf_free(conf);
        return 1;
    }
    rag_reindex_opts_load(&opts, conf);
    opts.retrain = retrain;
    for (; i < argc; i++) {
        rag_reindex_result res;
        if (rag_reindex(db, argv[i], dir, &opts, &res, err, sizeof(err)) != 0) {
            fprintf(stderr, "rag-reindex: %s: %s\n", argv[i], err);
            rc = 1;
            continue;
        }
        printf("%s: generation %" PRIu64 ", %u chunks\n", argv[i],
               res.generation, res.count);
    }
    PQfinish(db);
    rag_conf_free(conf);
    return rc;
}
