/*
 * deliveries — controller, edits, reactions, archive changes, notices
 * (see deliveries.h).
 */
#include "deliveries.h"
#include "embed.h"
#include "outbox.h"

#include "rag_db.h"
#include "rag_log.h"
#include "rag_store_outbox.h"
#include "rag_store_threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 20
#define MAX_INFLIGHT 100
#define CONTROLLER_TITLE "Help Bot Thread Information"

typedef struct {
    rag_bot *b;
    rag_delivery d;
    char path[256];
    rag_buf body;   /* request body, "" for none */
    int creates;    /* POSTs a message: nonce, and a look before a retry */
    int unarchived; /* unpost: the archived thread was reopened once */
} dl_job;

static void
job_free(dl_job *j)
{
    j->b->deliveries_inflight--;
    rag_buf_free(&j->body);
    free(j->d.body);
    free(j);
}

static void
job_failed(dl_job *j, const char *why, const char *failure, int permanent)
{
    rag_bot *b = j->b;

    rag_store_outbox_failed(b->db, j->d.id, b->worker_id, why, failure,
                            permanent, b->retry_backoff_ms, b->max_attempts);
    rag_warn("msg=\"delivery failed\" kind=%s thread=%s id=%lld "
             "permanent=%d error=\"%s\"",
             j->d.kind, j->d.thread_id, j->d.id, permanent, why);
    job_free(j);
}

/* Settles a delivery that succeeded; a controller also records its id
 * and what it needs next, in the same transaction. */
static void
job_done(dl_job *j, const char *discord_id)
{
    rag_bot *b = j->b;
    int ctl = strcmp(j->d.kind, "controller") == 0, rc = -1;

    if (rag_db_begin(b->db) == 0) {
        rc = rag_store_outbox_done(b->db, j->d.id, b->worker_id,
                                   discord_id && *discord_id ? discord_id
                                                             : NULL);
        if (rc == 1 && ctl &&
            (rag_store_threads_set_controller(b->db, j->d.thread_id,
                                              discord_id) < 0 ||
             rag_store_outbox_controller_followups(b->db, j->d.thread_id) < 0))
            rc = -1;
        if (rc < 0)
            rag_db_rollback(b->db); /* the lease runs out, then a retry */
        else if (rag_db_commit(b->db) < 0)
            rc = -1;
    }
    if (rc == 1 && ctl)
        rag_info("msg=\"controller posted\" thread=%s discord_id=%s",
                 j->d.thread_id, discord_id);
    else if (rc == 1)
        rag_debug("msg=\"delivered\" kind=%s thread=%s", j->d.kind,
                  j->d.thread_id);
    else if (rc == 0)
        rag_warn("msg=\"lease lost before recording delivery\" kind=%s "
                 "thread=%s",
                 j->d.kind, j->d.thread_id);
    job_free(j);
}

static const char *
method_of(const dl_job *j)
{
    return j->creates                         ? "POST"
           : strcmp(j->d.kind, "react") == 0  ? "PUT"
           : strcmp(j->d.kind, "unpost") == 0 ? "DELETE"
                                              : "PATCH";
}

static void send_now(dl_job *j);

/* The thread was reopened for the removal: delete now. */
static void
unarchived(void *ud, const rag_rest_result *res)
{
    dl_job *j = ud;
    char why[256];
    rag_outbox_verdict verdict;

    if (res->cancelled) {
        job_free(j);
        return;
    }
    if (res->status / 100 == 2) {
        send_now(j);
        return;
    }
    rag_outbox_failed_request(j->b, j->d.thread_id, "PATCH unarchive", res,
                              &verdict, why, sizeof(why));
    /* not reopened: nothing to close again (a retry records it anew) */
    if (rag_store_outbox_rearchive_cancel(j->b->db, j->d.thread_id) < 0)
        rag_warn("msg=\"cannot cancel the re-archive\" thread=%s",
                 j->d.thread_id);
    job_failed(j, why, verdict.failure, verdict.permanent);
}

/* An unpost's answer: the message is gone either way when Discord no
 * longer knows it (10008) or its thread (10003); an archived thread
 * that refuses deletes (50083: locked, and the bot may not moderate it)
 * is reopened if the bot may (it opened the thread), after recording
 * that it is archived again once the removals are done, so that what
 * the community closed stays closed, whatever stops the bot between
 * the steps. 1 when handled here. */
