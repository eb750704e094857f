/*
 * daemon — rag-bot's start-up and shutdown steps (see daemon.h).
 */
#include "daemon.h"

#include "rag_conf_bot.h"
#include "rag_db.h"
#include "rag_log.h"
#include "rag_store_outbox.h"
#include "rag_store_shards.h"
#include "rag_time.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
rag_daemon_load(rag_daemon *d, const char *conf_path,
                volatile sig_atomic_t *stop)
{
    char err[512];

    memset(d, 0, sizeof(*d));
    d->stop = stop;
    d->br.wake[0] = d->br.wake[1] = -1;
    d->conf =
        rag_conf_load_program(conf_path, &rag_conf_prog_bot, err, sizeof(err));
    if (d->conf == NULL) {
        fprintf(stderr, "rag-bot: %s\n", err);
        return -1;
    }
    rag_conf_apply_log_level(d->conf, &rag_conf_bot);
    return 0;
}

int
rag_daemon_settings(rag_daemon *d)
{
    rag_conf *c = d->conf;
    rag_bot *b = &d->b;
    const char *app = rag_conf_str(c, &rag_conf_bot, "discord_application_id");
    char host[64];

    d->token = rag_conf_str(c, &rag_conf_bot, "discord_token");
    if (d->token == NULL || *d->token == '\0') {
        rag_error("msg=\"discord_token (or discord_token_file) is not "
                  "set\"");
        return -1;
    }
    d->api_base = rag_conf_str(c, &rag_conf_bot, "discord_api_base");
    d->ca_file = rag_conf_str(c, &rag_conf_bot, "discord_ca_file");
    d->poll_ms = rag_conf_long(c, &rag_conf_bot, "outbox_poll_ms");
    b->conf = c;
    b->lease_s = rag_conf_long(c, &rag_conf_bot, "outbox_lease_s");
    b->retry_backoff_ms = rag_conf_long(c, &rag_conf_bot, "outbox_backoff_ms");
    b->max_attempts =
        (int)rag_conf_long(c, &rag_conf_bot, "outbox_max_attempts");
    if (rag_bot_web_base(rag_conf_str(c, &rag_conf_bot, "discord_web_base"),
                         d->api_base, b->web_base, sizeof(b->web_base)) < 0) {
        rag_error("msg=\"discord_web_base / discord_api_base is not an "
                  "absolute URL\"");
        return -1;
    }
    b->index_dir = rag_conf_str(c, &rag_conf_common, "index_dir");
    snprintf(b->app_id, sizeof(b->app_id), "%s", app ? app : "");
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "bot");
    host[sizeof(host) - 1] = '\0';
    snprintf(b->worker_id, sizeof(b->worker_id), "bot:%s:%d", host,
             (int)getpid());
    return 0;
}

/* GET /gateway/bot -> url (caller frees), the recommended shard count
 * and session_start_limit.max_concurrency (left alone when absent). */
static char *
discover_gateway(rag_rest *rest, long *shards, long *max_concurrency)
{
    rag_rest_resp resp;
    char *url = NULL;

    if (rag_rest_call(rest, "GET", "/gateway/bot", NULL, &resp) == 0 &&
        resp.status == 200) {
        yajl_val v = rag_json_parse(resp.body.data, resp.body.len);
        const char *u = rag_json_str(v, "url", NULL);
        long long n = rag_json_int(v, 0, "shards", NULL),
                  mc = rag_json_int(v, 0, "session_start_limit",
                                    "max_concurrency", NULL);
        if (u && (strncmp(u, "wss://", 6) == 0 || strncmp(u, "ws://", 5) == 0))
            url = strdup(u);
        if (n > 0 && n <= RAG_BOT_SHARDS_MAX_COUNT)
            *shards = (long)n;
        if (mc > 0 && mc <= RAG_BOT_SHARDS_MAX_COUNT)
            *max_concurrency = (long)mc;
        yajl_tree_free(v);
    } else {
        rag_error("msg=\"GET /gateway/bot failed\" status=%ld", resp.status);
    }
    rag_buf_free(&resp.body);
    return url;
}

/* The shards this process runs, of how many, and how many more it may
 * take over; rec: GET /gateway/bot's count, 0 when it was not asked. */
static int
resolve_shards(rag_daemon *d, long rec)
{
    rag_bot *b = &d->b;
    long count = rag_conf_long(d->conf, &rag_conf_bot, "shard_count");
    const char *list = rag_conf_str(d->conf, &rag_conf_bot, "shards");

    if (list == NULL)
        list = "";
    d->auto_shards = count <= 0 && *list == '\0';
    if (count <= 0)
        count = rec > 0 ? rec : 1;
    b->shard_count = (int)count;
    b->nshards = strcmp(list, "none") == 0
                     ? 0 /* a standby */
                     : rag_bot_parse_shards(list, b->shard_count, b->shards,
                                            RAG_BOT_MAX_SHARDS);
    d->nown = b->nshards;
    d->takeover = (int)rag_conf_long(d->conf, &rag_conf_bot, "shard_takeover");
    if (b->nshards < 0 || d->takeover > RAG_BOT_MAX_SHARDS - b->nshards ||
        (b->nshards == 0 && d->takeover == 0)) {
        rag_error("msg=\"shards must list distinct shard ids below "
                  "shard_count, or be none with shard_takeover > 0 (at "
                  "most %d per process)\" shard_count=%ld",
                  RAG_BOT_MAX_SHARDS, count);
        return -1;
    }
    return 0;
}

