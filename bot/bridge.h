/*
 * bridge — the gateway threads' hand-over to the main thread: dispatch
 * payloads queued under a mutex (at most RAG_BRIDGE_MAX; more are
 * dropped and logged), and a pipe written a byte per batch so the main
 * thread's poll wakes at once.
 *
 * rag_bridge_push and rag_bridge_gw_done run on gateway threads; the
 * rest on the main thread. The bridge owns the queued payloads until
 * rag_bridge_drain hands each to rag_events_handle (then frees it) or
 * rag_bridge_close frees what is left.
 */
#ifndef RAG_BOT_BRIDGE_H
#define RAG_BOT_BRIDGE_H

#include "bot.h"

#include <pthread.h>
#include <signal.h>
#include <stddef.h>

#define RAG_BRIDGE_MAX 10000 /* dispatches waiting for the main thread */

typedef struct rag_bridge_ev rag_bridge_ev;

typedef struct {
    pthread_mutex_t mu;
    rag_bridge_ev *head, *tail;
    size_t n;
    int wake[2];                   /* read end polled by the main thread */
    int open;                      /* pipe and mutex ready */
    volatile sig_atomic_t gw_done; /* a shard's session ended for good */
} rag_bridge;

/* Creates the pipe and the mutex. 0, or -1 (rag_bridge_close still
 * safe). br must be zeroed first. */
int rag_bridge_open(rag_bridge *br);
/* Frees queued payloads, closes the pipe. Only once no thread pushes. */
void rag_bridge_close(rag_bridge *br);

/* rag_gw_conf.on_event: copies and queues json (ud is the bridge). */
void rag_bridge_push(void *ud, const char *json, size_t len);
/* A gateway thread's session ended for good: wake the main thread. */
void rag_bridge_gw_done(rag_bridge *br);

/* Empties the wake pipe (after poll said it is readable). */
void rag_bridge_clear_wake(rag_bridge *br);
/* Handles every queued dispatch in order; returns how many. */
int rag_bridge_drain(rag_bridge *br, rag_bot *b);

#endif