static int
unpost_answer(dl_job *j, const rag_rest_result *res)
{
    char path[128];

    if (res->status == 404 && (res->code == 10008 || res->code == 10003)) {
        rag_info("msg=\"answer already gone\" thread=%s discord_id=%s "
                 "code=%d",
                 j->d.thread_id, j->d.target_id, res->code);
        job_done(j, NULL);
        return 1;
    }
    if (res->status == 400 && res->code == 50083 && !j->unarchived) {
        j->unarchived = 1;
        if (rag_store_outbox_rearchive(j->b->db, j->d.thread_id) < 0) {
            job_failed(j, "cannot record the re-archive", "other", 0);
            return 1;
        }
        rag_info("msg=\"reopening an archived thread to delete\" thread=%s "
                 "discord_id=%s",
                 j->d.thread_id, j->d.target_id);
        snprintf(path, sizeof(path), "/channels/%s", j->d.thread_id);
        if (rag_rest_submit(j->b->rest, "PATCH", path, "{\"archived\":false}",
                            unarchived, j) != 0)
            job_failed(j, "cannot queue the request", "other", 0);
        return 1;
    }
    return 0;
}

/* 1 when the delivery archives its thread (body archived: true). */
static int
archives(const dl_job *j)
{
    yajl_val v =
        j->d.body ? rag_json_parse(j->d.body, strlen(j->d.body)) : NULL;
    int yes = rag_json_bool(v, "archived", NULL) == 1;

    yajl_tree_free(v);
    return yes;
}

static void
sent(void *ud, const rag_rest_result *res)
{
    dl_job *j = ud;
    char why[256], what[32];
    rag_outbox_verdict verdict;
    yajl_val v;

    if (res->cancelled) {
        job_free(j); /* the lease runs out; the nonce covers a retry */
        return;
    }
    if (strcmp(j->d.kind, "unpost") == 0 && unpost_answer(j, res))
        return;
    /* archiving a thread archived meanwhile: what was asked holds */
    if (strcmp(j->d.kind, "archive") == 0 && res->status == 400 &&
        res->code == 50083 && archives(j)) {
        job_done(j, NULL);
        return;
    }
    if (res->status / 100 == 2) {
        v = j->creates ? rag_json_parse(res->body, res->body_len) : NULL;
        if (j->creates && rag_json_str(v, "id", NULL) == NULL)
            job_failed(j, "no message id in Discord's answer", "other", 0);
        else
            job_done(j, rag_json_str(v, "id", NULL));
        yajl_tree_free(v);
        return;
    }
    snprintf(what, sizeof(what), "%s %s", method_of(j), j->d.kind);
    rag_outbox_failed_request(j->b, j->d.thread_id, what, res, &verdict, why,
                              sizeof(why));
    job_failed(j, why, verdict.failure, verdict.permanent);
}

static void
send_now(dl_job *j)
{
    if (rag_rest_submit(j->b->rest, method_of(j), j->path,
                        j->body.len ? j->body.data : NULL, sent, j) != 0)
        job_failed(j, "cannot queue the request", "other", 0);
}

/* A retry of a message-creating delivery: first look whether the last
 * attempt got through (Discord forgets nonces after a few minutes). */
static void
recent_fetched(void *ud, const rag_rest_result *res)
{
    dl_job *j = ud;
    yajl_val recent;
    char found[32];

    if (res->cancelled) {
        job_free(j);
        return;
    }
    recent =
        res->status == 200 ? rag_json_parse(res->body, res->body_len) : NULL;
    rag_outbox_find_posted(j->b, recent, j->body.data, j->d.created_ms - 1000,
                           strcmp(j->d.kind, "controller") == 0, found,
                           sizeof(found));
    yajl_tree_free(recent);
    if (found[0]) {
        rag_info("msg=\"already posted\" kind=%s thread=%s discord_id=%s",
                 j->d.kind, j->d.thread_id, found);
        job_done(j, found);
        return;
    }
    send_now(j);
}

/* The controller as the thread's row says now, as a new message. */
static int
build_controller(dl_job *j, rag_thread_ctl *t)
{
    rag_controller c;
    char nonce[RAG_NONCE_LEN + 1];

    memset(&c, 0, sizeof(c));
    c.thread_id = j->d.thread_id;
    c.author_id = t->author_id;
    c.bot_id = j->b->bot_id;
    c.open = t->open;
    c.solved = t->solved;
    c.was_solved = t->was_solved;
    c.answered = t->answered;
    if (!t->controller_id[0]) {
        rag_embed_nonce(j->d.key, 0, nonce);
        c.nonce = nonce;
    }
    return rag_embed_controller_json(&j->body, &c);
}

