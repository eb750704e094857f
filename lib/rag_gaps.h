/*
 * rag_gaps — the gap report: questions the bot could not close, clustered
 * by similarity, with the closest documentation pages. Shared by
 * `rag-admin gaps` and the dashboard's /api/gaps (same SQL, same
 * clustering, same JSON).
 *
 * Questions come from three places (one per thread, first reason wins):
 *   abstain   — gaps rows (the answerer abstained; also any other reason
 *               the worker recorded there),
 *   downvote  — threads voted down on balance (failed_votes >
 *               solved_votes, or more 'down' than 'up' feedback rows),
 *   unsolved  — threads still open and unsolved after `days` days.
 *
 * Clustering: each question becomes the set of its rag_terms terms
 * (hashed); two questions are linked when the Jaccard similarity of their
 * sets is >= threshold, and clusters are the connected components
 * (greedy single-link, union-find in input order: deterministic).
 * Closest pages: BM25 top hits for a cluster's combined text over its
 * collection's index file (collections.index_path).
 *
 * Ownership: rag_gaps_cluster's result arrays are the caller's;
 * rag_gaps_report_json appends to the caller's buffer. Thread-safe (no
 * globals): the module calls it from pool threads.
 */
#ifndef RAG_GAPS_H
#define RAG_GAPS_H

#include "rag_buf.h"

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#define RAG_GAPS_MAX_QUESTIONS 2000 /* newest first; O(n^2) clustering */
#define RAG_GAPS_DEFAULT_THRESHOLD 0.25
#define RAG_GAPS_DEFAULT_DAYS 7

/* A question's term set: sorted unique 64-bit hashes of its terms. */
typedef struct {
    uint64_t *h;
    size_t n;
} rag_termset;

/* 0, or -1 when out of memory. At most 512 terms are kept. */
int rag_termset_build(const char *text, size_t len, rag_termset *out);
void rag_termset_free(rag_termset *s);
/* |a ∩ b| / |a ∪ b|; 0 when both are empty. */
double rag_termset_jaccard(const rag_termset *a, const rag_termset *b);

/* Clusters n texts: cluster_of[i] gets a cluster number 0..k-1, numbered
 * in order of each cluster's first member. Returns k, or -1 when out of
 * memory. */
int rag_gaps_cluster(const char *const *texts, size_t n, double threshold,
                     int *cluster_of);

typedef struct {
    int days;              /* unsolved after this many days; <= 0: 7 */
    const char *guild;     /* NULL: all guilds */
    double threshold;      /* <= 0: default */
    const char *index_dir; /* fallback when index_path is unset; may be NULL */
    size_t max_examples;   /* per cluster; 0: 5 */
    size_t max_pages;      /* per cluster; 0: 3 */
} rag_gaps_opts;

/* Runs the queries, clusters, and appends the report as JSON:
 * {"days":N,"threshold":T,"questions":M,"clusters":[{"id":1,"count":3,
 *   "reasons":{"abstain":2,...},"collection":"docs","examples":[{
 *   "question":...,"thread_id":...,"reason":...,"created_at":...}],
 *   "pages":[{"url":...,"title":...,"score":...}]}]}
 * Clusters are ordered by count (desc), then first appearance. 0, or -1
 * with err. */
int rag_gaps_report_json(PGconn *db, const rag_gaps_opts *o, rag_buf *out,
                         char *err, size_t errlen);

#endif
