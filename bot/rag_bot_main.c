/*
 * rag-bot — the Discord daemon: gateway session, forum threads and
 * messages into Postgres, reply delivery from the outbox, votes and
 * solved marks, slash commands.
 *
 *   rag-bot [-c FILE]
 *   rag-bot -h | --help
 *
 * Configuration ("key = value" in FILE, each overridable by RAG_<KEY>):
 *   database_url            libpq conninfo (else PG* environment)
 *   discord_token           bot token (or discord_token_file: a file
 *                           whose first line is the token); never logged
 *   discord_application_id  application id (default: from READY)
 *   discord_api_base        REST base, default https://discord.com/api/v10
 *   discord_web_base        origin of links to threads (/status), default
 *                           the origin of discord_api_base
 *   discord_gateway_url     gateway URL override (default: GET /gateway/bot)
 *   discord_ca_file         extra CA certificate file (tests)
 *   index_dir               directory of <collection>.idx search indexes
 *   outbox_poll_ms          outbox / interactions poll interval, default
 *                           2000 (LISTEN rag_outbox wakes it earlier)
 *   outbox_lease_s          how long a claimed reply stays ours, default 60
 *                           (renewed while its delivery is in flight)
 *   outbox_backoff_ms       retry delay base: backoff * attempts^2 (at most
 *                           300 s), default 1000
 *   outbox_max_attempts     attempts before a delivery is given up, 10
 *   gateway_backoff_ms      base reconnect delay, default 1000
 *   shard_count             gateway shards in all (0, the default: the
 *                           count GET /gateway/bot recommends; 1 with
 *                           discord_gateway_url)
 *   shards                  the shard ids this process runs, "0,1"
 *                           (default: all; "none": a standby that runs
 *                           only shards it takes over); several
 *                           processes on one database split them, each
 *                           delivering only its guilds' replies
 *                           (rag_store_shards.h)
 *   shard_takeover          how many shards of a dead process (its lease,
 *                           outbox_lease_s, ran out) this one takes over
 *                           and runs besides its own, default 0
 *   log_level               debug | info | warn | error (default info)
 *
 * Threads: the gateway runs on its own thread (heartbeats stay on time
 * whatever REST or the database do) and passes dispatch payloads over a
 * queue + pipe; the main thread owns the database connection and the
 * REST client and handles events, the outbox and deferred interactions.
 * The main thread never waits for Discord: REST requests run
 * asynchronously (rest.h) in the same poll as the wake pipe and the
 * database socket, so a rate-limited route delays nothing else.
 *
 * After a fresh gateway session the bot fetches over REST what happened
 * while it was away (catchup.h); replies are delivered from the outbox
 * at least once, never posted twice (outbox.h).
 *
 * Exit status: 0 on SIGTERM/SIGINT, 1 on a startup error, 2 when Discord
 * closed the gateway with a fatal code (bad token, disallowed intents).
 */
#include "bot.h"
#include "catchup.h"
#include "commands.h"
#include "deliveries.h"
#include "events.h"
#include "gateway.h"
#include "outbox.h"
#include "rest.h"
#include "rag_time.h"

#include "rag_conf.h"
#include "rag_db.h"
#include "rag_http.h"
#include "rag_log.h"
#include "rag_store_outbox.h"
#include "rag_store_shards.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_MAX 10000 /* dispatches waiting for the main thread */

/* Process-wide by nature: the signal handler can only reach globals. */
static volatile sig_atomic_t stop_flag;

typedef struct ev {
    struct ev *next;
    size_t len;
    char data[];
} ev;

/* Gateway thread -> main thread hand-over. */
typedef struct {
    pthread_mutex_t mu;
    ev *head, *tail;
    size_t n;
    int wake[2]; /* pipe: a byte per batch of events */
    volatile sig_atomic_t gw_done; /* a shard's session ended for good */
} bridge;