/* A notice's stored body with the nonce added. */
static int
build_notice(dl_job *j)
{
    char nonce[RAG_NONCE_LEN + 1];
    size_t n = j->d.body ? strlen(j->d.body) : 0;

    if (n < 2 || j->d.body[0] != '{')
        return -1;
    rag_embed_nonce(j->d.key, 0, nonce);
    return rag_buf_printf(&j->body,
                          "{\"nonce\":\"%s\",\"enforce_nonce\":true,%s", nonce,
                          j->d.body + 1);
}

/* Takes over d (its body) and starts it. */
static void
job_start(rag_bot *b, rag_delivery *d)
{
    dl_job *j = calloc(1, sizeof(*j));
    rag_thread_ctl t;
    const char *k = d->kind;
    char path[256];
    int rc = 0;

    if (j == NULL) {
        free(d->body);
        return; /* the lease runs out, then someone retries */
    }
    j->b = b;
    j->d = *d;
    b->deliveries_inflight++;
    rag_buf_init(&j->body, 64 * 1024);
    if (strcmp(k, "react") == 0) {
        rag_buf path_b;
        rag_buf_init(&path_b, sizeof(j->path) - 1);
        rc = rag_buf_printf(&path_b, "/channels/%s/messages/%s/reactions/",
                            d->thread_id, d->target_id);
        rag_bot_url_encode(&path_b, d->emoji);
        rc |= rag_buf_puts(&path_b, "/@me");
        snprintf(j->path, sizeof(j->path), "%s", rc ? "" : path_b.data);
        rag_buf_free(&path_b);
    } else if (strcmp(k, "unpost") == 0) {
        /* the bot's own message: no permission needed to delete it */
        snprintf(j->path, sizeof(j->path), "/channels/%s/messages/%s",
                 d->thread_id, d->target_id);
    } else if (strcmp(k, "archive") == 0) {
        snprintf(j->path, sizeof(j->path), "/channels/%s", d->thread_id);
        rc = rag_buf_puts(&j->body, d->body ? d->body : "");
    } else if (strcmp(k, "notice") == 0) {
        j->creates = 1;
        snprintf(j->path, sizeof(j->path), "/channels/%s/messages",
                 d->thread_id);
        rc = build_notice(j);
    } else if (strcmp(k, "controller") == 0 || strcmp(k, "edit") == 0) {
        rc = rag_store_threads_controller(b->db, d->thread_id, &t);
        if (rc != 1) {
            if (rc < 0)
                job_failed(j, "database error", "other", 0);
            else
                job_failed(j, "the thread is gone", "unknown_channel", 1);
            return;
        }
        rc = 0;
        if (strcmp(k, "controller") == 0 && t.controller_id[0]) {
            job_done(j, t.controller_id); /* recorded meanwhile */
            return;
        }
        if (strcmp(k, "edit") == 0 && !t.controller_id[0]) {
            job_failed(j, "no controller message to edit", "unknown_message",
                       1);
            return;
        }
        j->creates = strcmp(k, "controller") == 0;
        if (j->creates)
            snprintf(j->path, sizeof(j->path), "/channels/%s/messages",
                     d->thread_id);
        else
            snprintf(j->path, sizeof(j->path), "/channels/%s/messages/%s",
                     d->thread_id, t.controller_id);
        rc = build_controller(j, &t);
    } else {
        rc = -1;
    }
    if (rc != 0 || !j->path[0]) {
        job_failed(j, "cannot build the request", "invalid_request", 1);
        return;
    }
    if (j->creates && d->attempts > 1 && b->bot_id[0]) {
        snprintf(path, sizeof(path), "/channels/%s/messages?limit=100",
                 d->thread_id);
        if (rag_rest_submit(b->rest, "GET", path, NULL, recent_fetched, j) == 0)
            return;
    }
    send_now(j);
}

int
rag_deliveries_run(rag_bot *b)
{
    rag_delivery *v;
    int i, n, total = 0;

    while (b->deliveries_inflight < MAX_INFLIGHT) {
        n = rag_store_outbox_claim(b->db, b->worker_id, b->lease_s, BATCH, &v);
        if (n <= 0)
            break;
        for (i = 0; i < n; i++)
            job_start(b, &v[i]); /* takes the body */
        free(v);
        total += n;
        if (n < BATCH)
            break;
    }
    return total;
}
