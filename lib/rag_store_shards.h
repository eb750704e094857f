/*
 * rag_store_shards — gateway shards shared by several rag-bot processes
 * on one Postgres (sql/035_bot_shards.sql). A process leases the shards
 * it runs; the outbox, deliveries and deferred-command claims
 * (rag_store_outbox, rag_store_interactions) take only rows of guilds
 * on shards their owner holds, so a guild's replies are delivered by
 * one process, never two. IDENTIFY buckets are shared the same way.
 *
 * Runs on the caller's connection (rag_db.h logs errors).
 */
#ifndef RAG_STORE_SHARDS_H
#define RAG_STORE_SHARDS_H

#include <libpq-fe.h>

/* Takes or renews owner's lease on shards ids[0..n) of count for
 * lease_s seconds: a shard another owner holds stays theirs until its
 * lease ends, and nothing is taken while another owner holds a live
 * lease under a different count. Returns how many of the n it holds
 * (their ids into held[], room for n, unless held is NULL), or -1. A
 * lease is only ever extended by its owner while it is live, or taken
 * once it ran out: the renewal is the fence (a process that stalled past
 * its lease learns here that the shard is another's). */
int rag_store_shards_claim(PGconn *db, const char *owner, int count,
                           const int *ids, int n, long lease_s, int *held);

/* Gives up owner's shards (a clean stop): their leases end now, so a
 * successor, or a process with spare capacity, takes them at once. */
int rag_store_shards_release(PGconn *db, const char *owner);

/* Takes over up to max shards of count whose owner's lease ran out (a
 * process that died or stopped and was not restarted), for lease_s
 * seconds: their ids into ids[], how many (0 when none), or -1. A shard
 * another process wants (rag_store_shards_want) is left to it. A shard
 * is taken by one process only (the row is locked and re-checked); the
 * claims of rag_store_outbox / rag_store_interactions then deliver its
 * guilds' work here, and nowhere else, while the lease is renewed. */
int rag_store_shards_takeover(PGconn *db, const char *owner, int count, int max,
                              long lease_s, int *ids);

/* owner waits for shards ids[0..n) of count that another process holds:
 * records that it wants them for lease_s seconds (renew while waiting).
 * Rows marked, or -1. */
int rag_store_shards_want(PGconn *db, const char *owner, int count,
                          const int *ids, int n, long lease_s);

/* Ends owner's lease on the shards of count it took over (not among its
 * own keep[0..nkeep)) that another process wants: their ids into ids[]
 * (at most max), how many, or -1. The caller stops
 * running them; the wanting process claims them next. */
int rag_store_shards_handback(PGconn *db, const char *owner, int count,
                              const int *keep, int nkeep, int *ids, int max);

/* One IDENTIFY per bucket per 5 s (5.5: the IDENTIFY still has to
 * reach Discord), across processes: 1 when bucket's slot was taken now,
 * 0 not yet, -1 error. */
int rag_store_shards_identify_slot(PGconn *db, const char *bucket);

#endif
