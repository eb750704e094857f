-- Community answers (owned by worker/community): solving or unsolving a
-- thread re-syncs its guild's community-<guild_id> collection through a
-- low-priority 'community' job (worker/community.c, rag_community_job).
--
-- The synced set is exactly what rag_community_sync selects: threads with
-- solved = true. The asker's (or a moderator's) ✅ is what sets solved
-- (bot/events.c); bystanders' votes alone only move the counters and are
-- not trusted for search (they still count for `rag-admin export`).
--
-- 'embed' stays allowed: nothing in the product enqueues it, but tests
-- (t/45: an unbuilt kind is dead-lettered) and bench/queue_bench.c use it
-- as a neutral kind, and old rows may hold it.
ALTER TABLE jobs DROP CONSTRAINT IF EXISTS jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check
    CHECK (kind IN ('answer', 'ingest', 'reindex', 'embed', 'community'));

-- One job per solve/unsolve event (the dedupe key carries the event's
-- time, so a replayed event is a no-op), unless a 'community' job for the
-- guild is still queued: that one reads the threads when it runs, so it
-- already covers this change. FOR UPDATE keeps a worker from claiming it
-- before this transaction commits (the claim skips locked rows and sees
-- the change afterwards); if a worker claimed it first, the row no longer
-- matches and a new job is enqueued.
CREATE FUNCTION rag_community_enqueue(p_guild text, p_thread text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_guild IS NULL OR p_guild !~ '^[0-9A-Za-z_-]{1,50}$' THEN
        RETURN;
    END IF;
    PERFORM 1 FROM jobs
     WHERE kind = 'community' AND state = 'queued'
       AND payload->>'guild' = p_guild
       FOR UPDATE;
    IF FOUND THEN
        RETURN;
    END IF;
    PERFORM rag_enqueue('community', jsonb_build_object('guild', p_guild),
                        'community:' || p_guild || ':' || p_thread || ':'
                        || extract(epoch FROM now())::text, 150);
END $$;

CREATE FUNCTION rag_threads_community() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed boolean;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.solved THEN
            PERFORM rag_community_enqueue(NEW.guild_id, NEW.thread_id);
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        IF OLD.solved THEN
            PERFORM rag_community_enqueue(OLD.guild_id, OLD.thread_id);
        END IF;
    ELSE
        -- what the synced document shows, or where it lives, changed
        changed := OLD.solved IS DISTINCT FROM NEW.solved
                   OR OLD.guild_id IS DISTINCT FROM NEW.guild_id
                   OR OLD.title IS DISTINCT FROM NEW.title
                   OR OLD.solved_by IS DISTINCT FROM NEW.solved_by;
        IF changed AND OLD.solved THEN    -- leaves (or changes in) OLD's
            PERFORM rag_community_enqueue(OLD.guild_id, OLD.thread_id);
        END IF;
        IF changed AND NEW.solved THEN    -- joins (or changes in) NEW's
            PERFORM rag_community_enqueue(NEW.guild_id, NEW.thread_id);
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER threads_community
    AFTER INSERT OR UPDATE OR DELETE ON threads
    FOR EACH ROW EXECUTE FUNCTION rag_threads_community();
