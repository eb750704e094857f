/*
 * queue — the rag-worker's retry policy over the Postgres job queue.
 * The jobs themselves (claim, fence, heartbeat, rescue: every statement
 * on the `jobs` table) live in lib/rag_store_jobs.h.
 *
 * Delivery is at-least-once; the answer job makes its effect exactly-once
 * by writing its reply in the same transaction as the fenced completion
 * (rag_store_jobs_complete inside its own transaction).
 */
#ifndef RAG_QUEUE_H
#define RAG_QUEUE_H

#include "rag_store_jobs.h"

/* Retry delay in seconds after `attempts` failed attempts:
 * min(cap, base * attempts^4) scaled by 0.9 + 0.2 * jitter01 (±10%).
 * Pure; jitter01 in [0, 1). */
double rag_queue_backoff(int attempts, double base_s, double cap_s,
                         double jitter01);

#endif
