#include "answer.h"

#include "community.h"
#include "conf_tables.h"
#include "queue_runner.h"
#include "rag_db.h"
#include "rag_json.h"
#include "rag_log.h"
#include "rag_reindex.h"
#include "rag_search.h"
#include "rag_store_collections.h"
#include "rag_store_gaps.h"
#include "rag_store_guild_config.h"
#include "rag_store_jobs.h"
#include "rag_store_messages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#define RAG_ANSWER_MAX_TURNS_LOADED 60
#define RAG_ANSWER_QUERY_BYTES 2000
#define RAG_ANSWER_MAX_EXCLUDE 200
#define RAG_GAP_QUESTION_BYTES 1000

void
rag_answer_env_load(rag_answer_env *env, rag_conf *conf)
{
    const rag_conf_section *s = &rag_conf_answer;
    rag_answer_conf *ac = &env->ac;

    ac->top_k = (size_t)rag_conf_long(conf, s, "answer_top_k");
    ac->min_score = rag_conf_num(conf, s, "answer_min_score");
    ac->min_cosine = rag_conf_num(conf, s, "answer_min_cosine");
    ac->lim.budget_tokens =
        (size_t)rag_conf_long(conf, s, "answer_token_budget");
    ac->lim.passage_tokens =
        (size_t)rag_conf_long(conf, s, "answer_passage_tokens");
    ac->lim.turn_tokens = (size_t)rag_conf_long(conf, s, "answer_turn_tokens");
    ac->lim.max_turns = (size_t)rag_conf_long(conf, s, "answer_max_turns");
    ac->extract_passages =
        (size_t)rag_conf_long(conf, s, "answer_extract_passages");
    ac->quote_bytes = (size_t)rag_conf_long(conf, s, "answer_quote_bytes");
    ac->extract_min_ratio = rag_conf_num(conf, s, "answer_extract_min_ratio");
    ac->default_collection = rag_conf_str(conf, s, "default_collection");
    ac->community_max =
        (size_t)rag_conf_long(conf, s, "answer_community_passages");
    rag_llm_conf_load(&env->llm, conf);
    rag_embed_conf_load(&env->embed, conf);
    env->index_dir = rag_conf_str(conf, &rag_conf_common, "index_dir");
}

void
rag_answer_result_init(rag_answer_result *r)
{
    memset(r, 0, sizeof(*r));
    rag_buf_init(&r->text, 256 * 1024);
}

void
rag_answer_result_free(rag_answer_result *r)
{
    for (size_t i = 0; i < r->np; i++) {
        free((char *)r->ps[i].url);
        free((char *)r->ps[i].title);
        free((char *)r->ps[i].heading);
        free((char *)r->ps[i].body);
    }
    rag_buf_free(&r->text);
    memset(r, 0, sizeof(*r));
}

static char *
str_dup(rag_str s)
{
    return strndup(s.p ? s.p : "", s.len);
}

/* The query embedding, computed at most once per retrieval and reused
 * for every index with the same dimensions. */
typedef struct {
    float *qvec;
    uint32_t dims;
    int tried;
} query_vec;

/* Searches one collection's index for k hits. 0 with *entp NULL when the
 * index does not exist (warned unless quiet); otherwise *entp is
 * referenced (the caller puts it, also after -1). */
