/*
 * main_loop — rag-bot's poll loop (see main_loop.h).
 */
#include "main_loop.h"
#include "catchup.h"
#include "commands.h"
#include "deliveries.h"
#include "outbox.h"
#include "rest.h"

#include "rag_db.h"
#include "rag_log.h"
#include "rag_store_outbox.h"
#include "rag_store_shards.h"
#include "rag_time.h"

#include <poll.h>

typedef struct {
    long next_poll, next_renew; /* rag_time_mono_ms */
} loop_timers;

/* One wait for Discord's answers, gateway events and notifications (REST
 * callbacks run in here) until the next timer. 1 when the database
 * socket is readable. */
static int
loop_wait(rag_daemon *d, const loop_timers *t)
{
    struct pollfd pfd[2];
    int npfd = 1;
    long now = rag_time_mono_ms(), timeout;

    pfd[0].fd = d->br.wake[0];
    pfd[0].events = POLLIN;
    pfd[0].revents = 0;
    if (PQstatus(d->b.db) == CONNECTION_OK && PQsocket(d->b.db) >= 0) {
        pfd[1].fd = PQsocket(d->b.db);
        pfd[1].events = POLLIN;
        pfd[1].revents = 0;
        npfd = 2;
    }
    timeout = t->next_poll > now ? t->next_poll - now : 0;
    if (t->next_renew - now < timeout)
        timeout = t->next_renew > now ? t->next_renew - now : 0;
    if (rag_rest_wait(d->b.rest, pfd, (unsigned)npfd, timeout) < 0 && !*d->stop)
        rag_time_sleep_ms(10); /* interrupted or failed: no spin */
    if (pfd[0].revents & POLLIN)
        rag_bridge_clear_wake(&d->br);
    return npfd == 2 && (pfd[1].revents & POLLIN);
}

/* The database: reconnect if needed, then collect notifications. 1 when
 * work may be waiting there. */
static int
loop_db(rag_daemon *d, int readable)
{
    PGnotify *n;
    int due = 0;

    if (PQstatus(d->b.db) != CONNECTION_OK)
        return rag_db_ensure(d->b.db) &&
               rag_store_outbox_listen(d->b.db) == 0; /* what we missed */
    if (!readable)
        return 0;
    PQconsumeInput(d->b.db);
    while ((n = PQnotifies(d->b.db)) != NULL) {
        due = 1;
        PQfreemem(n);
    }
    return due;
}

/* The database's work; due: something may be waiting. Returns due, or
 * 1 after a catch-up. */
static int
loop_work(rag_daemon *d, int due)
{
    rag_bot *b = &d->b;

    if (PQstatus(b->db) != CONNECTION_OK)
        return due;
    if (b->catchup_due) {
        rag_catchup_run(b);
        due = 1;
    }
    if (!due)
        return 0;
    /* deliveries wait for the session (the bot's id is in them) */
    if (b->bot_id[0]) {
        rag_outbox_run(b);
        rag_deliveries_run(b);
    }
    rag_commands_run_queue(b);
    rag_commands_register(b); /* when due, after any backoff */
    return 1;
}

/* Shards taken over that their own process wants back: their threads
 * stop, and the room they leave may take over another. */
static void
loop_handback(rag_daemon *d)
{
    rag_bot *b = &d->b;
    int got[RAG_BOT_MAX_SHARDS], held, i, j;

    held = d->nown < b->nshards
               ? rag_store_shards_handback(b->db, b->worker_id, b->shard_count,
                                           b->shards, d->nown, got,
                                           RAG_BOT_MAX_SHARDS)
               : 0;
    for (i = 0; i < held; i++) {
        rag_warn("msg=\"shard handed back to its own process\" shard=%d/%d",
                 got[i], b->shard_count);
        rag_gw_threads_stop(d->gt, d->ngt, got[i]);
        for (j = d->nown; j < b->nshards && b->shards[j] != got[i]; j++)
            ;
        if (j < b->nshards) {
            b->shards[j] = b->shards[--b->nshards];
            d->takeover++;
        }
    }
}

/* A dead process's shards: leased here, then run here (the claims
 * deliver their guilds' work only once the lease is ours). */
static void
loop_takeover(rag_daemon *d)
{
    rag_bot *b = &d->b;
    int got[RAG_BOT_MAX_SHARDS], held, i;

    if (d->takeover > RAG_BOT_MAX_SHARDS - d->ngt)
        d->takeover = RAG_BOT_MAX_SHARDS - d->ngt; /* threads never reused */
    held = d->takeover > 0
               ? rag_store_shards_takeover(b->db, b->worker_id, b->shard_count,
                                           d->takeover, b->lease_s, got)
               : 0;
    for (i = 0; i < held; i++) {
        rag_warn("msg=\"shard taken over from a dead process\" shard=%d/%d",
                 got[i], b->shard_count);
        if (rag_gw_thread_start(&d->gt[d->ngt], &d->tpl, got[i]) != 0) {
            rag_error("msg=\"cannot start the shard's gateway\" shard=%d",
                      got[i]);
            continue; /* renewals skip it; its lease runs out */
        }
        d->ngt++;
        b->shards[b->nshards++] = got[i];
        d->takeover--;
    }
}

/* A thread slot for a shard run again: one whose thread was joined, else
 * a new one. NULL when none is left. */
