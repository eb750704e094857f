/*
 * answer — the 'answer' job and the retrieval + answer path it shares
 * with rag-ask.
 *
 * Retrieval: top-k hybrid search (rag_search) over the collection's
 * index file <index_dir>/<collection>.idx, with a query embedding from
 * rag_embed when an embedding endpoint is configured; for a thread in
 * guild G also over community-G.idx (solved threads, worker/community.h),
 * merged by rank with at most two community passages. Generation: the
 * LLM with a passages-only prompt, or, with no LLM configured, an
 * extractive answer (quoted passages + links). Abstains honestly when
 * retrieval confidence is low or the model says the docs do not cover
 * the question.
 *
 * The job writes its reply in the same transaction as the fenced job
 * completion, under a deterministic message id ("reply:<question id>"),
 * so redelivery never produces a second reply.
 *
 * A rag_answer_result owns copies of its passages' strings.
 */
#ifndef RAG_ANSWER_H
#define RAG_ANSWER_H

#include "answer_ixcache.h"
#include "answer_text.h"
#include "llm.h"
#include "queue.h"
#include "rag_conf.h"
#include "rag_embed.h"

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t top_k;             /* answer_top_k (5) */
    double min_score;         /* answer_min_score: top BM25 (1.0) */
    double min_cosine;        /* answer_min_cosine (0.5) */
    rag_prompt_limits lim;    /* answer_token_budget, _passage_tokens,
                                 _turn_tokens, _max_turns */
    size_t extract_passages;  /* answer_extract_passages (3) */
    size_t quote_bytes;       /* answer_quote_bytes (600) */
    double extract_min_ratio; /* answer_extract_min_ratio (0.4): quote a
                                 passage only if its BM25 is >= ratio x
                                 the best one's (or its cosine close) */
    const char *default_collection;
    size_t community_max; /* answer_community_passages (2, at most 2;
                             0 = docs only) */
} rag_answer_conf;

typedef struct {
    rag_answer_conf ac;
    rag_llm_conf llm;
    rag_embed_conf embed;
    const char *index_dir;
    rag_ixcache *ixc; /* shared between threads */
} rag_answer_env;

/* Fills env from conf (strings borrowed from conf); ixc untouched. */
void rag_answer_env_load(rag_answer_env *env, rag_conf *conf);

typedef struct {
    rag_passage ps[RAG_ANSWER_MAX_K];
    size_t np;                   /* retrieved passages, ranked */
    size_t nsrc;                 /* ps[0..nsrc) are the reply's sources */
    int src[RAG_ANSWER_MAX_K];   /* indexes into ps of the sources */
    double top_bm25, top_cosine; /* best docs hit */
    int has_vectors;
    size_t ncomm;                  /* community passages among ps */
    double comm_bm25, comm_cosine; /* best usable community hit */
    int comm_vectors;
    int abstained;
    const char *reason; /* abstain reason or mode */
    int used_llm;
    rag_buf text;
} rag_answer_result;

void rag_answer_result_init(rag_answer_result *r);
void rag_answer_result_free(rag_answer_result *r);

/* Retrieves passages for query, skipping chunk ids in exclude unless the
 * chunk is the best hit. A missing index yields no passages. 0, or -1
 * with err on an unusable index. */
int rag_answer_retrieve(const rag_answer_env *env, const char *collection,
                        const char *query, const int64_t *exclude,
                        size_t nexclude, rag_answer_result *res, char *err,
                        size_t errlen);

/* The same, plus passages from the community collection (may be NULL)
 * beside the docs: a missing community index is no hits, not an error;
 * community hits must pass min_score / min_cosine on their own, chunks
 * linking to self_url (the asking thread; may be NULL) are dropped, the
 * two ranked lists are merged by rank (reciprocal-rank style: their BM25
 * scores do not compare; ties go to the docs) and at most community_max
 * of the top_k are community passages (rag_passage.community, titled
 * "Community answer: <thread title>"). */
int rag_answer_retrieve_with(const rag_answer_env *env, const char *collection,
                             const char *community, const char *self_url,
                             const char *query, const int64_t *exclude,
                             size_t nexclude, rag_answer_result *res, char *err,
                             size_t errlen);

/* Writes the reply into res->text. threshold < 0: env's min_score.
 * Returns RAG_LLM_OK, or RAG_LLM_TRANSIENT / RAG_LLM_PERMANENT. */
int rag_answer_generate(const rag_answer_env *env, const char *product,
                        const char *title, const rag_turn *turns, size_t n,
                        double threshold, const char *role_id,
                        rag_answer_result *res, char *err, size_t errlen);

/* [{n,url,title,heading,score,bm25,cosine,chunk_id}] of the sources;
 * community passages also carry "kind":"community". */
int rag_answer_sources_json(const rag_answer_result *res, rag_buf *out);

/* rag_job_handler for kind 'answer'; ctx is a rag_answer_env. */
int rag_answer_job(void *ctx, PGconn *db, const rag_job *job, char *err,
                   size_t errlen);

#endif
