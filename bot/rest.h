/*
 * rest — Discord REST v10 client: asynchronous, with rate-limit buckets.
 *
 * Requests are queued per route (rag_rl_route_key: method + path with
 * the major ids literal) and run on lib/rag_http's non-blocking multi
 * interface, driven by the bot's one poll loop (rag_rest_wait). A route
 * runs one request at a time, in order; routes run side by side, so a
 * bucket waiting out a 429 never delays another route, a gateway event
 * or the database. Before a request starts it waits (on a timer, never
 * sleeping) for the global limit (50/s, or an X-RateLimit-Global 429;
 * interaction callbacks are outside it) and its route's bucket, learned
 * from X-RateLimit-Bucket/Remaining/Reset-After. A 429 is retried after
 * retry_after; 5xx and transport errors a few times with backoff, then
 * reported; 401/403/429 are counted per 10 minutes and requests stop
 * well before Discord's 10,000 ban threshold; after a 401 (token
 * refused) nothing more is sent. Discord's JSON error bodies are logged.
 *
 * The rag_rest owns copies of base url and token; the token goes only
 * into the Authorization header, never into logs. One thread.
 */
#ifndef RAG_BOT_REST_H
#define RAG_BOT_REST_H

#include "rag_buf.h"

#include <stddef.h>

struct pollfd;

#define RAG_REST_MAX_BODY (2u << 20)
#define RAG_RL_ROUTES 128
#define RAG_RL_INVALID_WIN 600000L /* 10 min */
#define RAG_RL_INVALID_SOFT 5000   /* start slowing down */
#define RAG_RL_INVALID_HARD 9000   /* refuse until the window drains */

/* --- rate-limit state (pure, time passed in; unit-tested) ------------ */

typedef struct {
    char route[96];  /* route key */
    char bucket[64]; /* X-RateLimit-Bucket, "" until learned */
    int remaining;   /* -1 unknown */
    long reset_at;   /* ms, when remaining refills */
    long used_at;    /* LRU */
} rag_rl_route;

typedef struct {
    rag_rl_route routes[RAG_RL_ROUTES];
    long global_until; /* ms; a global 429 blocks all */
    long recent[50];   /* last 50 request times (50/s) */
    unsigned recent_head;
    long inv_slot[60];  /* 10 s slot numbers ... */
    long inv_count[60]; /* ... and their invalid-request counts */
} rag_rl;

/* "POST /channels/123/messages/456/reactions/x/@me" ->
 * "POST /channels/123/messages/:id/reactions". Major ids (channels,
 * guilds, webhooks + token) stay literal. */
void rag_rl_route_key(const char *method, const char *path, char *out,
                      size_t outlen);
/* ms to wait before a request on route may go (0 = now): the global
 * limits and the route's bucket. */
long rag_rl_wait(rag_rl *rl, const char *route, long now);
/* The route's bucket alone (interaction callbacks are outside the global
 * limit). */
long rag_rl_wait_route(rag_rl *rl, const char *route, long now);
/* Records that a request went out at now. */
void rag_rl_sent(rag_rl *rl, long now);
/* Learns from response headers (any may be NULL). */
void rag_rl_update(rag_rl *rl, const char *route, const char *bucket,
                   const char *remaining, const char *reset_after, long now);
/* Records a 429's retry_after (ms) for the route, or globally. */
void rag_rl_limited(rag_rl *rl, const char *route, long retry_ms, int global,
                    long now);
/* Counts a 401/403/429 (not shared-scope 429s); returns the total in
 * the last 10 minutes. */
long rag_rl_invalid(rag_rl *rl, long now, int count_it);
/* "retry_after": 1.5 in a JSON body -> 1500 ms; -1 if absent. */
long rag_rl_parse_retry_after(const char *body);

/* --- client ---------------------------------------------------------- */

typedef struct rag_rest rag_rest;

/* What a request came to; valid during the callback only. */
typedef struct {
    long status;      /* HTTP status; 0 when there was no response */
    int code;         /* Discord's JSON error "code", 0 if none */
    const char *body; /* response body, NUL-terminated ("" if none) */
    size_t body_len;
    const char *error; /* status 0: why; 4xx/5xx: Discord's "message" */
    int cancelled;     /* the client is shutting down: free, touch nothing */
} rag_rest_result;

typedef void (*rag_rest_done)(void *ud, const rag_rest_result *res);

rag_rest *rag_rest_new(const char *base_url, const char *token,
                       const char *ca_file);
/* Ends everything: callbacks of unfinished requests run with
 * cancelled = 1. */
void rag_rest_free(rag_rest *r);

/* Queues method + path ("/channels/1/messages") with a JSON body or
 * NULL; path and body are copied. done(ud, ...) runs exactly once, from
 * rag_rest_wait (never from here). 0, or -1 when it could not be queued
 * (done will not run). done may be NULL (nothing to learn). */
int rag_rest_submit(rag_rest *r, const char *method, const char *path,
                    const char *json, rag_rest_done done, void *ud);

/* One turn of the poll loop: starts what the limits allow, waits up to
 * timeout_ms (less when a queued request becomes due) for the network
 * or the caller's fds (revents filled; at most RAG_HTTP_WAIT_FDS), and
 * runs the callbacks of requests that ended. -1 on a polling error. */
int rag_rest_wait(rag_rest *r, struct pollfd *fds, unsigned nfds,
                  long timeout_ms);

/* Blocking form, for start-up before the loop runs: 0 when a response
 * arrived (check resp->status), -1 when none could be had. resp->body
 * must be freed either way. */
typedef struct {
    long status;
    int code;
    rag_buf body;
} rag_rest_resp;
int rag_rest_call(rag_rest *r, const char *method, const char *path,
                  const char *json, rag_rest_resp *resp);

/* "Unknown Channel (10003)": a short name for a Discord error, for
 * logs and for why a delivery failed. Writes into out. */
const char *rag_rest_describe(long status, int code, const char *message,
                              char *out, size_t outlen);

#endif
