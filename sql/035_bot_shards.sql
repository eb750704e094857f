-- Sharding (issue 12). Several rag-bot processes on one Postgres, each
-- owning some of shard_count gateway shards: a shard is owned by one
-- live process at a time (a lease, renewed with the delivery leases),
-- and a process delivers only the outbox rows, deliveries and deferred
-- commands of the guilds its shards receive: Discord's
-- (guild_id >> 22) % shard_count (direct messages: shard 0).
CREATE TABLE bot_shards (
    shard_count int NOT NULL CHECK (shard_count > 0),
    shard_id    int NOT NULL CHECK (shard_id >= 0 AND shard_id < shard_count),
    owner       text NOT NULL,
    lease_until timestamptz NOT NULL,
    PRIMARY KEY (shard_count, shard_id)
);

-- IDENTIFY buckets across processes: one IDENTIFY per bucket
-- (shard_id % max_concurrency) per 5 seconds.
CREATE TABLE bot_identify (
    bucket  text PRIMARY KEY,
    next_at timestamptz NOT NULL DEFAULT '-infinity'
);

CREATE FUNCTION rag_guild_shard(p_guild text, p_count int) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_guild ~ '^[0-9]{1,20}$' AND p_count > 0
                THEN (floor(p_guild::numeric / 4194304) % p_count)::int
                ELSE 0 END
$$;

-- true when p_owner holds a live lease on the shard that receives p_guild
CREATE FUNCTION rag_shard_owned(p_owner text, p_guild text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM bot_shards s
                    WHERE s.owner = p_owner AND s.lease_until > now()
                      AND s.shard_id = rag_guild_shard(p_guild, s.shard_count))
$$;
