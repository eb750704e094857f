/*
 * outbox — reply delivery (see outbox.h).
 */
#include "outbox.h"
#include "embed.h"

#include "rag_db.h"
#include "rag_log.h"
#include "rag_store_outbox.h"
#include "rag_store_threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 10
#define MAX_INFLIGHT 50 /* replies being delivered at once */

void
rag_outbox_classify(long status, int code, rag_outbox_verdict *v)
{
    static const struct {
        int code, gone;
        const char *failure;
    } codes[] = {
        {10003, 1, "unknown_channel"}, {50001, 1, "missing_access"},
        {10008, 0, "unknown_message"}, {50013, 0, "missing_permissions"},
        {50083, 0, "archived_thread"}, {160005, 0, "thread_locked"},
        {10014, 0, "unknown_emoji"},   {50006, 0, "invalid_request"},
        {50035, 0, "invalid_request"},
    };
    size_t i;

    memset(v, 0, sizeof(*v));
    if (status == 0) {
        v->failure = "no_response";
        return;
    }
    if (status >= 500) {
        v->failure = "server_error";
        return;
    }
    if (status == 429) {
        v->failure = "rate_limited";
        return;
    }
    if (status == 401) {
        v->failure = "unauthorized"; /* the token: not this delivery's */
        return;
    }
    v->permanent = status >= 400;
    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (codes[i].code == code) {
            v->channel_gone = codes[i].gone;
            v->failure = codes[i].failure;
            return;
        }
    v->failure = status == 404   ? "not_found"
                 : status == 403 ? "forbidden"
                 : status == 400 ? "invalid_request"
                                 : "rejected";
}

int
rag_outbox_permanent(long status, int code)
{
    rag_outbox_verdict v;

    rag_outbox_classify(status, code, &v);
    return v.permanent;
}

void
rag_outbox_failed_request(rag_bot *b, const char *thread_id, const char *what,
                          const rag_rest_result *res, rag_outbox_verdict *v,
                          char *why, size_t whylen)
{
    char desc[160];

    rag_outbox_classify(res->status, res->code, v);
    rag_rest_describe(res->status, res->code, res->error, desc, sizeof(desc));
    snprintf(why, whylen, "%s: status %ld code %d: %s", what, res->status,
             res->code, desc);
    if (v->channel_gone &&
        rag_store_threads_unreachable(b->db, thread_id, v->failure) == 1)
        rag_warn("msg=\"thread unreachable, its deliveries stop\" "
                 "thread=%s reason=%s",
                 thread_id, v->failure);
}

/* One reply in flight: its message bodies, posted one after another. */
typedef struct {
    rag_bot *b;
    rag_outbox_reply r;
    rag_buf *bodies;
    long n, i;
    char first_id[32];
    rag_buf part_ids; /* "{id,id}": every part's Discord id, in order */
    char path[128];
    yajl_val recent; /* the thread's recent messages, on a retry */
} reply_job;

static void
job_free(reply_job *j)
{
    long i;

    j->b->outbox_inflight--;
    yajl_tree_free(j->recent);
    rag_buf_free(&j->part_ids);
    for (i = 0; i < j->n; i++)
        rag_buf_free(&j->bodies[i]);
    free(j->bodies);
    free(j->r.content);
    free(j->r.sources);
    free(j);
}

static void
job_failed(reply_job *j, const char *why, const char *failure, int permanent)
{
    rag_bot *b = j->b;

    rag_store_outbox_reply_failed(b->db, j->r.thread_id, j->r.message_id,
                                  b->worker_id, why, failure, permanent,
                                  b->retry_backoff_ms, b->max_attempts);
    rag_warn("msg=\"reply delivery failed\" thread=%s message=%s "
             "permanent=%d error=\"%s\"",
             j->r.thread_id, j->r.message_id, permanent, why);
    job_free(j);
}

/* The first embed's field of a message body we built or fetched. */
static const char *
first_embed(yajl_val msg, const char *field)
{
    yajl_val e = rag_json_get(msg, "embeds", NULL);

    if (e == NULL || !YAJL_IS_ARRAY(e) || e->u.array.len == 0)
        return NULL;
    return rag_json_str(e->u.array.values[0], field, NULL);
}

/* Creation time in ms of a snowflake id. */
static long long
snowflake_ms(const char *id)
{
    return (long long)(strtoull(id, NULL, 10) >> 22) + 1420070400000LL;
}

static int
same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

void
rag_outbox_find_posted(rag_bot *b, yajl_val recent, const char *body,
                       long long since_ms, int title_only, char *out,
                       size_t outlen)
{
    yajl_val mine;
    const char *title, *desc;
    size_t i;

    out[0] = '\0';
    if (recent == NULL || !YAJL_IS_ARRAY(recent) || !b->bot_id[0])
        return;
    mine = rag_json_parse(body, strlen(body));
    title = first_embed(mine, "title");
    desc = first_embed(mine, "description");
    for (i = 0; (title || desc) && i < recent->u.array.len; i++) {
        yajl_val m = recent->u.array.values[i];
        const char *author = rag_json_str(m, "author", "id", NULL),
                   *id = rag_json_str(m, "id", NULL);
        /* only the bot's messages, posted after the intent was written */
        if (id && author && strcmp(author, b->bot_id) == 0 &&
            snowflake_ms(id) >= since_ms &&
            same(first_embed(m, "title"), title) &&
            (title_only || same(first_embed(m, "description"), desc))) {
            snprintf(out, outlen, "%s", id);
            break;
        }
    }
    yajl_tree_free(mine);
}

static void post_next(reply_job *j);

