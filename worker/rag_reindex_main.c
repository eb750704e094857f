/*
 * rag-reindex — rebuild collection index files from Postgres.
 *
 *   rag-reindex [-c conf] [--dir INDEX_DIR] COLLECTION...
 *
 * The index directory comes from --dir, else index_dir in the config
 * (RAG_INDEX_DIR), else /var/lib/ngx_rag/index.
 */
#include "rag_conf.h"
#include "rag_db.h"
#include "rag_log.h"
#include "rag_reindex.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void
usage(void)
{
    fprintf(stderr, "usage: rag-reindex [-c FILE] [--dir INDEX_DIR]"
                    " COLLECTION...\n");
}

int
main(int argc, char **argv)
{
    const char *conf_path = NULL, *dir = NULL;
    char err[512];
    rag_conf *conf;
    PGconn *db;
    int i = 1, rc = 0;

    while (i + 1 < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "-c") == 0)
            conf_path = argv[i + 1];
        else if (strcmp(argv[i], "--dir") == 0)
            dir = argv[i + 1];
        else
            break;
        i += 2;
    }
    if (i >= argc || argv[i][0] == '-') {
        usage();
        return 2;
    }
    conf = rag_conf_load(conf_path, err, sizeof(err));
    if (conf == NULL) {
        fprintf(stderr, "rag-reindex: %s\n", err);
        return 1;
    }
    if (dir == NULL)
        dir = rag_conf_get(conf, "index_dir", "/var/lib/ngx_rag/index");
    db = rag_db_connect(rag_conf_database(conf), "rag-reindex", err,
                        sizeof(err));
    if (db == NULL) {
        fprintf(stderr, "rag-reindex: database: %s\n", err);
        rag_conf_free(conf);
        return 1;
    }
    for (; i < argc; i++) {
        uint64_t gen;
        uint32_t n;
        if (rag_reindex_collection2(db, argv[i], dir, &gen, &n, err,
                                    sizeof(err)) != 0) {
            fprintf(stderr, "rag-reindex: %s: %s\n", argv[i], err);
            rc = 1;
            continue;
        }
        printf("%s: generation %" PRIu64 ", %u chunks\n", argv[i], gen, n);
    }
    PQfinish(db);
    rag_conf_free(conf);
    return rc;
}