/* One gateway shard's thread. */
typedef struct {
    bridge *br;
    rag_gw_conf gw;
    pthread_t th;
    int started, joined, result;
    volatile sig_atomic_t stop; /* this shard only: handed back, or exit */
} gw_thread;

/* IDENTIFY buckets shared through Postgres (rag_store_shards.h); each
 * waiting gateway thread uses a connection of its own. */
typedef struct {
    const char *conninfo;
    int max_concurrency;
    volatile sig_atomic_t *stop;
} identify_gate;

static void
on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void
bridge_push(void *ud, const char *json, size_t len)
{
    bridge *br = ud;
    ev *e = malloc(sizeof(*e) + len + 1);
    char c = 1;

    if (e == NULL)
        return;
    e->next = NULL;
    e->len = len;
    memcpy(e->data, json, len);
    e->data[len] = '\0';
    pthread_mutex_lock(&br->mu);
    if (br->n >= QUEUE_MAX) {
        pthread_mutex_unlock(&br->mu);
        free(e);
        rag_error("msg=\"event queue full, dropping dispatch\"");
        return;
    }
    if (br->tail)
        br->tail->next = e;
    else
        br->head = e;
    br->tail = e;
    br->n++;
    pthread_mutex_unlock(&br->mu);
    if (write(br->wake[1], &c, 1) < 0 && errno != EAGAIN)
        rag_warn("msg=\"wake pipe write failed\"");
}

static ev *
bridge_take_all(bridge *br)
{
    ev *h;

    pthread_mutex_lock(&br->mu);
    h = br->head;
    br->head = br->tail = NULL;
    br->n = 0;
    pthread_mutex_unlock(&br->mu);
    return h;
}

static void *
gateway_thread(void *arg)
{
    gw_thread *t = arg;
    char c = 2;

    t->result = rag_gw_run(&t->gw);
    if (!t->stop)
        t->br->gw_done = 1; /* ended by itself: a fatal close */
    if (write(t->br->wake[1], &c, 1) < 0)
        rag_warn("msg=\"wake pipe write failed\"");
    return NULL;
}

/* Waits for the shard's bucket (shard_id % max_concurrency): one
 * IDENTIFY per bucket per 5 s across all processes. */
static int
identify_wait(void *ud, int shard_id)
{
    identify_gate *g = ud;
    char bucket[48], err[256];
    PGconn *db = NULL;
    int rc = -1, logged = 0;

    snprintf(bucket, sizeof(bucket), "%d:%d", g->max_concurrency,
             shard_id % g->max_concurrency);
    while (!*g->stop) {
        if (db == NULL)
            db = rag_db_connect(g->conninfo, "rag-bot-identify", err,
                                sizeof(err));
        rc = db ? rag_store_shards_identify_slot(db, bucket) : -1;
        if (rc == 1)
            break;
        if (rc < 0 && db) {
            PQfinish(db);
            db = NULL;
        }
        if (!logged++)
            rag_info("msg=\"waiting for the identify bucket\" shard=%d "
                     "bucket=%s",
                     shard_id, bucket);
        rag_time_sleep_until_stop(rc < 0 ? 1000 : 200, g->stop);
    }
    if (db)
        PQfinish(db);
    return rc == 1 ? 0 : -1;
}

/* Starts shard's gateway thread in t, from template tpl (everything but
 * the shard id). 0 or -1. */
static int
start_shard(gw_thread *t, const gw_thread *tpl, int shard)
{
    /* signals go to the main thread, whose poll() they interrupt */
    sigset_t block, old;
    int prc;

    *t = *tpl;
    t->started = t->joined = 0;
    t->stop = 0;
    t->gw.shard_id = shard;
    t->gw.stop = &t->stop;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    prc = pthread_create(&t->th, NULL, gateway_thread, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc != 0)
        return -1;
    t->started = 1;
    return 0;
}

/* Stops and joins the gateway threads of gt[0..n) running shard (or all
 * with shard < 0). */
