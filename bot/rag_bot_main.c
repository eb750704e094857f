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
    rag_gw_conf gw;
    int gw_result;
    volatile sig_atomic_t gw_done;
} bridge;

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
    bridge *br = arg;
    char c = 2;

    br->gw_result = rag_gw_run(&br->gw);
    br->gw_done = 1;
    if (write(br->wake[1], &c, 1) < 0)
        rag_warn("msg=\"wake pipe write failed\"");
    return NULL;
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

/* GET /gateway/bot -> url (caller frees). */
static char *
discover_gateway(rag_rest *rest)
{
    rag_rest_resp resp;
    char *url = NULL;

    if (rag_rest_call(rest, "GET", "/gateway/bot", NULL, &resp) == 0 &&
        resp.status == 200) {
        yajl_val v = rag_json_parse(resp.body.data, resp.body.len);
        const char *u = rag_json_str(v, "url", NULL);
        if (u && (strncmp(u, "wss://", 6) == 0 || strncmp(u, "ws://", 5) == 0))
            url = strdup(u);
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
    pthread_t th;
    int started = 0, rc = 1, opt;
    long poll_ms, next_poll = 0, next_renew = 0;
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
    gw_url = rag_conf_get(conf, "discord_gateway_url", NULL);
    if (gw_url == NULL || *gw_url == '\0') {
        discovered = discover_gateway(b.rest);
        if (discovered == NULL)
            goto done;
        gw_url = discovered;
    }

    if (pipe2(br.wake, O_CLOEXEC | O_NONBLOCK) != 0 ||
        pthread_mutex_init(&br.mu, NULL) != 0)
        goto done;
    br.gw.url = gw_url;
    br.gw.token = token;
    br.gw.ca_file = ca;
    br.gw.intents = RAG_GW_INTENTS;
    br.gw.backoff_ms = rag_conf_int(conf, "gateway_backoff_ms", 1000);
    br.gw.on_event = bridge_push;
    br.gw.ud = &br;
    br.gw.stop = &stop_flag;
    {
        /* signals go to the main thread, whose poll() they interrupt */
        sigset_t block, old;
        int prc;

        sigemptyset(&block);
        sigaddset(&block, SIGTERM);
        sigaddset(&block, SIGINT);
        pthread_sigmask(SIG_BLOCK, &block, &old);
        prc = pthread_create(&th, NULL, gateway_thread, &br);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (prc != 0)
            goto done;
    }
    started = 1;
    rag_info("msg=\"rag-bot started\" api=\"%s\" worker=%s", api, b.worker_id);

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
            if (db_ok)
                rag_outbox_renew(&b); /* replies and deliveries */
            next_renew = now + b.lease_s * 1000 / 3;
        }
    }
    rc = 0;
    if (br.gw_done && br.gw_result == 2) {
        rag_error("msg=\"stopping: Discord refused the session (see the "
                  "close code above)\"");
        rc = 2;
    }
    stop_flag = 1;
done:
    if (started) {
        pthread_join(th, NULL);
        if (br.gw_result == 2)
            rc = 2;
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
    rag_info("msg=\"rag-bot stopped\" status=%d", rc);
    free(discovered);
    rag_rest_free(b.rest);
    if (b.db)
        PQfinish(b.db);
    rag_conf_free(conf);
    curl_global_cleanup();
    return rc;
}