static int
search_index(const rag_answer_env *env, const char *collection,
             const char *query, size_t k, int quiet, query_vec *qv,
             rag_ixentry **entp, rag_hit *hits, int *nhp, int *vec_used,
             char *err, size_t errlen)
{
    char path[1024];
    const rag_index *ix;
    rag_query q;
    uint32_t idims;
    int nh;

    *entp = NULL;
    *nhp = 0;
    *vec_used = 0;
    if (rag_index_path(path, sizeof(path), env->index_dir, collection) != 0) {
        snprintf(err, errlen, "invalid collection name");
        return -1;
    }
    *entp = rag_ixcache_get(env->ixc, path, err, errlen);
    if (*entp == NULL) {
        if (strncmp(err, "missing:", 8) == 0) {
            if (!quiet)
                rag_warn("msg=\"no index for collection\" collection=%s",
                         collection);
            err[0] = '\0';
            return 0; /* nothing retrievable */
        }
        return -1;
    }
    ix = rag_ixentry_index(*entp);
    idims = rag_index_dims(ix);
    if (idims > 0 && !qv->tried && rag_embed_enabled(&env->embed)) {
        char eerr[256];
        const char *texts[1] = {query};

        qv->tried = 1;
        if (rag_embed(&env->embed, texts, 1, &qv->qvec, &qv->dims, eerr,
                      sizeof(eerr)) != 0) {
            rag_warn("msg=\"query embedding failed, BM25 only\" "
                     "error=\"%s\"",
                     eerr);
            qv->qvec = NULL;
        }
    }
    memset(&q, 0, sizeof(q));
    q.text = query;
    q.text_len = strlen(query);
    if (qv->qvec != NULL && idims > 0) {
        if (qv->dims == idims)
            q.qvec = qv->qvec;
        else
            rag_warn("msg=\"query embedding size differs from the index\" "
                     "collection=%s dims=%u index_dims=%u",
                     collection, qv->dims, idims);
    }
    q.k = k < 1 ? 1 : k > RAG_SEARCH_MAX_K ? RAG_SEARCH_MAX_K : k;
    q.mode = RAG_SEARCH_HYBRID;
    /* the ranking /search shows: one passage per page while other pages
     * matched, a page's further sections after them (page recall@5 over
     * eval/sets: 0.654 in chunk order, 0.676 so, 0.665 with two a page) */
    q.per_page = 0;
    nh = rag_search(ix, &q, hits);
    if (nh < 0) {
        snprintf(err, errlen, "search failed");
        return -1;
    }
    *nhp = nh;
    *vec_used = q.qvec != NULL;
    return 0;
}

static int
excluded(const int64_t *exclude, size_t n, int64_t chunk_id)
{
    for (size_t j = 0; j < n; j++)
        if (exclude[j] == chunk_id)
            return 1;
    return 0;
}

/* 1 when the chunk links to self_url (the asking thread), with or
 * without an #anchor. */
static int
links_to(const rag_index_chunk *ch, const char *self_url)
{
    size_t n = self_url ? strlen(self_url) : 0;

    return n > 0 && ch->url.len >= n && memcmp(ch->url.p, self_url, n) == 0 &&
           (ch->url.len == n || ch->url.p[n] == '#');
}

/* Appends hit h of ix to res->ps. 1 added, 0 unreadable (skipped), -1
 * out of memory. Community passages are titled "Community answer: ..."
 * so the prompt, the extractive text and the sources all say so. */
static int
add_passage(rag_answer_result *res, const rag_index *ix, const rag_hit *h,
            int community)
{
    static const char prefix[] = "Community answer: ";
    rag_index_chunk ch;
    rag_index_buf zb = {NULL, 0, NULL};
    rag_str body;
    rag_passage *p;

    if (rag_index_chunk_get(ix, h->rec, &ch) != 0 ||
        rag_index_chunk_body(ix, h->rec, &zb, &body) != 0) {
        rag_index_buf_free(&zb);
        return 0;
    }
    p = &res->ps[res->np];
    memset(p, 0, sizeof(*p));
    p->n = (int)res->np + 1;
    p->chunk_id = ch.chunk_id;
    p->url = str_dup(ch.url);
    if (community) {
        char *t = malloc(sizeof(prefix) + ch.title.len);

        if (t != NULL)
            snprintf(t, sizeof(prefix) + ch.title.len, "%s%.*s", prefix,
                     (int)ch.title.len, ch.title.p ? ch.title.p : "");
        p->title = t;
    } else {
        p->title = str_dup(ch.title);
    }
    p->heading = str_dup(ch.heading_path);
    p->body = str_dup(body);
    p->body_len = body.len;
    rag_index_buf_free(&zb);
    p->score = h->score;
    p->bm25 = h->bm25;
    p->cosine = h->cosine;
    p->community = community;
    res->np++; /* counted now so result_free frees what was copied */
    if (community)
        res->ncomm++;
    return p->url && p->title && p->heading && p->body ? 1 : -1;
}