static void
stop_shards(gw_thread *gt, int n, int shard)
{
    int i;

    for (i = 0; i < n; i++)
        if (gt[i].started && !gt[i].joined &&
            (shard < 0 || gt[i].gw.shard_id == shard))
            gt[i].stop = 1;
    for (i = 0; i < n; i++)
        if (gt[i].started && !gt[i].joined && gt[i].stop) {
            pthread_join(gt[i].th, NULL);
            gt[i].joined = 1;
        }
}

/* Handles every queued dispatch; returns how many. */
static int
drain_events(rag_bot *b, bridge *br)
{
    ev *e, *next;
    int n = 0;

    for (e = bridge_take_all(br); e; e = next) {
        next = e->next;
        rag_events_handle(b, e->data, e->len);
        free(e);
        n++;
    }
    return n;
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
        if (n > 0 && n <= 1 << 16)
            *shards = (long)n;
        if (mc > 0 && mc <= 1 << 16)
            *max_concurrency = (long)mc;
        yajl_tree_free(v);
    } else {
        rag_error("msg=\"GET /gateway/bot failed\" status=%ld", resp.status);
    }
    rag_buf_free(&resp.body);
    return url;
}

int
main(int argc, char **argv)
{
    const char *conf_path = NULL, *token, *api, *gw_url, *ca, *lvl;
    char err[512], host[64];
    rag_conf *conf = NULL;
    rag_bot b;
    bridge br;
    static gw_thread gt[RAG_BOT_MAX_SHARDS];
    gw_thread tpl;
    identify_gate gate;
    int started = 0, rc = 1, opt, i, held, auto_shards, reshard = 0;
    int takeover, got[RAG_BOT_MAX_SHARDS], ngt = 0, nown, j;
    long poll_ms, next_poll = 0, next_renew = 0;
    long shard_count, rec_shards = 0, max_conc = 1;
    char *discovered = NULL;
    struct sigaction sa;
    static const struct option lo[] = {{"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};

    while ((opt = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
        if (opt == 'c') {
            conf_path = optarg;
        } else {
            /* bad usage is a start-up error (1): 2 means Discord refused
             * the session, which the unit does not restart */
            fprintf(opt == 'h' ? stdout : stderr,
                    "usage: rag-bot [-c FILE]\n"
                    "       rag-bot -h | --help\n");
            return opt == 'h' ? 0 : 1;
        }
    }
    memset(&b, 0, sizeof(b));
    memset(&br, 0, sizeof(br));
    br.wake[0] = br.wake[1] = -1;
    conf = rag_conf_load(conf_path, err, sizeof(err));
    if (conf == NULL) {
        fprintf(stderr, "rag-bot: %s\n", err);
        return 1;
    }
    lvl = rag_conf_get(conf, "log_level", "info");
    if (rag_log_parse_level(lvl) >= 0)
        rag_log_set_level((enum rag_log_level)rag_log_parse_level(lvl));
    token = rag_conf_get(conf, "discord_token", NULL);
    if (token == NULL || *token == '\0') {
        rag_error("msg=\"discord_token (or discord_token_file) is not "
                  "set\"");
        goto done;
    }
    api = rag_conf_get(conf, "discord_api_base", "https://discord.com/api/v10");
    ca = rag_conf_get(conf, "discord_ca_file", NULL);
    poll_ms = rag_conf_int(conf, "outbox_poll_ms", 2000);
    if (poll_ms < 10)
        poll_ms = 10;
    b.lease_s = rag_conf_int(conf, "outbox_lease_s", 60);
    if (b.lease_s < 1)
        b.lease_s = 1;
    b.retry_backoff_ms = rag_conf_int(conf, "outbox_backoff_ms", 1000);
    b.max_attempts = (int)rag_conf_int(conf, "outbox_max_attempts", 10);
    if (b.max_attempts < 1)
        b.max_attempts = 1;
    b.conf = conf;
    if (rag_bot_web_base(rag_conf_get(conf, "discord_web_base", NULL), api,
                         b.web_base, sizeof(b.web_base)) < 0) {
        rag_error("msg=\"discord_web_base / discord_api_base is not an "
                  "absolute URL\"");
        goto done;
    }
    b.index_dir = rag_conf_get(conf, "index_dir", NULL);
    snprintf(b.app_id, sizeof(b.app_id), "%s",
             rag_conf_get(conf, "discord_application_id", ""));
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "bot");
    host[sizeof(host) - 1] = '\0';
    snprintf(b.worker_id, sizeof(b.worker_id), "bot:%s:%d", host,
             (int)getpid());

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    b.db = rag_db_connect(rag_conf_database(conf), "rag-bot", err, sizeof(err));
    if (b.db == NULL) {
        rag_error("msg=\"database connection failed\" error=\"%s\"", err);
        goto done;
    }
    if (rag_store_outbox_listen(b.db) < 0)
        goto done;
    b.rest = rag_rest_new(api, token, ca);
    if (b.rest == NULL)
        goto done;
    /* an overridden gateway (a proxy, a test) is not asked for shard
     * counts: shard_count from the conf, else 1 */
    gw_url = rag_conf_get(conf, "discord_gateway_url", NULL);
    if (gw_url == NULL || *gw_url == '\0') {
        discovered = discover_gateway(b.rest, &rec_shards, &max_conc);
        if (discovered == NULL)
            goto done;
        gw_url = discovered;
    }
    shard_count = rag_conf_int(conf, "shard_count", 0);
    auto_shards = shard_count <= 0 &&
                  *rag_conf_get(conf, "shards", "") == '\0';
    if (shard_count <= 0)
        shard_count = rec_shards > 0 ? rec_shards : 1;
    b.shard_count = (int)shard_count;
    b.nshards = strcmp(rag_conf_get(conf, "shards", ""), "none") == 0
                    ? 0 /* a standby */
                    : rag_bot_parse_shards(rag_conf_get(conf, "shards", ""),
                                           b.shard_count, b.shards,
                                           RAG_BOT_MAX_SHARDS);
    takeover = (int)rag_conf_int(conf, "shard_takeover", 0);
    if (takeover < 0 || takeover > RAG_BOT_MAX_SHARDS - b.nshards)
        takeover = -1;
    nown = b.nshards; /* shards[0..nown): ours by configuration */
    if (shard_count > 1 << 16 || b.nshards < 0 || takeover < 0 ||
        (b.nshards == 0 && takeover == 0)) {
        rag_error("msg=\"shards must list distinct shard ids below "
                  "shard_count, or be none with shard_takeover > 0 (at "
                  "most %d per process)\" shard_count=%ld",
                  RAG_BOT_MAX_SHARDS, shard_count);
        goto done;
    }
    /* our shards: one live process per shard (a killed one's lease runs
     * out first), so a guild's replies are never delivered twice */
    for (i = 0; !stop_flag; i++) {
        held = rag_store_shards_claim(b.db, b.worker_id, b.shard_count,
                                      b.shards, b.nshards, b.lease_s);
        if (held == b.nshards)
            break;
        if (i == 0)
            rag_warn("msg=\"shards held by another process, waiting for "
                     "their lease\" shard_count=%d held=%d of=%d",
                     b.shard_count, held, b.nshards);
        /* one that took them over hands them back */
        rag_store_shards_want(b.db, b.worker_id, b.shard_count, b.shards,
                              b.nshards, b.lease_s);
        if (held > 0)
            rag_store_shards_release(b.db, b.worker_id);
        rag_time_sleep_until_stop(500, &stop_flag);
    }
    if (stop_flag) {
        rc = 0;
        goto done;
    }
    gate.conninfo = rag_conf_database(conf);
    gate.max_concurrency = (int)max_conc;
    gate.stop = &stop_flag;

    if (pipe2(br.wake, O_CLOEXEC | O_NONBLOCK) != 0 ||
        pthread_mutex_init(&br.mu, NULL) != 0)
        goto done;
    started = 1;
    memset(&tpl, 0, sizeof(tpl));
    tpl.br = &br;
    tpl.gw.url = gw_url;
    tpl.gw.token = token;
    tpl.gw.ca_file = ca;
    tpl.gw.intents = RAG_GW_INTENTS;
    tpl.gw.backoff_ms = rag_conf_int(conf, "gateway_backoff_ms", 1000);
    tpl.gw.on_event = bridge_push;
    tpl.gw.ud = &br;
    tpl.gw.stop = &stop_flag;
    tpl.gw.shard_count = b.shard_count;
    tpl.gw.identify_gate = identify_wait;
    tpl.gw.gate_ud = &gate;
    for (i = 0; i < b.nshards; i++)
        if (start_shard(&gt[ngt++], &tpl, b.shards[i]) != 0)
            goto done;
    rag_info("msg=\"rag-bot started\" api=\"%s\" worker=%s shards=%d/%d",
             api, b.worker_id, b.nshards, b.shard_count);

    while (!stop_flag && !br.gw_done) {
        struct pollfd pfd[2];
        int npfd = 1, due = 0, db_ok = PQstatus(b.db) == CONNECTION_OK;
        long now = rag_time_mono_ms(), timeout;

        pfd[0].fd = br.wake[0];
        pfd[0].events = POLLIN;
        pfd[0].revents = 0;
        if (db_ok && PQsocket(b.db) >= 0) {
            pfd[1].fd = PQsocket(b.db);
            pfd[1].events = POLLIN;
            pfd[1].revents = 0;
            npfd = 2;
        }
        timeout = next_poll > now ? next_poll - now : 0;
        if (next_renew - now < timeout)
            timeout = next_renew > now ? next_renew - now : 0;
        /* Discord's answers, gateway events and notifications, all in
         * one wait: REST callbacks run in here */
        if (rag_rest_wait(b.rest, pfd, (unsigned)npfd, timeout) < 0 &&
            !stop_flag)
            rag_time_sleep_ms(10); /* interrupted or failed: no spin */
        if (pfd[0].revents & POLLIN) {
            char drain[256];
            while (read(br.wake[0], drain, sizeof(drain)) > 0)
                ;
        }
        /* database: reconnect if needed, then collect notifications */
        if (PQstatus(b.db) != CONNECTION_OK) {
            if (rag_db_ensure(b.db) && rag_store_outbox_listen(b.db) == 0)
                due = 1; /* catch up on what we missed */
        } else if (npfd == 2 && (pfd[1].revents & POLLIN)) {
            PGnotify *n;
            PQconsumeInput(b.db);
            while ((n = PQnotifies(b.db)) != NULL) {
                due = 1;
                PQfreemem(n);
            }
        }
        if (drain_events(&b, &br) > 0)
            due = 1; /* a dispatch may have produced work */
        now = rag_time_mono_ms();
        if (now >= next_poll)
            due = 1;
        db_ok = PQstatus(b.db) == CONNECTION_OK;
        if (b.catchup_due && db_ok) {
            rag_catchup_run(&b);
            due = 1;
        }
        if (due && db_ok) {
            /* deliveries wait for the session (the bot's id is in them) */
            if (b.bot_id[0]) {
                rag_outbox_run(&b);
                rag_deliveries_run(&b);
            }
            rag_commands_run_queue(&b);
            rag_commands_register(&b); /* when due, after any backoff */
        }
        /* timers move on even while the database is away (no spinning) */
        if (due)
            next_poll = rag_time_mono_ms() + poll_ms;
        if (now >= next_renew) {
            /* shards taken over that their own process wants back */
            held = db_ok && nown < b.nshards
                       ? rag_store_shards_handback(b.db, b.worker_id,
                                                   b.shard_count, b.shards,
                                                   nown, got,
                                                   RAG_BOT_MAX_SHARDS)
                       : 0;
            for (i = 0; i < held; i++) {
                rag_warn("msg=\"shard handed back to its own process\" "
                         "shard=%d/%d",
                         got[i], b.shard_count);
                stop_shards(gt, ngt, got[i]);
                for (j = nown; j < b.nshards && b.shards[j] != got[i]; j++)
                    ;
                if (j < b.nshards) {
                    b.shards[j] = b.shards[--b.nshards];
                    takeover++;
                }
            }
            if (db_ok && rag_store_shards_claim(b.db, b.worker_id,
                                                b.shard_count, b.shards,
                                                b.nshards,
                                                b.lease_s) != b.nshards)
                rag_warn("msg=\"shard lease not renewed: delivering only "
                         "for the shards still held\"");
            /* a dead process's shards: leased here, then run here (the
             * claims deliver their guilds' work only once the lease is
             * ours) */
            if (takeover > RAG_BOT_MAX_SHARDS - ngt)
                takeover = RAG_BOT_MAX_SHARDS - ngt; /* threads never reused */
            held = db_ok && takeover > 0
                       ? rag_store_shards_takeover(b.db, b.worker_id,
                                                   b.shard_count, takeover,
                                                   b.lease_s, got)
                       : 0;
            for (i = 0; i < held; i++) {
                rag_warn("msg=\"shard taken over from a dead process\" "
                         "shard=%d/%d",
                         got[i], b.shard_count);
                if (start_shard(&gt[ngt], &tpl, got[i]) != 0) {
                    rag_error("msg=\"cannot start the shard's gateway\" "
                              "shard=%d",
                              got[i]);
                    continue; /* renewals skip it; its lease runs out */
                }
                ngt++;
                b.shards[b.nshards++] = got[i];
                takeover--;
            }
            if (db_ok)
                rag_outbox_renew(&b); /* replies and deliveries */
            next_renew = now + b.lease_s * 1000 / 3;
        }
    }
    rc = 0;
    stop_flag = 1;
done:
    if (started) {
        stop_shards(gt, ngt, -1);
        for (i = 0; i < ngt; i++) {
            if (gt[i].result == 2)
                rc = 2;
            else if (gt[i].result == 3)
                reshard = 1;
        }
        if (rc == 2)
            rag_error("msg=\"stopping: Discord refused the session (see the "
                      "close code above)\"");
        if (reshard && auto_shards) {
            /* 4011: the bot outgrew its shard count; start over with the
             * count /gateway/bot recommends now */
            rag_warn("msg=\"Discord requires more shards (4011): "
                     "restarting with the recommended count\"");
        } else if (reshard) {
            rag_error("msg=\"Discord requires more shards (4011): raise "
                      "shard_count and split the shards between the "
                      "processes\" shard_count=%d",
                      b.shard_count);
            rc = 2;
            reshard = 0;
        }
        {
            ev *e = bridge_take_all(&br), *next;
            for (; e; e = next) {
                next = e->next;
                free(e);
            }
        }
        pthread_mutex_destroy(&br.mu);
    }
    if (br.wake[0] >= 0) {
        close(br.wake[0]);
        close(br.wake[1]);
    }
    if (b.db && PQstatus(b.db) == CONNECTION_OK)
        rag_store_shards_release(b.db, b.worker_id); /* successor: now */
    rag_info("msg=\"rag-bot stopped\" status=%d", rc);
    free(discovered);
    rag_rest_free(b.rest);
    if (b.db)
        PQfinish(b.db);
    rag_conf_free(conf);
    curl_global_cleanup();
    if (reshard) {
        rag_time_sleep_ms(1000); /* never a tight loop of restarts */
        execv("/proc/self/exe", argv);
        rag_error("msg=\"re-exec failed\" errno=%d", errno);
        return 1;
    }
    return rc;
}
