-- Shards taken over are handed back (issue 12). A process that took over
-- a dead process's shards (shard_takeover, rag_store_shards_takeover)
-- keeps them only until a process that lists them in its own `shards`
-- starts again: that one records that it wants them (renewed while it
-- waits), the holder ends its lease on them at its next renewal and
-- closes their gateway sessions, and the wanting process claims them.
-- While a want is live nobody else takes the shard over.
ALTER TABLE bot_shards ADD COLUMN wanted_by text,
                       ADD COLUMN wanted_until timestamptz;
