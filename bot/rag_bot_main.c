/*
 * rag-bot — the Discord daemon: gateway session, forum threads and
 * messages into Postgres, reply delivery from the outbox, votes and
 * solved marks, slash commands.
 *
 *   rag-bot [-c FILE]
 *   rag-bot -h | --help
 *
 * Configuration: "key = value" in FILE, each overridable by RAG_<KEY>;
 * every key with its default and meaning is in rag-bot's config table
 * (lib/rag_conf_bot.c; `rag-admin config rag-bot` prints it, README.md
 * and rag-bot(8) carry it). A bad value stops the start, naming the key.
 *
 * main() runs daemon.h's steps: load, settings, connect, claim, start,
 * the poll loop (main_loop.h), stop.
 *
 * Threads: each gateway shard runs on its own thread (gw_threads.h;
 * heartbeats stay on time whatever REST or the database do) and passes
 * dispatch payloads over a queue + pipe (bridge.h); the main thread owns
 * the database connection and the REST client and handles events, the
 * outbox and deferred interactions.
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
#include "daemon.h"
#include "main_loop.h"

#include "rag_log.h"
#include "rag_time.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Process-wide by nature: the signal handler can only reach globals. */
static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* -c FILE into *conf_path. -1 to go on, else the exit status. */
static int
parse_args(int argc, char **argv, const char **conf_path)
{
    static const struct option lo[] = {{"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    int opt;

    while ((opt = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
        if (opt == 'c') {
            *conf_path = optarg;
            continue;
        }
        /* bad usage is a start-up error (1): 2 means Discord refused the
         * session, which the unit does not restart */
        fprintf(opt == 'h' ? stdout : stderr, "usage: rag-bot [-c FILE]\n"
                                              "       rag-bot -h | --help\n");
        return opt == 'h' ? 0 : 1;
    }
    return -1;
}

static void
handle_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int
main(int argc, char **argv)
{
    static rag_daemon d; /* large: a thread slot per possible shard */
    const char *conf_path = NULL;
    int rc = parse_args(argc, argv, &conf_path), reexec;

    if (rc >= 0)
        return rc;
    if (rag_daemon_load(&d, conf_path, &stop_flag) != 0)
        return 1;
    handle_signals();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = 1;
    if (rag_daemon_settings(&d) == 0 && rag_daemon_connect(&d) == 0 &&
        rag_daemon_claim(&d) == 0) {
        rc = 0;
        if (!stop_flag && rag_daemon_start(&d) != 0)
            rc = 1;
        else if (!stop_flag)
            rag_main_loop(&d);
    }
    rc = rag_daemon_stop(&d, rc, &reexec);
    if (reexec) {
        rag_time_sleep_ms(1000); /* never a tight loop of restarts */
        execv("/proc/self/exe", argv);
        rag_error("msg=\"re-exec failed\" errno=%d", errno);
        return 1;
    }
    return rc;
}
