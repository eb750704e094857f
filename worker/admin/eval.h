/*
 * eval — pure parts of retrieval evaluation (rag-admin eval): reading
 * question -> expected-URL pairs, matching a hit's URL against them, and
 * accumulating recall@k and MRR.
 *
 * A question counts as recalled at k when any of its expected URLs is the
 * page of one of the first k hits (chunks, as the answerer sees them).
 * MRR uses the rank of the first matching hit within the hits searched
 * (0 when none matches). URLs are compared normalised (eval_url_norm):
 * the hit's "#fragment" is ignored unless the expected URL has one, and
 * "dir/", "dir" and "dir/index.html" are one page.
 *
 * Ownership: an eval_set owns all its strings (eval_set_free).
 */
#ifndef EVAL_H
#define EVAL_H

#include <stddef.h>
#include <sys/types.h>

#define EVAL_MAX_LINE 65536 /* bytes per input line */
#define EVAL_MAX_URL 4096   /* bytes per URL compared */
#define EVAL_MAX_ITEMS 10000
#define EVAL_MAX_URLS 16 /* expected URLs per question */

typedef struct {
    char *q;
    char *collection; /* "collection" of a mixed-corpus set, or NULL */
    char *urls[EVAL_MAX_URLS];
    size_t nurls;
} eval_item;

typedef struct {
    eval_item *v;
    size_t n, cap;
} eval_set;

/* Writes u[0..len) normalised into out (NUL-terminated): scheme and host
 * lowercased, a default port (:80, :443) dropped, a final "index.html"
 * (or "index.htm") path segment and trailing '/' dropped, the "#fragment"
 * dropped unless keep_fragment. Returns its length, or -1 when it does
 * not fit in outlen. */
ssize_t eval_url_norm(const char *u, size_t len, int keep_fragment, char *out,
                      size_t outlen);

/* 1 when hit (url[0..len), may carry "#frag") is the page expected names,
 * both normalised with eval_url_norm; the fragment counts only when
 * expected has one. When base is non-empty, an expected URL without
 * "scheme://" is taken relative to base (base + expected, one '/' between
 * them; leading '/' and "./" of expected dropped). */
int eval_url_match(const char *hit, size_t len, const char *expected,
                   const char *base);

/* Parses one line: JSON {"q":"...","urls":["...",...]} (also "question"
 * and "url"; optional "collection":"name"), or TSV
 * "question<TAB>url[<TAB>url...]". Blank lines and lines starting with
 * '#' give 0 without touching it. 1 on success, -1 with err on a
 * malformed line. */
int eval_parse_line(const char *line, size_t len, eval_item *it, char *err,
                    size_t errlen);
void eval_item_free(eval_item *it);

/* Reads a whole file; 0, or -1 with err (names the line). */
int eval_set_load(const char *path, eval_set *s, char *err, size_t errlen);
void eval_set_free(eval_set *s);

typedef struct {
    size_t n; /* questions scored */
    size_t at1, at5, at10;
    double rr_sum;
} eval_score;

/* Scores one question given the 1-based rank of its first matching hit
 * (0 = none). */
void eval_score_add(eval_score *s, int first_rank);

/* First rank (1-based) at which any of it->urls matches urls[i], 0 if
 * none; urls are the hit URLs best first. */
int eval_first_rank(const eval_item *it, const char *const *urls,
                    const size_t *lens, size_t n, const char *base);

#endif
