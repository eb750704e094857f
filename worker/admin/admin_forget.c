/*
 * rag-admin forget-user USER_ID — erases one person's data on request
 * (Discord's developer policy; sql/034_bot_erasure.sql): their messages
 * and everything derived from them, their votes, the commands they ran,
 * and their id on threads. Prints what it erased; the community indexes
 * holding any of it are rebuilt by the worker's next community jobs.
 *
 * Exit: 0 done, 1 database error, 2 usage (not a snowflake).
 */
#include "admin.h"
#include "rag_db.h"
#include "rag_store_messages.h"

#include <stdio.h>

int
admin_forget_user(rag_conf *conf, int argc, char **argv)
{
    rag_forget_counts c;
    char err[512];
    PGconn *db;
    int rc;

    if (argc != 1 || !rag_store_is_snowflake(argv[0])) {
        fprintf(stderr, "usage: rag-admin forget-user USER_ID "
                        "(a Discord user id: digits)\n");
        return 2;
    }
    db = rag_db_connect(rag_conf_database(conf), "rag-admin", err, sizeof(err));
    if (db == NULL) {
        fprintf(stderr, "rag-admin: database: %s\n", err);
        return 1;
    }
    rc = rag_store_messages_forget_user(db, argv[0], &c);
    PQfinish(db);
    if (rc != 0) {
        fprintf(stderr, "rag-admin: forget-user failed (nothing erased)\n");
        return 1;
    }
    printf("forgot user %s: messages=%ld threads=%ld votes=%ld commands=%ld\n",
           argv[0], c.messages, c.threads, c.votes, c.commands);
    return 0;
}
