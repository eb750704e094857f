/*
 * rag-admin community-sync [--guild G] [--index-dir DIR] [--job JSON] —
 * solved threads into community-<guild> collections (community.h).
 * --job runs the worker's job entry with that payload (replaying a job).
 */
#include "admin.h"
#include "community.h"

#include <stdio.h>
#include <string.h>

int
admin_community_sync(PGconn *db, rag_conf *conf, int argc, char **argv)
{
    const char *guild = NULL, *dir = NULL, *job = NULL;
    char err[512];
    rag_embed_conf ec;
    rag_reindex_opts ro;
    int a, n;

    for (a = 0; a + 1 < argc; a += 2) {
        if (strcmp(argv[a], "--guild") == 0)
            guild = argv[a + 1];
        else if (strcmp(argv[a], "--index-dir") == 0)
            dir = argv[a + 1];
        else if (strcmp(argv[a], "--job") == 0)
            job = argv[a + 1];
        else
            break;
    }
    if (a != argc) {
        fprintf(stderr, "usage: rag-admin community-sync [--guild G]"
                        " [--index-dir DIR] [--job JSON]\n");
        return 2;
    }
    if (dir == NULL)
        dir = admin_index_dir(conf);
    rag_embed_conf_load(&ec, conf);
    rag_reindex_opts_load(&ro, conf);
    if (job != NULL) {
        if (rag_community_job(db, job, dir, &ec, &ro, err, sizeof(err)) != 0) {
            fprintf(stderr, "rag-admin community-sync: %s\n", err);
            return 1;
        }
        printf("community-sync: job done\n");
        return 0;
    }
    n = rag_community_sync_embed(db, guild, dir, &ec, &ro, err, sizeof(err));
    if (n < 0) {
        fprintf(stderr, "rag-admin community-sync: %s\n", err);
        return 1;
    }
    printf("community-sync: %d solved threads\n", n);
    return 0;
}
