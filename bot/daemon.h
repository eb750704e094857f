/*
 * daemon — one rag-bot process's state and its steps, in the order
 * main() runs them:
 *
 *   load     the config file, checked against rag-bot's table
 *            (lib/rag_conf_bot.h): a bad value names its key
 *   settings what the table's keys mean for the bot (rag_bot fields,
 *            the required token, link and shard settings)
 *   connect  database (LISTEN rag_outbox), REST client, the gateway URL
 *            and shard count (GET /gateway/bot unless configured), the
 *            shards this process runs
 *   claim    their leases (waits while another live process holds one,
 *            asking one that took them over to hand them back)
 *   start    a gateway thread per shard (gw_threads.h)
 *   run      the poll loop (main_loop.h), which renews the leases,
 *            hands back shards taken over that their process wants again
 *            and takes over a dead process's (shard_takeover); no event
 *            is handled nor anything delivered unless the leases are
 *            known to hold (renewed first when they may have run out: a
 *            stalled process closes the sessions of shards taken from it)
 *   stop     joins the threads, releases the shards, frees everything,
 *            and says whether to re-execute (4011 with automatic shards)
 *
 * main() owns the rag_daemon (static: the thread array is large); the
 * daemon owns conf, the connection, the REST client and the discovered
 * URL, and lends the conf's strings to the threads until stop.
 */
#ifndef RAG_BOT_DAEMON_H
#define RAG_BOT_DAEMON_H

#include "bot.h"
#include "bridge.h"
#include "gw_threads.h"

#include "rag_conf.h"

#include <signal.h>

typedef struct {
    rag_conf *conf;
    rag_bot b;
    rag_bridge br;
    rag_gw_thread gt[RAG_BOT_MAX_SHARDS]; /* threads, never reused */
    int ngt;                              /* gt[0..ngt) started */
    rag_gw_thread tpl;                    /* every shard's but its id */
    int nown;     /* b.shards[0..nown): ours by configuration */
    int takeover; /* how many more shards of dead processes to take */
    /* ours by configuration but taken over while this process stalled
     * (its lease ran out): not run until they are handed back */
    int lost[RAG_BOT_MAX_SHARDS];
    int nlost;
    long fresh_until; /* rag_time_mono_ms: the shard leases hold till then */
    rag_identify_gate gate;
    const char *token, *api_base, *ca_file; /* the conf's */
    const char *gw_url;                     /* the conf's, else discovered */
    char *discovered;
    long poll_ms;                /* outbox and interactions fallback poll */
    long max_conc;               /* IDENTIFY buckets (GET /gateway/bot) */
    int auto_shards;             /* neither shard_count nor shards configured */
    volatile sig_atomic_t *stop; /* set by SIGTERM/SIGINT */
} rag_daemon;

/* 0, or -1 with the reason on stderr (nothing to undo). */
int rag_daemon_load(rag_daemon *d, const char *conf_path,
                    volatile sig_atomic_t *stop);
/* Each returns 0, or -1 with the reason logged (then: rag_daemon_stop). */
int rag_daemon_settings(rag_daemon *d);
int rag_daemon_connect(rag_daemon *d);
int rag_daemon_claim(rag_daemon *d); /* 0 also when stopped meanwhile */
int rag_daemon_start(rag_daemon *d);
/* Stops the threads, releases the shards and frees d. Returns the exit
 * status from rc (the run's: 0, or 1 after a failed step): 2 when
 * Discord refused the session or asked for more shards than a process
 * with shards assigned by hand runs; *reexec 1 when the process should
 * start over with the recommended shard count. */
int rag_daemon_stop(rag_daemon *d, int rc, int *reexec);

#endif
