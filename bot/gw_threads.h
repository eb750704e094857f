/*
 * gw_threads — one thread per gateway shard (gateway.h), started from a
 * template that holds everything but the shard id, and the IDENTIFY
 * gate they share with every other rag-bot process through Postgres
 * (rag_store_shards.h): one IDENTIFY per bucket (shard_id %
 * max_concurrency) per 5 s.
 *
 * Threads are started, stopped and joined by the main thread; each has
 * a stop flag of its own (a shard handed back stops alone), hands its
 * dispatches to the bridge and marks it when its session ends for good
 * by itself (a fatal close). The template's strings are borrowed (they
 * must outlive the threads).
 */
#ifndef RAG_BOT_GW_THREADS_H
#define RAG_BOT_GW_THREADS_H

#include "bridge.h"
#include "gateway.h"

#include <pthread.h>
#include <signal.h>

/* The IDENTIFY gate: each waiting thread uses a connection of its own. */
typedef struct {
    const char *conninfo;
    int max_concurrency;
    volatile sig_atomic_t *stop;
} rag_identify_gate;

typedef struct {
    rag_bridge *br;
    rag_gw_conf gw;
    pthread_t th;
    int started, joined, result; /* result: rag_gw_run's */
    volatile sig_atomic_t stop;  /* this shard only: handed back, or exit */
} rag_gw_thread;

/* rag_gw_conf.identify_gate (gate_ud: a rag_identify_gate): waits for
 * the shard's bucket. 0 go, -1 stopped. */
int rag_identify_wait(void *ud, int shard_id);

/* Starts shard's thread in t, a copy of tpl but for the shard id; the
 * thread does not take SIGTERM/SIGINT (they interrupt the main thread's
 * poll). 0 or -1. */
int rag_gw_thread_start(rag_gw_thread *t, const rag_gw_thread *tpl, int shard);

/* Stops and joins the threads of t[0..n) running shard (every one with
 * shard < 0). */
void rag_gw_threads_stop(rag_gw_thread *t, int n, int shard);

/* Stops and joins all n threads of t. Returns 2 when Discord refused a
 * session (fatal close code), 3 when it asked for more shards (4011),
 * else 0. */
int rag_gw_threads_join(rag_gw_thread *t, int n);

#endif