int
rag_answer_retrieve(const rag_answer_env *env, const char *collection,
                    const char *query, const int64_t *exclude, size_t nexclude,
                    rag_answer_result *res, char *err, size_t errlen)
{
    return rag_answer_retrieve_with(env, collection, NULL, NULL, query, exclude,
                                    nexclude, res, err, errlen);
}

int
rag_answer_retrieve_with(const rag_answer_env *env, const char *collection,
                         const char *community, const char *self_url,
                         const char *query, const int64_t *exclude,
                         size_t nexclude, rag_answer_result *res, char *err,
                         size_t errlen)
{
    rag_ixentry *de = NULL, *ce = NULL;
    const rag_index *dix = NULL, *cix = NULL;
    query_vec qv = {NULL, 0, 0};
    rag_hit *dh, *chh; /* 2 x 100 hits: heap, not the thread's stack */
    size_t k = env->ac.top_k, drank = 0, crank = 0;
    int nd = 0, nc = 0, dvec = 0, cvec = 0, di = 0, ci = 0, r, rc = -1;
    char cok[RAG_SEARCH_MAX_K];

    dh = calloc(2 * RAG_SEARCH_MAX_K, sizeof(*dh));
    if (dh == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    chh = dh + RAG_SEARCH_MAX_K;
    if (search_index(env, collection, query, k + nexclude + 5, 0, &qv, &de, dh,
                     &nd, &dvec, err, errlen) != 0)
        goto done;
    if (de != NULL)
        dix = rag_ixentry_index(de);
    if (community != NULL && *community && env->ac.community_max > 0) {
        char cerr[256];

        /* an extra beside the docs: a missing or broken community index
         * never fails the answer */
        if (search_index(env, community, query,
                         env->ac.community_max + nexclude + 5, 1, &qv, &ce, chh,
                         &nc, &cvec, cerr, sizeof(cerr)) != 0) {
            rag_warn("msg=\"community search failed, docs only\" "
                     "collection=%s error=\"%s\"",
                     community, cerr);
            nc = 0;
        }
        if (ce != NULL && nc > 0)
            cix = rag_ixentry_index(ce);
        else
            nc = 0;
    }
    res->has_vectors = dvec;
    res->comm_vectors = cvec;
    for (int i = 0; i < nd; i++) {
        if (dh[i].bm25 > res->top_bm25)
            res->top_bm25 = dh[i].bm25;
        if (dh[i].cosine > res->top_cosine)
            res->top_cosine = dh[i].cosine;
    }
    /* community hits count only when relevant on their own (an unrelated
     * thread must not ride in on rank fusion) and when they are not the
     * asking thread itself */
    for (int i = 0; i < nc; i++) {
        rag_index_chunk ch;

        cok[i] = (chh[i].bm25 >= env->ac.min_score ||
                  (cvec && chh[i].cosine >= env->ac.min_cosine)) &&
                 rag_index_chunk_get(cix, chh[i].rec, &ch) == 0 &&
                 !links_to(&ch, self_url) &&
                 !(i > 0 && excluded(exclude, nexclude, chh[i].chunk_id));
        if (!cok[i])
            continue;
        if (chh[i].bm25 > res->comm_bm25)
            res->comm_bm25 = chh[i].bm25;
        if (chh[i].cosine > res->comm_cosine)
            res->comm_cosine = chh[i].cosine;
    }
    /* Reciprocal-rank merge: BM25 scores of different indexes do not
     * compare, ranks do. The next community passage (rank crank) goes
     * before the next docs one (rank drank) only when crank < drank (a
     * tie goes to the docs); community passages stop at community_max. */
    while (res->np < k) {
        int take_comm;

        /* already cited earlier in the thread: skip unless best */
        while (di > 0 && di < nd &&
               excluded(exclude, nexclude, dh[di].chunk_id))
            di++;
        while (ci < nc && !cok[ci])
            ci++;
        if (res->ncomm >= env->ac.community_max)
            ci = nc;
        if (di >= nd && ci >= nc)
            break;
        take_comm = ci < nc && (di >= nd || crank < drank);
        r = take_comm ? add_passage(res, cix, &chh[ci++], 1)
                      : add_passage(res, dix, &dh[di++], 0);
        if (r < 0) {
            snprintf(err, errlen, "out of memory");
            goto done;
        }
        if (r > 0 && take_comm)
            crank++;
        else if (r > 0)
            drank++;
    }
    rc = 0;
done:
    free(dh);
    free(qv.qvec);
    rag_ixcache_put(env->ixc, de);
    rag_ixcache_put(env->ixc, ce);
    return rc;
}

static int
confident(const rag_answer_env *env, const rag_answer_result *res,
          double threshold)
{
    if (res->np == 0)
        return 0;
    if (res->top_bm25 >= threshold ||
        (res->has_vectors && res->top_cosine >= env->ac.min_cosine))
        return 1;
    /* a community answer alone can carry the reply */
    return res->ncomm > 0 &&
           (res->comm_bm25 >= threshold ||
            (res->comm_vectors && res->comm_cosine >= env->ac.min_cosine));
}

int
rag_answer_generate(const rag_answer_env *env, const char *product,
                    const char *title, const rag_turn *turns, size_t n,
                    double threshold, const char *role_id,
                    rag_answer_result *res, char *err, size_t errlen)
{
    rag_prompt pr;
    int rc;

    if (threshold < 0)
        threshold = env->ac.min_score;
    rag_buf_reset(&res->text);
    res->nsrc = 0;
    if (!confident(env, res, threshold)) {
        res->abstained = 1;
        res->reason = res->np == 0 ? "no_hits" : "low_score";
        return rag_answer_abstain_text(product, role_id, &res->text) == 0
                   ? RAG_LLM_OK
                   : RAG_LLM_PERMANENT;
    }
    if (!rag_llm_enabled(&env->llm)) {
        size_t k = env->ac.extract_passages;

        if (k > res->np)
            k = res->np;
        rag_passage q[RAG_ANSWER_MAX_K];
        size_t nq = 0;

        res->reason = "extractive";
        /* quote the best passage and those close to it, not weak tails */
        for (size_t i = 0; i < k; i++) {
            const rag_passage *p = &res->ps[i];
            double r = env->ac.extract_min_ratio;
            /* compared with the best of its own index: scores of the
             * docs and the community index do not compare */
            double tb = p->community ? res->comm_bm25 : res->top_bm25;
            double tc = p->community ? res->comm_cosine : res->top_cosine;

            if (i > 0 && !(tb > 0 && p->bm25 >= r * tb) &&
                !(tc > 0 && p->cosine >= (0.5 + r / 2) * tc))
                continue;
            res->src[res->nsrc++] = (int)i;
            q[nq++] = *p;
        }
        return rag_answer_extractive(product, q, nq, env->ac.quote_bytes,
                                     &res->text) == 0
                   ? RAG_LLM_OK
                   : RAG_LLM_PERMANENT;
    }
    if (rag_answer_prompt(product, title, turns, n, res->ps, res->np,
                          &env->ac.lim, &pr) != 0) {
        snprintf(err, errlen, "prompt: out of memory");
        return RAG_LLM_TRANSIENT;
    }
    res->used_llm = 1;
    rc = rag_llm_chat(&env->llm, pr.msgs, pr.n, &res->text, err, errlen);
    if (rc == RAG_LLM_OK) {
        uint32_t cited = rag_answer_citations(res->text.data, pr.passages_used);

        if (res->text.len == 0 ||
            rag_answer_says_not_covered(res->text.data, pr.passages_used)) {
            res->abstained = 1;
            res->reason = "model_not_covered";
            rag_buf_reset(&res->text);
            if (rag_answer_abstain_text(product, role_id, &res->text) != 0)
                rc = RAG_LLM_PERMANENT;
        } else {
            res->reason = "llm";
            for (size_t i = 0; i < pr.passages_used; i++)
                if (cited == 0 || (cited & (1u << i)))
                    res->src[res->nsrc++] = (int)i;
        }
    }
    rag_prompt_free(&pr);
    return rc;
}

int
rag_answer_sources_json(const rag_answer_result *res, rag_buf *out)
{
    int rc = rag_buf_putc(out, '[');

    for (size_t i = 0; i < res->nsrc; i++) {
        const rag_passage *p = &res->ps[res->src[i]];

        rc |= rag_buf_printf(out, "%s{\"n\":%d,\"url\":", i ? "," : "", p->n);
        rc |= rag_buf_json_str(out, p->url, strlen(p->url));
        rc |= rag_buf_puts(out, ",\"title\":");
        rc |= rag_buf_json_str(out, p->title, strlen(p->title));
        rc |= rag_buf_puts(out, ",\"heading\":");
        rc |= rag_buf_json_str(out, p->heading, strlen(p->heading));
        rc |=
            rag_buf_printf(out,
                           ",\"score\":%.6f,\"bm25\":%.4f,"
                           "\"cosine\":%.4f,\"chunk_id\":%lld%s}",
                           p->score, p->bm25, p->cosine, (long long)p->chunk_id,
                           p->community ? ",\"kind\":\"community\"" : "");
    }
    rc |= rag_buf_putc(out, ']');
    return rc ? -1 : 0;
}

/* --- the job ------------------------------------------------------------ */

typedef struct {
    char thread_id[128];
    char message_id[128];
} answer_payload;

/* The string at key, or NULL when absent, not a string or empty. */
static const char *
json_str(yajl_val root, const char *key, size_t max)
{
    const char *s = rag_json_str(root, key, NULL);

    return s && *s && strlen(s) < max ? s : NULL;
}

static int
parse_payload(const char *json, answer_payload *pl)
{
    char perr[128];
    yajl_val root = yajl_tree_parse(json, perr, sizeof(perr));
    const char *t, *m;
    int rc = -1;

    if (root == NULL)
        return -1;
    t = json_str(root, "thread_id", sizeof(pl->thread_id));
    m = json_str(root, "message_id", sizeof(pl->message_id));
    if (t && m) {
        snprintf(pl->thread_id, sizeof(pl->thread_id), "%s", t);
        snprintf(pl->message_id, sizeof(pl->message_id), "%s", m);
        rc = 0;
    }
    yajl_tree_free(root);
    return rc;
}

/* What answering one message needs from the database (answer_load). */
typedef struct {
    answer_payload pl;
    PGresult *q, *tr, *cr; /* the question, the turns, cited chunks */
    rag_turn turns[RAG_ANSWER_MAX_TURNS_LOADED];
    int64_t exclude[RAG_ANSWER_MAX_EXCLUDE];
    size_t nturns, nex;
    char product[512], role_id[64], created[64];
    const char *collection, *title, *content, *guild; /* into q */
    double threshold;                                 /* the guild's, or -1 */
} answer_in;

#define ANSWER_GO 100 /* answer_load: go on and answer */

/* Why the message is not answered, or NULL when it is. */
static const char *
answer_skip_reason(const PGresult *q)
{
    static const struct {
        int col;
        const char *val, *reason;
    } rules[] = {
        {RAG_QUESTION_FROM_BOT, "t", "from_bot"},
        {RAG_QUESTION_ANSWERED, "t", "already_answered"},
        {RAG_QUESTION_BANNED, "t", "banned_author"},
        {RAG_QUESTION_SOLVED, "t", "solved"},
        {RAG_QUESTION_OPEN, "f", "closed"},
    };

    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
        if (strcmp(PQgetvalue(q, 0, rules[i].col), rules[i].val) == 0)
            return rules[i].reason;
    return NULL;
}

/* The conversation (the question last) and the chunks earlier replies
 * cited. 0, or -1 on a database error. */
static int
answer_load_thread(PGconn *db, answer_in *in)
{
    in->tr = rag_store_messages_turns(db, in->pl.thread_id, in->created,
                                      in->pl.message_id,
                                      RAG_ANSWER_MAX_TURNS_LOADED);
    if (in->tr == NULL)
        return -1;
    for (int i = 0;
         i < PQntuples(in->tr) && in->nturns < RAG_ANSWER_MAX_TURNS_LOADED;
         i++) {
        in->turns[in->nturns].from_bot =
            strcmp(PQgetvalue(in->tr, i, 0), "t") == 0;
        in->turns[in->nturns].content = PQgetvalue(in->tr, i, 1);
        in->nturns++;
    }
    if (in->nturns == 0 || in->turns[in->nturns - 1].from_bot) {
        /* the question must be the last turn */
        in->turns[0].from_bot = 0;
        in->turns[0].content = in->content;
        in->nturns = 1;
    }
    in->cr = rag_store_messages_cited_chunks(db, in->pl.thread_id,
                                             RAG_ANSWER_MAX_EXCLUDE);
    if (in->cr == NULL)
        return -1;
    for (int i = 0; i < PQntuples(in->cr) && in->nex < RAG_ANSWER_MAX_EXCLUDE;
         i++)
        in->exclude[in->nex++] = strtoll(PQgetvalue(in->cr, i, 0), NULL, 10);
    return 0;
}

/* Load: the message, whether to answer it, its collection, product and
 * guild settings, the conversation. ANSWER_GO, or the job's result. */
static int
answer_load(const rag_answer_env *env, PGconn *db, const rag_job *job,
            answer_in *in, char *err, size_t errlen)
{
    const char *skip;

    if (parse_payload(job->payload, &in->pl) != 0) {
        snprintf(err, errlen,
                 "invalid payload: want {thread_id, "
                 "message_id} strings");
        return RAG_JOB_PERMANENT;
    }
    in->q =
        rag_store_messages_question(db, in->pl.thread_id, in->pl.message_id);
    if (in->q == NULL) {
        snprintf(err, errlen, "database error loading the message");
        return RAG_JOB_RETRY;
    }
    if (PQntuples(in->q) == 0) {
        snprintf(err, errlen, "message %s not found in thread %s",
                 in->pl.message_id, in->pl.thread_id);
        return RAG_JOB_RETRY; /* may not be committed yet */
    }
    if ((skip = answer_skip_reason(in->q)) != NULL) {
        rag_info("msg=\"answer skipped\" job=%lld thread=%s message=%s "
                 "reason=%s",
                 (long long)job->id, in->pl.thread_id, in->pl.message_id, skip);
        return RAG_JOB_OK;
    }
    snprintf(in->created, sizeof(in->created), "%s",
             PQgetvalue(in->q, 0, RAG_QUESTION_CREATED_AT));
    in->title = PQgetvalue(in->q, 0, RAG_QUESTION_TITLE);
    in->collection = PQgetvalue(in->q, 0, RAG_QUESTION_COLLECTION);
    in->content = PQgetvalue(in->q, 0, RAG_QUESTION_CONTENT);
    in->guild = PQgetvalue(in->q, 0, RAG_QUESTION_GUILD_ID);
    if (*in->collection == '\0' && env->ac.default_collection)
        in->collection = env->ac.default_collection;
    if (!rag_collection_name_ok(in->collection)) {
        snprintf(err, errlen, "thread %s has no (valid) collection",
                 in->pl.thread_id);
        return RAG_JOB_PERMANENT;
    }
    switch (rag_store_collections_product(db, in->collection, in->product,
                                          sizeof(in->product))) {
    case -1:
        goto dberr;
    case 0:
        snprintf(in->product, sizeof(in->product), "%s", in->collection);
        break;
    }
    in->threshold = -1;
    if (*in->guild && rag_store_guild_config_answering(
                          db, in->guild, in->role_id, sizeof(in->role_id),
                          &in->threshold) < 0)
        goto dberr;
    if (answer_load_thread(db, in) != 0)
        goto dberr;
    return ANSWER_GO;
dberr:
    snprintf(err, errlen, "database error");
    return RAG_JOB_RETRY;
}

/* Compute: retrieval (the docs, and the guild's solved threads but never
 * this one) and the answer or the abstention, with its sources' JSON.
 * ANSWER_GO, or the job's result. */
static int
answer_compute(const rag_answer_env *env, const answer_in *in,
               rag_answer_result *res, rag_buf *sources, char *err,
               size_t errlen)
{
    char community[80], self_url[320] = "";
    rag_buf query;
    int rc = RAG_JOB_RETRY, lrc;

    rag_buf_init(&query, RAG_ANSWER_QUERY_BYTES * 2);
    if (rag_answer_query(in->title, in->turns, in->nturns,
                         RAG_ANSWER_QUERY_BYTES, &query) != 0) {
        snprintf(err, errlen, "query: out of memory");
        goto done;
    }
    if (*in->guild &&
        rag_community_collection(community, sizeof(community), in->guild) == 0)
        snprintf(self_url, sizeof(self_url),
                 "https://discord.com/channels/%s/%s", in->guild,
                 in->pl.thread_id);
    else
        community[0] = '\0';
    if (rag_answer_retrieve_with(env, in->collection,
                                 *community ? community : NULL, self_url,
                                 query.data ? query.data : "", in->exclude,
                                 in->nex, res, err, errlen) != 0)
        goto done;
    lrc =
        rag_answer_generate(env, in->product, in->title, in->turns, in->nturns,
                            in->threshold, in->role_id, res, err, errlen);
    if (lrc != RAG_LLM_OK) {
        rc = lrc == RAG_LLM_PERMANENT ? RAG_JOB_PERMANENT : RAG_JOB_RETRY;
        goto done;
    }
    if (!res->abstained && rag_answer_sources_json(res, sources) != 0) {
        snprintf(err, errlen, "sources: too large");
        goto done;
    }
    rc = ANSWER_GO;
done:
    rag_buf_free(&query);
    return rc;
}

/* Commit: the reply (and, abstaining, the gap) with the job's completion,
 * together or not at all. The job's result. */
static int
answer_commit(PGconn *db, const rag_job *job, const answer_in *in,
              const rag_answer_result *res, const rag_buf *sources, char *err,
              size_t errlen)
{
    char score[32];
    rag_buf question;
    int ours, rc = RAG_JOB_RETRY;

    rag_buf_init(&question, RAG_GAP_QUESTION_BYTES * 2);
    if (rag_db_begin(db) != 0)
        goto dberr;
    if ((ours = rag_store_jobs_complete(db, job)) <= 0) {
        rag_db_rollback(db);
        if (ours < 0)
            goto dberr;
        snprintf(err, errlen, "lease lost before the reply was written");
        rc = RAG_JOB_LOST;
        goto done;
    }
    if (rag_store_messages_add_reply(
            db, in->pl.thread_id, in->pl.message_id, res->text.data,
            res->abstained ? NULL : sources->data, res->abstained) != 0)
        goto rollback;
    if (res->abstained) {
        rag_buf_append(&question, in->content,
                       rag_answer_cut(in->content, strlen(in->content),
                                      RAG_GAP_QUESTION_BYTES));
        snprintf(score, sizeof(score), "%.4f", res->top_bm25);
        if (rag_store_gaps_add_abstain(
                db, in->pl.thread_id, in->pl.message_id, in->collection,
                question.data ? question.data : "", score,
                res->np ? res->ps[0].url : "") != 0)
            goto rollback;
    }
    if (rag_db_commit(db) != 0)
        goto rollback;
    rc = RAG_JOB_COMPLETED;
    goto done;
rollback:
    rag_db_rollback(db);
dberr:
    snprintf(err, errlen, "database error");
done:
    rag_buf_free(&question);
    return rc;
}

int
rag_answer_job(void *ctx, PGconn *db, const rag_job *job, char *err,
               size_t errlen)
{
    const rag_answer_env *env = ctx;
    answer_in in;
    rag_answer_result res;
    rag_buf sources;
    int rc;

    memset(&in, 0, sizeof(in));
    rag_answer_result_init(&res);
    rag_buf_init(&sources, 1024 * 1024);
    if ((rc = answer_load(env, db, job, &in, err, errlen)) != ANSWER_GO ||
        (rc = answer_compute(env, &in, &res, &sources, err, errlen)) !=
            ANSWER_GO)
        goto done;
    rc = answer_commit(db, job, &in, &res, &sources, err, errlen);
    if (rc == RAG_JOB_COMPLETED)
        rag_info("msg=\"answered\" job=%lld thread=%s message=%s mode=%s "
                 "passages=%zu community=%zu sources=%zu top_bm25=%.3f "
                 "top_cosine=%.3f",
                 (long long)job->id, in.pl.thread_id, in.pl.message_id,
                 res.reason, res.np, res.ncomm, res.nsrc, res.top_bm25,
                 res.top_cosine);
done:
    PQclear(in.q);
    PQclear(in.tr);
    PQclear(in.cr);
    rag_buf_free(&sources);
    rag_answer_result_free(&res);
    return rc;
}
