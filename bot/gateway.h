/*
 * gateway — Discord gateway v10 (JSON) session on its own thread:
 * HELLO, jittered heartbeats with zombie detection, IDENTIFY / RESUME,
 * op 7 / op 9 handling, fatal close codes and reconnect backoff.
 *
 * Dispatches (op 0) are handed to conf->on_event as the raw payload
 * text; the callback runs on the gateway thread and must copy what it
 * keeps. The token is never logged.
 */
#ifndef RAG_BOT_GATEWAY_H
#define RAG_BOT_GATEWAY_H

#include "rag_buf.h"

#include <signal.h>
#include <stddef.h>

#define RAG_GW_INTENTS (1u | 512u | 1024u | 32768u)
#define RAG_GW_MAX_SENDS 120 /* per 60 s per connection */

typedef struct {
    const char *url; /* wss://gateway.discord.gg (query added) */
    const char *token;
    const char *ca_file; /* extra CA for tests, or NULL */
    unsigned intents;
    long backoff_ms; /* base reconnect delay; default 1000 */
    void (*on_event)(void *ud, const char *json, size_t len);
    void *ud;
    volatile sig_atomic_t *stop;
    /* sharding: IDENTIFY carries [shard_id, shard_count] when count > 1 */
    int shard_id, shard_count;
    /* called on HELLO before each IDENTIFY (not RESUME): waits for the
     * shard's identify bucket; 0 go, -1 stop. NULL: no wait. */
    int (*identify_gate)(void *gate_ud, int shard_id);
    void *gate_ud;
} rag_gw_conf;

/* Runs until *stop (returns 0) or a fatal close code: 3 for 4011
 * (sharding required: more shards needed), 2 for the others. */
int rag_gw_run(const rag_gw_conf *c);

/* --- pure parts (unit tests, fuzzing) -------------------------------- */

typedef struct {
    int op;                  /* -1 if absent */
    long long s;             /* -1 if absent or null */
    char t[64];              /* dispatch name, "" if none */
    long heartbeat_interval; /* HELLO */
    int d_true;              /* op 9: d */
    char session_id[128];    /* READY */
    char resume_url[512];    /* READY */
} rag_gw_msg;

/* Parses one gateway payload; 0, or -1 if it is not a JSON object with
 * an integer "op". */
int rag_gw_parse(const char *json, size_t len, rag_gw_msg *m);

int rag_gw_close_is_fatal(int code);      /* 4004, 4010..4014 */
int rag_gw_close_keeps_session(int code); /* not 1000/1001/4007/4009 */

/* Appends "?v=10&encoding=json" unless url already has a query. */
int rag_gw_url(rag_buf *out, const char *url);

/* shard_count > 1 adds "shard":[shard_id, shard_count]. */
int rag_gw_identify_json(rag_buf *b, const char *token, unsigned intents,
                         int shard_id, int shard_count);
int rag_gw_resume_json(rag_buf *b, const char *token, const char *session,
                       long long seq);

/* Sliding-window send limiter: 1 if a send at now_ms is allowed (and
 * records it). ring holds RAG_GW_MAX_SENDS timestamps. */
typedef struct {
    long ring[RAG_GW_MAX_SENDS];
    unsigned n, head;
} rag_gw_limiter;
int rag_gw_limiter_take(rag_gw_limiter *l, long now_ms);

#endif
