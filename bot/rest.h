/*
 * rest — Discord REST v10 client with rate-limit buckets.
 *
 * Blocking (libcurl easy, one reused handle); runs on the bot's main
 * thread while the gateway has its own. Before each request it waits
 * for the global limit (50/s, or an X-RateLimit-Global 429) and the
 * route's bucket; after it learns X-RateLimit-Bucket/Remaining/
 * Reset-After. 429 waits retry_after then retries; 5xx and transport
 * errors retry with backoff; 401/403/429 are counted per 10 minutes and
 * requests stop well before Discord's 10,000 ban threshold.
 *
 * The rag_rest owns copies of base url and token; the token goes only
 * into the Authorization header, never into logs.
 */
#ifndef RAG_BOT_REST_H
#define RAG_BOT_REST_H

#include "rag_buf.h"

#include <stddef.h>

#define RAG_REST_MAX_BODY (2u << 20)
#define RAG_RL_ROUTES 128
#define RAG_RL_INVALID_WIN 600000L /* 10 min */
#define RAG_RL_INVALID_SOFT 5000   /* start slowing down */
#define RAG_RL_INVALID_HARD 9000   /* refuse until the window drains */

typedef struct {
    long status;  /* HTTP status, 0 on transport failure */
    int code;     /* Discord JSON error "code", 0 if none */
    rag_buf body; /* response body (caller rag_buf_free) */
} rag_rest_resp;

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
/* ms to wait before a request on route may go (0 = now). */
long rag_rl_wait(rag_rl *rl, const char *route, long now);
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

rag_rest *rag_rest_new(const char *base_url, const char *token,
                       const char *ca_file);
void rag_rest_free(rag_rest *r);

/* method + path ("/channels/1/messages"); json body or NULL. Returns 0
 * when a final response arrived (check resp->status), -1 when it could
 * not be obtained (transport errors, retries exhausted, invalid-request
 * budget). resp->body must be freed either way. */
int rag_rest_call(rag_rest *r, const char *method, const char *path,
                  const char *json, rag_rest_resp *resp);

#endif
