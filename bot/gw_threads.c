/*
 * gw_threads — the gateway shards' threads and their IDENTIFY gate (see
 * gw_threads.h).
 */
#include "gw_threads.h"

#include "rag_db.h"
#include "rag_log.h"
#include "rag_store_shards.h"
#include "rag_time.h"

#include <stdio.h>

static void *
gateway_thread(void *arg)
{
    rag_gw_thread *t = arg;

    t->result = rag_gw_run(&t->gw);
    if (!t->stop)
        rag_bridge_gw_done(t->br); /* ended by itself: a fatal close */
    return NULL;
}

int
rag_identify_wait(void *ud, int shard_id)
{
    rag_identify_gate *g = ud;
    char bucket[48], err[256];
    PGconn *db = NULL;
    int rc = -1, logged = 0;

    snprintf(bucket, sizeof(bucket), "%d:%d", g->max_concurrency,
             shard_id % g->max_concurrency);
    while (!*g->stop) {
        if (db == NULL)
            db = rag_db_connect(g->conninfo, "rag-bot-identify", err,
                                sizeof(err));
        rc = db ? rag_store_shards_identify_slot(db, bucket) : -1;
        if (rc == 1)
            break;
        if (rc < 0 && db) {
            PQfinish(db);
            db = NULL;
        }
        if (!logged++)
            rag_info("msg=\"waiting for the identify bucket\" shard=%d "
                     "bucket=%s",
                     shard_id, bucket);
        rag_time_sleep_until_stop(rc < 0 ? 1000 : 200, g->stop);
    }
    if (db)
        PQfinish(db);
    return rc == 1 ? 0 : -1;
}

int
rag_gw_thread_start(rag_gw_thread *t, const rag_gw_thread *tpl, int shard)
{
    sigset_t block, old;
    int prc;

    *t = *tpl;
    t->started = t->joined = 0;
    t->stop = 0;
    t->gw.shard_id = shard;
    t->gw.stop = &t->stop;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    prc = pthread_create(&t->th, NULL, gateway_thread, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc != 0)
        return -1;
    t->started = 1;
    return 0;
}

void
rag_gw_threads_stop(rag_gw_thread *t, int n, int shard)
{
    int i;

    for (i = 0; i < n; i++)
        if (t[i].started && !t[i].joined &&
            (shard < 0 || t[i].gw.shard_id == shard))
            t[i].stop = 1;
    for (i = 0; i < n; i++)
        if (t[i].started && !t[i].joined && t[i].stop) {
            pthread_join(t[i].th, NULL);
            t[i].joined = 1;
        }
}

int
rag_gw_threads_join(rag_gw_thread *t, int n)
{
    int i, fatal = 0, reshard = 0;

    rag_gw_threads_stop(t, n, -1);
    for (i = 0; i < n; i++) {
        if (!t[i].started)
            continue;
        if (t[i].result == 2)
            fatal = 1;
        else if (t[i].result == 3)
            reshard = 1;
    }
    return fatal ? 2 : reshard ? 3 : 0;
}