/* Notes a posted part's Discord id (the first is also first_id). */
static void
part_id(reply_job *j, const char *id)
{
    if (j->i == 0)
        snprintf(j->first_id, sizeof(j->first_id), "%s", id ? id : "");
    if (id == NULL || !*id)
        return;
    if (rag_buf_putc(&j->part_ids, j->part_ids.len ? ',' : '{') != 0 ||
        rag_buf_puts(&j->part_ids, id) != 0)
        j->part_ids.len = 0; /* unknown: the first id stands for all */
}

/* All parts are out: record it and, in the same transaction, what the
 * controller needs now that the thread is answered. */
static void
job_done(reply_job *j)
{
    rag_bot *b = j->b;
    const char *parts = NULL;
    int rc = -1;

    if (j->part_ids.len && rag_buf_putc(&j->part_ids, '}') == 0)
        parts = j->part_ids.data;
    if (rag_db_begin(b->db) == 0) {
        rc = rag_store_outbox_reply_delivered(b->db, j->r.thread_id,
                                              j->r.message_id, j->first_id,
                                              parts, b->worker_id);
        if (rc == 1 &&
            rag_store_outbox_controller_followups(b->db, j->r.thread_id) < 0)
            rc = -1;
        if (rc < 0)
            rag_db_rollback(b->db); /* the lease runs out, then a retry */
        else if (rag_db_commit(b->db) < 0)
            rc = -1;
    }
    if (rc == 1)
        rag_info("msg=\"reply delivered\" thread=%s message=%s parts=%ld "
                 "discord_id=%s",
                 j->r.thread_id, j->r.message_id, j->n, j->first_id);
    else if (rc == 0)
        rag_warn("msg=\"lease lost before recording delivery\" thread=%s "
                 "message=%s",
                 j->r.thread_id, j->r.message_id);
    job_free(j);
}

static void
part_posted(void *ud, const rag_rest_result *res)
{
    reply_job *j = ud;
    char why[256];
    rag_outbox_verdict verdict;

    if (res->cancelled) {
        job_free(j); /* the lease runs out; the nonce covers a retry */
        return;
    }
    if (res->status / 100 == 2) {
        yajl_val v = rag_json_parse(res->body, res->body_len);
        part_id(j, rag_json_str(v, "id", NULL));
        yajl_tree_free(v);
        j->i++;
        post_next(j);
        return;
    }
    rag_outbox_failed_request(j->b, j->r.thread_id, "POST messages", res,
                              &verdict, why, sizeof(why));
    job_failed(j, why, verdict.failure, verdict.permanent);
}

static void
post_next(reply_job *j)
{
    char found[32];

    for (; j->i < j->n; j->i++) {
        rag_outbox_find_posted(j->b, j->recent, j->bodies[j->i].data,
                               j->r.created_ms - 1000, 0, found, sizeof(found));
        if (!found[0])
            break;
        rag_info("msg=\"reply part already posted\" thread=%s "
                 "message=%s part=%ld discord_id=%s",
                 j->r.thread_id, j->r.message_id, j->i, found);
        part_id(j, found);
    }
    if (j->i == j->n) {
        job_done(j);
        return;
    }
    if (rag_rest_submit(j->b->rest, "POST", j->path, j->bodies[j->i].data,
                        part_posted, j) != 0)
        job_failed(j, "cannot queue the request", "other", 0);
}

static void
recent_fetched(void *ud, const rag_rest_result *res)
{
    reply_job *j = ud;

    if (res->cancelled) {
        job_free(j);
        return;
    }
    if (res->status == 200)
        j->recent = rag_json_parse(res->body, res->body_len);
    post_next(j);
}

/* Takes over r (its strings) and starts delivering it. */
static void
job_start(rag_bot *b, rag_outbox_reply *r)
{
    reply_job *j = calloc(1, sizeof(*j));
    char path[160];

    if (j == NULL) {
        free(r->content);
        free(r->sources);
        return; /* the lease runs out, then someone retries */
    }
    j->b = b;
    j->r = *r;
    rag_buf_init(&j->part_ids, 64 * 32);
    b->outbox_inflight++;
    snprintf(j->path, sizeof(j->path), "/channels/%s/messages", r->thread_id);
    j->n = rag_embed_reply_messages(r->content, r->sources, r->message_id,
                                    r->abstained, &j->bodies);
    if (j->n <= 0) {
        j->n = 0;
        job_failed(j, "cannot build message", "invalid_request", 0);
        return;
    }
    /* a retry: maybe the last attempt got through before we crashed */
    if (r->attempts > 1 && b->bot_id[0]) {
        snprintf(path, sizeof(path), "/channels/%s/messages?limit=100",
                 r->thread_id);
        if (rag_rest_submit(b->rest, "GET", path, NULL, recent_fetched, j) == 0)
            return;
    }
    post_next(j);
}

int
rag_outbox_run(rag_bot *b)
{
    rag_outbox_reply *v;
    int i, n, total = 0;

    /* threads that are gone: settle what they have pending, no request */
    if ((n = rag_store_outbox_fail_unreachable(b->db)) > 0)
        rag_info("msg=\"deliveries to unreachable threads given up\" "
                 "count=%d",
                 n);

    while (b->outbox_inflight < MAX_INFLIGHT) {
        n = rag_store_outbox_claim_replies(b->db, b->worker_id, b->lease_s,
                                           BATCH, &v);
        if (n <= 0)
            break;
        for (i = 0; i < n; i++)
            job_start(b, &v[i]); /* takes the strings */
        free(v);
        total += n;
        if (n < BATCH)
            break;
    }
    return total;
}

void
rag_outbox_renew(rag_bot *b)
{
    if (b->outbox_inflight > 0 || b->deliveries_inflight > 0)
        rag_store_outbox_renew(b->db, b->worker_id, b->lease_s);
}