static rag_gw_thread *
thread_slot(rag_daemon *d)
{
    int i;

    for (i = 0; i < d->ngt; i++)
        if (!d->gt[i].started || d->gt[i].joined)
            return &d->gt[i];
    return d->ngt < RAG_BOT_MAX_SHARDS ? &d->gt[d->ngt++] : NULL;
}

/* Shard s was taken by another process while this one stalled past its
 * lease: its gateway session is closed (Discord would send its events to
 * both), the events already queued for it are dropped (rag_events_handle
 * looks at the guild's shard), and one of our own waits to be handed
 * back; one taken over leaves room to take another. */
static void
shard_lost(rag_daemon *d, int s)
{
    rag_bot *b = &d->b;
    int j;

    for (j = 0; j < b->nshards && b->shards[j] != s; j++)
        ;
    if (j == b->nshards)
        return;
    rag_warn("msg=\"shard lease lost: another process runs it now, closing "
             "its session\" shard=%d/%d own=%d",
             s, b->shard_count, j < d->nown);
    rag_gw_threads_stop(d->gt, d->ngt, s);
    if (j < d->nown) {
        /* the own part stays b->shards[0..nown) */
        b->shards[j] = b->shards[d->nown - 1];
        b->shards[d->nown - 1] = b->shards[b->nshards - 1];
        d->nown--;
        d->lost[d->nlost++] = s;
    } else {
        b->shards[j] = b->shards[b->nshards - 1];
        d->takeover++;
    }
    b->nshards--;
}

/* Our own shards lost in a stall: asked for (their holder hands them back
 * at its next renewal, sql/037), then leased and run here again. */
static void
loop_regain(rag_daemon *d)
{
    rag_bot *b = &d->b;
    int got[RAG_BOT_MAX_SHARDS], n, i, j;
    rag_gw_thread *t;

    if (d->nlost == 0)
        return;
    rag_store_shards_want(b->db, b->worker_id, b->shard_count, d->lost,
                          d->nlost, b->lease_s);
    n = rag_store_shards_claim(b->db, b->worker_id, b->shard_count, d->lost,
                               d->nlost, b->lease_s, got);
    for (i = 0; i < n; i++) {
        t = thread_slot(d);
        if (t == NULL || rag_gw_thread_start(t, &d->tpl, got[i]) != 0) {
            rag_error("msg=\"cannot start the shard's gateway\" shard=%d",
                      got[i]);
            continue; /* not renewed: its lease runs out */
        }
        rag_warn("msg=\"shard handed back after a stall\" shard=%d/%d", got[i],
                 b->shard_count);
        for (j = 0; j < d->nlost && d->lost[j] != got[i]; j++)
            ;
        if (j < d->nlost)
            d->lost[j] = d->lost[--d->nlost];
        b->shards[b->nshards++] = b->shards[d->nown];
        b->shards[d->nown++] = got[i];
    }
}

/* The shards' leases (handing back, renewing, taking over) and the
 * deliveries in flight. A renewal is the fence: a shard it does not hold
 * any more (this process stalled past its lease and another took it) is
 * closed here; d->fresh_until says until when the leases surely hold. */
static void
loop_renew(rag_daemon *d)
{
    rag_bot *b = &d->b;
    int held[RAG_BOT_MAX_SHARDS], gone[RAG_BOT_MAX_SHARDS], n, ngone = 0, i, j;
    long t0 = rag_time_mono_ms();

    if (PQstatus(b->db) != CONNECTION_OK)
        return;
    loop_handback(d);
    n = rag_store_shards_claim(b->db, b->worker_id, b->shard_count, b->shards,
                               b->nshards, b->lease_s, held);
    if (n < 0)
        return; /* not known to hold: nothing handled meanwhile */
    for (i = 0; i < b->nshards; i++) {
        for (j = 0; j < n && held[j] != b->shards[i]; j++)
            ;
        if (j == n)
            gone[ngone++] = b->shards[i];
    }
    for (i = 0; i < ngone; i++)
        shard_lost(d, gone[i]);
    /* the database's lease ends lease_s after it was renewed, which was
     * after t0; a tenth is left for clock rates */
    d->fresh_until = t0 + b->lease_s * 900;
    loop_regain(d);
    loop_takeover(d);
    rag_outbox_renew(b); /* replies and deliveries */
}

void
rag_main_loop(rag_daemon *d)
{
    loop_timers t = {0, 0};

    while (!*d->stop && !d->br.gw_done) {
        int due = loop_db(d, loop_wait(d, &t));
        long now = rag_time_mono_ms();

        /* after a stall (SIGSTOP, a frozen VM) the leases may have run
         * out and the shards be another's: renewed first, and no event
         * handled nor anything delivered unless they surely hold */
        if (now >= t.next_renew || now >= d->fresh_until) {
            loop_renew(d);
            t.next_renew = now + d->b.lease_s * 1000 / 3;
        }
        if (rag_time_mono_ms() >= d->fresh_until) {
            t.next_poll = now + d->poll_ms; /* the events wait */
            continue;
        }
        if (rag_bridge_drain(&d->br, &d->b) > 0)
            due = 1; /* a dispatch may have produced work */
        if (now >= t.next_poll)
            due = 1;
        /* timers move on even while the database is away (no spinning) */
        if (loop_work(d, due))
            t.next_poll = rag_time_mono_ms() + d->poll_ms;
    }
}