int
rag_daemon_connect(rag_daemon *d)
{
    rag_bot *b = &d->b;
    char err[512];
    long rec = 0;

    d->max_conc = 1;
    b->db =
        rag_db_connect(rag_conf_database(d->conf), "rag-bot", err, sizeof(err));
    if (b->db == NULL) {
        rag_error("msg=\"database connection failed\" error=\"%s\"", err);
        return -1;
    }
    if (rag_store_outbox_listen(b->db) < 0)
        return -1;
    b->rest = rag_rest_new(d->api_base, d->token, d->ca_file);
    if (b->rest == NULL)
        return -1;
    /* an overridden gateway (a proxy, a test) is not asked for shard
     * counts: shard_count from the conf, else 1 */
    d->gw_url = rag_conf_str(d->conf, &rag_conf_bot, "discord_gateway_url");
    if (d->gw_url == NULL || *d->gw_url == '\0') {
        d->discovered = discover_gateway(b->rest, &rec, &d->max_conc);
        if (d->discovered == NULL)
            return -1;
        d->gw_url = d->discovered;
    }
    return resolve_shards(d, rec);
}

int
rag_daemon_claim(rag_daemon *d)
{
    rag_bot *b = &d->b;
    int i, held;

    /* one live process per shard (a killed one's lease runs out first),
     * so a guild's replies are never delivered twice */
    for (i = 0; !*d->stop; i++) {
        held = rag_store_shards_claim(b->db, b->worker_id, b->shard_count,
                                      b->shards, b->nshards, b->lease_s, NULL);
        if (held == b->nshards)
            break;
        if (i == 0)
            rag_warn("msg=\"shards held by another process, waiting for "
                     "their lease\" shard_count=%d held=%d of=%d",
                     b->shard_count, held, b->nshards);
        /* one that took them over hands them back */
        rag_store_shards_want(b->db, b->worker_id, b->shard_count, b->shards,
                              b->nshards, b->lease_s);
        if (held > 0)
            rag_store_shards_release(b->db, b->worker_id);
        rag_time_sleep_until_stop(500, d->stop);
    }
    return 0;
}

int
rag_daemon_start(rag_daemon *d)
{
    rag_gw_conf *gw = &d->tpl.gw;
    int i;

    d->gate.conninfo = rag_conf_database(d->conf);
    d->gate.max_concurrency = (int)d->max_conc;
    d->gate.stop = d->stop;
    if (rag_bridge_open(&d->br) != 0)
        return -1;
    d->tpl.br = &d->br;
    gw->url = d->gw_url;
    gw->token = d->token;
    gw->ca_file = d->ca_file;
    gw->intents = RAG_GW_INTENTS;
    gw->backoff_ms =
        rag_conf_long(d->conf, &rag_conf_bot, "gateway_backoff_ms");
    gw->on_event = rag_bridge_push;
    gw->ud = &d->br;
    gw->stop = d->stop;
    gw->shard_count = d->b.shard_count;
    gw->identify_gate = rag_identify_wait;
    gw->gate_ud = &d->gate;
    for (i = 0; i < d->b.nshards; i++)
        if (rag_gw_thread_start(&d->gt[d->ngt++], &d->tpl, d->b.shards[i]) != 0)
            return -1;
    rag_info("msg=\"rag-bot started\" api=\"%s\" worker=%s shards=%d/%d",
             d->api_base, d->b.worker_id, d->b.nshards, d->b.shard_count);
    return 0;
}

/* The exit status after the threads ended with how (rag_gw_threads_join). */
static int
threads_status(rag_daemon *d, int rc, int how, int *reexec)
{
    if (how == 2) {
        rag_error("msg=\"stopping: Discord refused the session (see the "
                  "close code above)\"");
        return 2;
    }
    if (how != 3)
        return rc;
    if (d->auto_shards) {
        /* 4011: the bot outgrew its shard count; start over with the
         * count /gateway/bot recommends now */
        rag_warn("msg=\"Discord requires more shards (4011): restarting "
                 "with the recommended count\"");
        *reexec = 1;
        return rc;
    }
    rag_error("msg=\"Discord requires more shards (4011): raise "
              "shard_count and split the shards between the processes\" "
              "shard_count=%d",
              d->b.shard_count);
    return 2;
}

int
rag_daemon_stop(rag_daemon *d, int rc, int *reexec)
{
    *reexec = 0;
    *d->stop = 1; /* the threads end at their next look */
    rc = threads_status(d, rc, rag_gw_threads_join(d->gt, d->ngt), reexec);
    rag_bridge_close(&d->br);
    if (d->b.db && PQstatus(d->b.db) == CONNECTION_OK)
        rag_store_shards_release(d->b.db, d->b.worker_id); /* successor */
    rag_info("msg=\"rag-bot stopped\" status=%d", rc);
    free(d->discovered);
    rag_rest_free(d->b.rest);
    if (d->b.db)
        PQfinish(d->b.db);
    rag_conf_free(d->conf);
    curl_global_cleanup();
    return rc;
}
